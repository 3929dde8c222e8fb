"""The page shell: one HTML file with the chrome's strings and the session's mode in a data
attribute (no inline script may run under the page's Content-Security-Policy)."""

from __future__ import annotations

import json
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

from bot.i18n.text import LANGUAGE_NAMES, SUPPORTED_LOCALES, use_locale
from bot.i18n.text import gettext as _

STATIC_DIR = Path(__file__).parent / "static"


def chrome_strings() -> dict[str, str]:
    """The page's own words, translated in the current locale."""
    return {
        "title": _("Qingfeng"),
        "connecting": _("Setting up a secure connection…"),
        "send": _("Send"),
        "placeholder": _("Type here…"),
        "later": _("Continue later"),
        "resume_link": _("Continue with a code"),
        "resume_prompt": _("Please enter your continue code"),
        "network_error": _("The network is poor. Please try again in a moment."),
        "retry": _("Try again"),
        "ok": _("OK"),
        "too_long": _("Too long"),
        "followup_title": _("Read replies"),
        "survey_link": _("Answer the questionnaire"),
        "start_over": _("Start over"),
        "cancel": _("Cancel"),
        "needs_js": _("This page needs JavaScript to be turned on."),
    }


@cache
def _template() -> str:
    return (STATIC_DIR / "page.html").read_text(encoding="utf-8")


def page_html(
    *,
    locale: str,
    mode: str,
    campaign: str | None,
    challenge: dict[str, Any] | None = None,
    first: list[dict[str, Any]] | None = None,
) -> str:
    """The shell; `challenge` saves the page a round trip before its session, `first` (the
    new session's first screen) lets the cadre read and tap before any request."""
    other = next(code for code in SUPPORTED_LOCALES if code != locale)
    with use_locale(locale):
        strings = chrome_strings()
    config = {
        "mode": mode,
        "campaign": campaign,
        "locale": locale,
        "strings": strings,
        "otherLocale": {"code": other, "name": LANGUAGE_NAMES[other]},
        "challenge": challenge,
        "first": first,
    }
    encoded = escape(json.dumps(config, ensure_ascii=False, separators=(",", ":")), quote=True)
    return (
        _template()
        .replace("{{lang}}", escape(locale, quote=True))
        .replace("{{title}}", escape(strings["title"]))
        .replace("{{config}}", encoded)
        .replace("{{needs_js}}", escape(strings["needs_js"]))
    )
