"""A long case read page by page through the emulator, which refuses texts over 4096
characters: every reply of a long thread is reachable, every page has the action buttons."""

from __future__ import annotations

from bot.cases.callbacks import CaseAct
from bot.harness.offline import OfflineBot

from .conftest import ADMIN_ID
from .flow import case_buttons, open_newest_case, press_case, staff_text_action, submit_report

ACTIONS = {CaseAct.REPLY, CaseAct.STATUS_MENU, CaseAct.LABEL, CaseAct.NOTE, CaseAct.LIST}


async def test_a_long_thread_is_read_page_by_page_through_the_emulator(
    staffed: OfflineBot,
) -> None:
    cadre = staffed.new_user(user_id=781_001)
    admin = staffed.new_user(user_id=ADMIN_ID, language_code="en")
    await submit_report(cadre)
    ref, shown = await open_newest_case(admin)
    replies = [f"第{i}条追问：" + "请详细说明当时的情况" * 190 for i in range(4)]
    for reply in replies:
        shown = await staff_text_action(admin, shown, CaseAct.REPLY, ref, reply)
    shown = await staff_text_action(admin, shown, CaseAct.NOTE, ref, "备注" * 900)
    _, shown = await open_newest_case(admin)
    texts = [shown.text or ""]
    while True:
        assert {d.a for d in case_buttons(shown)} >= ACTIONS
        forward = [d for d in case_buttons(shown) if d.a == CaseAct.VIEW and d.p > 0]
        following = [d for d in forward if d.p == len(texts)]
        if not following:
            break
        shown = await press_case(admin, shown, following[0])
        texts.append(shown.text or "")
    assert len(texts) > 2
    bodies = []
    for text in texts:
        lines = text.split("\n")
        page_line = next(i for i, line in enumerate(lines) if line.startswith("Page "))
        bodies.append("".join(lines[page_line + 1 :]))
    flat = "".join(bodies).replace("↳ ", "")
    for reply in replies:
        assert reply in flat
    # Every case message the emulator accepted was within the limit.
    for method in ("sendMessage", "editMessageText"):
        assert not staffed.emulator.calls.of(method, status=400)
