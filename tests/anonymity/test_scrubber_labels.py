"""The cadre is told, in words, about every kind the scrubber can mask."""

from __future__ import annotations

import pytest

from bot.anonymity.scrubber import KINDS
from bot.conversation.screens import masked_kind_name, masked_notice
from bot.i18n import make_i18n


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_kind_has_its_own_label(locale: str) -> None:
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale(locale):
        fallback = masked_kind_name("no-such-kind")
        labels = {kind: masked_kind_name(kind) for kind in KINDS}
    assert fallback not in labels.values()
    assert len(set(labels.values())) == len(KINDS)


def test_the_notice_names_a_masked_name_in_chinese() -> None:
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale("zh-CN"):
        notice = masked_notice(["phone", "person", "url"])
    assert "手机号" in notice
    assert "人名" in notice
    assert "链接" in notice
