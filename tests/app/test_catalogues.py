"""Every user-facing string is translated: a catalogue that misses one fails here."""

from __future__ import annotations

import pytest

from bot.i18n import SUPPORTED_LOCALES, compile_catalogues, make_i18n
from bot.i18n.catalogue import extract_source_messages, missing_translations


def test_the_source_has_strings_to_translate() -> None:
    messages = extract_source_messages()
    assert len(messages) > 50
    assert "📨 Submit" in messages


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_no_catalogue_misses_a_string(locale: str) -> None:
    assert missing_translations(locale) == []


def test_placeholders_survive_translation() -> None:
    """A translation that drops or renames a {placeholder} would crash .format() at run time."""
    import re

    from babel.messages.pofile import read_po

    from bot.i18n import catalogue_path

    with catalogue_path("zh-CN").open("rb") as handle:
        catalog = read_po(handle, locale="zh_CN")
    field = re.compile(r"\{(\w*)\}")
    for message in catalog:
        if not message.id or not message.string:
            continue
        assert set(field.findall(str(message.id))) == set(field.findall(str(message.string))), (
            message.id
        )


def test_compiled_catalogues_translate() -> None:
    compile_catalogues(force=True)
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale("zh-CN"):
        assert i18n.gettext("📨 Submit") == "📨 提交"
    with i18n.context(), i18n.use_locale("en"):
        assert i18n.gettext("📨 Submit") == "📨 Submit"
