"""The page as a cheap phone in WeChat gets it: small, self-contained, old-WebView JavaScript.

The syntax check is a list of what came after ES2017 and what a 2019 Android WebView (Chrome
74) lacks; strings, comments and regular-expression literals are blanked first so that only
code is searched.
"""

from __future__ import annotations

import re

import httpx
import pytest

from bot.web.page import STATIC_DIR

PAGE_BUDGET = 150 * 1024  # bytes, uncompressed: page, script and style together
ASSETS = ("chat.js", "chat.css")

AFTER_ES2017 = {
    "optional chaining": re.compile(r"\?\.(?!\d)"),
    "nullish coalescing": re.compile(r"\?\?"),
    "optional catch binding": re.compile(r"\bcatch\s*\{"),
    "async iteration": re.compile(r"\bfor\s+await\b"),
    "object spread": re.compile(r"\{\s*\.\.\."),
    "numeric separators": re.compile(r"\b\d+_\d"),
    "classes (and with them class fields)": re.compile(r"\bclass\s+\w+"),
    "ES2019+ built-ins": re.compile(
        r"\.(?:flat|flatMap|matchAll|replaceAll|at)\(|Object\.fromEntries|Promise\.allSettled"
        r"|Promise\.any|globalThis|structuredClone"
    ),
    "modules": re.compile(r"^\s*(?:import|export)\b", re.MULTILINE),
}
REGEX_AFTER_ES2017 = re.compile(r"\(\?<[=!a-zA-Z]|/[a-z]*s[a-z]*$")


def _code_only(source: str) -> tuple[str, list[str]]:
    """The script with strings, template literals, comments and regex literals blanked;
    also the regex literals themselves, to check their own syntax."""
    out: list[str] = []
    regexes: list[str] = []
    i, n = 0, len(source)
    last_significant = ""
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif c in "'\"`":
            j = i + 1
            while j < n and source[j] != c:
                j += 2 if source[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
            last_significant = c
        elif c == "/" and (last_significant in "(,=:[!&|?{};+-*%<>~^" or last_significant == ""):
            j, in_class = i + 1, False
            while j < n and (in_class or source[j] != "/"):
                if source[j] == "\\":
                    j += 1
                elif source[j] == "[":
                    in_class = True
                elif source[j] == "]":
                    in_class = False
                j += 1
            k = j + 1
            while k < n and source[k].isalpha():
                k += 1
            regexes.append(source[i:k])
            out.append("/r/")
            i = k
            last_significant = "r"
        else:
            out.append(c)
            if not c.isspace():
                last_significant = c
            i += 1
    return "".join(out), regexes


def test_the_script_uses_nothing_newer_than_es2017() -> None:
    code, regexes = _code_only((STATIC_DIR / "chat.js").read_text(encoding="utf-8"))
    found = {name for name, pattern in AFTER_ES2017.items() if pattern.search(code)}
    assert found == set()
    assert [r for r in regexes if REGEX_AFTER_ES2017.search(r)] == []


@pytest.mark.parametrize(
    ("sample", "feature"),
    [
        ("var a = b?.c;", "optional chaining"),
        ("var a = b ?? c;", "nullish coalescing"),
        ("try { x(); } catch { y(); }", "optional catch binding"),
        ("var o = { ...p };", "object spread"),
        ("var big = 1_000;", "numeric separators"),
        ("var f = list.flat();", "ES2019+ built-ins"),
    ],
)
def test_the_syntax_check_catches_what_it_names(sample: str, feature: str) -> None:
    code, _regexes = _code_only(sample)
    assert AFTER_ES2017[feature].search(code)


def test_the_syntax_check_ignores_strings_and_comments() -> None:
    code, _regexes = _code_only("var s = 'a?.b ?? c'; // x?.y\n/* { ...z } */ var t = 1;")
    assert not any(pattern.search(code) for pattern in AFTER_ES2017.values())


def test_nothing_is_loaded_from_outside() -> None:
    for name in ("page.html", *ASSETS):
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE), name
        assert "@import" not in text and "@font-face" not in text, name


async def test_the_served_page_with_its_files_weighs_under_150_kb(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/", headers={"Accept-Encoding": "identity"})
    total = len(page.content)
    for name in ASSETS:
        asset = await http.get(f"/static/{name}", headers={"Accept-Encoding": "identity"})
        assert asset.status_code == 200
        total += len(asset.content)
    assert total <= PAGE_BUDGET
    loaded = re.findall(r'<(?:link|script)[^>]*(?:src|href)="([^"]+)"', page.text)
    assert loaded == ["data:,", "/static/chat.css", "/static/chat.js"]  # data:, no favicon


async def test_the_files_go_compressed_to_a_browser_that_accepts_it(
    http: httpx.AsyncClient,
) -> None:
    plain = await http.get("/static/chat.js", headers={"Accept-Encoding": "identity"})
    packed = await http.get("/static/chat.js", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content  # httpx unpacks it
    assert int(packed.headers["content-length"]) < len(plain.content) / 2
