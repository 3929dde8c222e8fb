from __future__ import annotations

from collections.abc import Callable

from bot.harness.web_client import WebCadre


async def test_a_web_cadre_reaches_the_first_question(new_cadre: Callable[..., WebCadre]) -> None:
    cadre = new_cadre()
    await cadre.open()
    await cadre.act({"type": "start"})
    print(cadre.chat_text())
    await cadre.press_act("go")
    print(cadre.chat_text())
    assert cadre.current().screen["progress"] is not None
