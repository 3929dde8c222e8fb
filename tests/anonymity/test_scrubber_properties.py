"""Properties of the scrubber over generated text (hypothesis)."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.anonymity.scrubber import scrub

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# Text that is dense in the characters detectors care about, plus anything at all.
TRICKY = st.lists(
    st.one_of(
        st.sampled_from(
            [
                *"0123456789０１２３４５６７８９ -－+@.xX_()（）:：",
                *["QQ", "微信", "wx", "86", "138", "010", "@qq.com", "年", "，", "京A", "号"],
            ]
        ),
        st.characters(codec="utf-8"),
    ),
    max_size=40,
).map("".join)

# Filler that cannot itself contain a number, so whatever digits the output holds came from
# the secret we planted.
FILLER = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.sampled_from(list("，。！？、 abcdefg：")),
    ),
    max_size=12,
)
SEPARATORS = st.sampled_from(["", " ", "-", " - ", "－"])


def _oracle_id_check(first17: str) -> str:
    """ISO 7064 MOD 11-2, written independently of the implementation under test."""
    remainder = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17)) % 11
    return "0123456789X"[(12 - remainder) % 11]


def _oracle_luhn(number: str) -> bool:
    digits = [int(d) for d in number]
    odd = digits[-1::-2]
    even = [sum(divmod(2 * d, 10)) for d in digits[-2::-2]]
    return (sum(odd) + sum(even)) % 10 == 0


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)


def _digits_of(output: str) -> str:
    """The output's characters with separators removed, NFKC-normalised."""
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", output))


@st.composite
def mobiles(draw: st.DrawFn) -> tuple[str, str]:
    digits = (
        "1" + draw(st.sampled_from("3456789")) + draw(st.text("0123456789", min_size=9, max_size=9))
    )
    sep = draw(SEPARATORS)
    written = draw(
        st.sampled_from(
            [
                digits,
                f"{digits[:3]}{sep}{digits[3:7]}{sep}{digits[7:]}",
                f"{digits[:3]}{sep}{digits[3:]}",
            ]
        )
    )
    written = draw(st.sampled_from(["", "+86 ", "0086", "+86-"])) + written
    if draw(st.booleans()):
        written = _full_width(written)
    return digits, written


@st.composite
def id_cards(draw: st.DrawFn, *, valid: bool = True, grouped: bool = True) -> tuple[str, str]:
    first17 = draw(st.sampled_from("123456789")) + draw(
        st.text("0123456789", min_size=16, max_size=16)
    )
    check = _oracle_id_check(first17)
    if not valid:
        check = draw(st.sampled_from([c for c in "0123456789X" if c != check]))
    number = first17 + check
    written = number
    if grouped and draw(st.booleans()):
        written = f"{number[:6]} {number[6:14]} {number[14:]}"
    if draw(st.booleans()):
        written = _full_width(written)
    if draw(st.booleans()):
        written = written.lower()
    return number, written


@PROPERTY_SETTINGS
@given(TRICKY)
def test_scrubbing_is_idempotent(text: str) -> None:
    once = scrub(text).text
    assert scrub(once).text == once
    assert scrub(once).masked == ()


@PROPERTY_SETTINGS
@given(TRICKY)
def test_reports_a_kind_exactly_when_it_changed_something(text: str) -> None:
    result = scrub(text)
    assert bool(result.masked) == (result.text != text)


@PROPERTY_SETTINGS
@given(FILLER, mobiles(), FILLER)
def test_no_planted_mobile_number_survives(
    before: str, mobile: tuple[str, str], after: str
) -> None:
    digits, written = mobile
    result = scrub(f"{before}{written}{after}")
    assert digits not in _digits_of(result.text)
    assert "phone" in result.masked


@PROPERTY_SETTINGS
@given(FILLER, id_cards(valid=True), FILLER)
def test_no_planted_id_card_number_survives(before: str, card: tuple[str, str], after: str) -> None:
    number, written = card
    result = scrub(f"{before}{written}{after}")
    assert number[:17] not in _digits_of(result.text)
    assert result.masked in (("id_card",), ("bank_card",))


@PROPERTY_SETTINGS
@given(FILLER, id_cards(valid=False, grouped=False), FILLER)
def test_id_numbers_with_a_wrong_check_digit_stay(
    before: str, card: tuple[str, str], after: str
) -> None:
    number, written = card
    assume(not number[-1].isdigit() or not _oracle_luhn(number))  # else it is a card number
    text = f"{before}{written}{after}"
    assert scrub(text).text == text


@PROPERTY_SETTINGS
@given(id_cards(valid=False))
def test_a_wrong_check_digit_is_never_reported_as_an_id_card(card: tuple[str, str]) -> None:
    """Written in groups, part of it may still read as another kind (a phone number, say)."""
    assert "id_card" not in scrub(card[1]).masked


@PROPERTY_SETTINGS
@given(FILLER)
def test_text_without_numbers_or_addresses_is_untouched(text: str) -> None:
    assert scrub(text).text == text
