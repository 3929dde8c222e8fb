"""Properties of the scrubber over generated text (hypothesis)."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.anonymity.scrubber import scrub, strip_invisible

# Derandomized: the same examples on every run, so CI never meets a new one by chance.
PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

INVISIBLE = [
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\u00ad",
    "\ufeff",
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202e",
    "\u2066",
    "\u2069",
]
CHINESE_NUMERALS = {
    "0": "〇零",
    "1": "一壹幺",
    "2": "二贰",
    "3": "三叁",
    "4": "四肆",
    "5": "五伍",
    "6": "六陆",
    "7": "七柒",
    "8": "八捌",
    "9": "九玖",
}
NUMERAL_CHARS = frozenset("".join(CHINESE_NUMERALS.values()) + "○◯貳參叄陸")

# Text that is dense in the characters detectors care about, plus anything at all.
TRICKY = st.lists(
    st.one_of(
        st.sampled_from(
            [
                *"0123456789０１２３４５６７８９ -－+@.xX_()（）:：/。·\n",
                *["QQ", "微信", "wx", "86", "138", "010", "@qq.com", "年", "，", "京A", "号"],
                *["一", "三", "八", "零", "壹", "幺", "王", "局长", "副主任", "总", "[at]", " at "],
                *["dot", "点", "com", "http://", "www.", "t.me/", "粤b ", "加V", *INVISIBLE],
            ]
        ),
        st.characters(codec="utf-8"),
    ),
    max_size=40,
).map("".join)

# Filler that cannot itself contain a number (no Chinese numerals either), so whatever digits
# the output holds came from the secret we planted.
FILLER = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF).filter(
            lambda c: c not in NUMERAL_CHARS
        ),
        st.sampled_from(list("，。！？、 abcdefg：")),
    ),
    max_size=12,
).filter(
    lambda filler: scrub(filler).text == filler  # filler holds nothing to mask of its own
)
SEPARATORS = st.sampled_from(["", " ", "-", " - ", "－", "  ", ".", "/", "_", "\n", "·", "．"])

# Pieces of ordinary answers that must never be masked, however they are combined.
ORDINARY = st.sampled_from(
    [
        "2024年3月5日",
        "2024-03-05",
        "2024/03/05",
        "上午09:30",
        "3000元",
        "￥1,200",
        "85.5%",
        "开了12次会",
        "〔2024〕12号",
        "[2024]12号",
        "某发〔2023〕5号",
        "局长说",
        "书记带头",
        "副主任们",
        "新任局长",
        "填表太多",
        "每周总结",
        "一天填了五张表",
        "二〇二四年",
        "第3季度",
        "微信群里打卡",
        "QQ群也发",
        "共1200人次",
    ]
)


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


def _as_read(output: str) -> str:
    """The output's digits as a reader would take them: separators dropped, NFKC-normalised,
    Chinese numerals read as digits."""
    folded = unicodedata.normalize("NFKC", output)
    for digit, numerals in CHINESE_NUMERALS.items():
        for numeral in numerals:
            folded = folded.replace(numeral, digit)
    return re.sub(r"[\s\-./_·]", "", folded)


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
    written = draw(st.sampled_from(["", "+86 ", "0086", "+86-", "0086 "])) + written
    if draw(st.booleans()):
        written = _full_width(written)
    return digits, written


@st.composite
def numeral_mobiles(draw: st.DrawFn) -> tuple[str, str]:
    """A mobile number with each digit written as an Arabic digit or a Chinese numeral."""
    digits, _ = draw(mobiles())
    written = "".join(
        draw(st.sampled_from([d, *CHINESE_NUMERALS[d]])) if d.isdigit() else d for d in digits
    )
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
        sep = draw(SEPARATORS)
        written = f"{number[:6]}{sep}{number[6:14]}{sep}{number[14:]}"
    if draw(st.booleans()):
        written = _full_width(written)
    if draw(st.booleans()):
        written = written.lower()
    return number, written


@st.composite
def identifiers(draw: st.DrawFn) -> str:
    """One identifier of any kind, as a cadre might type it."""
    return draw(
        st.one_of(
            mobiles().map(lambda pair: pair[1]),
            id_cards().map(lambda pair: pair[1]),
            st.sampled_from(
                [
                    "zhangsan@163.com",
                    "zhangsan[at]163.com",
                    "QQ：123456789",
                    "微信：wang_li88",
                    "https://t.me/zhangsan88",
                    "粤b 12345",
                    "王局长",
                    "010-62345678",
                    "4111 1111 1111 1111",
                ]
            ),
        )
    )


@st.composite
def sprinkled(draw: st.DrawFn, text: str) -> str:
    """`text` with invisible characters inserted at random places."""
    pieces: list[str] = []
    for char in text:
        pieces.append(char)
        pieces.append("".join(draw(st.lists(st.sampled_from(INVISIBLE), max_size=2))))
    return draw(st.lists(st.sampled_from(INVISIBLE), max_size=2).map("".join)) + "".join(pieces)


@PROPERTY_SETTINGS
@given(TRICKY)
def test_scrubbing_is_idempotent(text: str) -> None:
    once = scrub(text).text
    assert scrub(once).text == once
    assert scrub(once).masked == ()


@PROPERTY_SETTINGS
@given(TRICKY)
def test_reports_a_kind_exactly_when_it_masked_something(text: str) -> None:
    result = scrub(text)
    assert bool(result.masked) == (result.text != strip_invisible(text))


@PROPERTY_SETTINGS
@given(TRICKY)
def test_no_invisible_character_is_stored(text: str) -> None:
    stored = scrub(text).text
    for invisible in INVISIBLE:
        if invisible == "\u200d":
            continue  # kept only between two emoji, which TRICKY may produce
        assert invisible not in stored


@PROPERTY_SETTINGS
@given(FILLER, mobiles(), FILLER)
def test_no_planted_mobile_number_survives(
    before: str, mobile: tuple[str, str], after: str
) -> None:
    digits, written = mobile
    result = scrub(f"{before}{written}{after}")
    assert digits not in _as_read(result.text)
    assert "phone" in result.masked


@PROPERTY_SETTINGS
@given(FILLER, numeral_mobiles(), FILLER)
def test_no_mobile_number_in_chinese_numerals_survives(
    before: str, mobile: tuple[str, str], after: str
) -> None:
    digits, written = mobile
    result = scrub(f"{before}{written}{after}")
    assert digits not in _as_read(result.text)
    assert "phone" in result.masked


@PROPERTY_SETTINGS
@given(FILLER, id_cards(valid=True), FILLER)
def test_no_planted_id_card_number_survives(before: str, card: tuple[str, str], after: str) -> None:
    number, written = card
    result = scrub(f"{before}{written}{after}")
    assert number[:17] not in _as_read(result.text)
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
@given(st.data(), FILLER, identifiers(), FILLER)
def test_invisible_characters_never_hide_an_identifier(
    data: st.DataObject, before: str, identifier: str, after: str
) -> None:
    plain = scrub(f"{before}，{identifier}，{after}")
    hidden = scrub(f"{before}，{data.draw(sprinkled(identifier))}，{after}")
    assert plain.masked
    assert hidden == plain


@PROPERTY_SETTINGS
@given(FILLER)
def test_text_without_numbers_or_addresses_is_untouched(text: str) -> None:
    assert scrub(text).text == text


@PROPERTY_SETTINGS
@given(st.lists(ORDINARY, min_size=1, max_size=8), st.sampled_from(["，", "。", " ", "\n", "；"]))
def test_ordinary_answers_are_untouched(pieces: list[str], joint: str) -> None:
    text = joint.join(pieces)
    result = scrub(text)
    assert result.text == text
    assert result.masked == ()


ADVERSARIAL_NOISE = [
    "1 " * 2000,
    "1-" * 2000,
    "12 . " * 800,
    "0" * 4000,
    "1 2-3.4/5_6\n7·8。9 0" * 200,
    "一 二 三 " * 700,
    "a." * 2000,
    "a at " * 800,
    "QQ " * 1300,
    "王王局局长长" * 600,
]


def test_long_adversarial_inputs_finish_and_still_mask_what_follows() -> None:
    """Thousands of digits and separators (catastrophic backtracking would never return)."""
    for noise in ADVERSARIAL_NOISE:
        result = scrub(noise + "，手机13800138000")
        assert result.text.endswith("，手机[手机号]")
        assert "phone" in result.masked
        assert scrub(result.text).text == result.text


def test_long_inputs_of_separators_alone_are_kept() -> None:
    noise = " - . / _ \n" * 500
    assert scrub(noise).text == noise
    email_noise = "a" * 4000 + "@"
    assert scrub(email_noise).text == email_noise
    url_noise = "http://" + "a/" * 2000
    assert scrub(url_noise).text == "[链接]"
