"""Receipt codes: format, entropy, forgiving normalisation, keyed hashing, detection in text."""

from __future__ import annotations

import math
import re

import pytest

from bot.anonymity.receipt import (
    ALPHABET,
    contains_receipt,
    new_receipt_code,
    normalize_receipt,
    receipt_hash,
)

CODE = "7KQ4-M2XD-9TRW-PB3H-C6NE"
SECRET = b"p" * 32
FORMAT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}$")


def test_codes_have_the_grouped_crockford_format() -> None:
    for _ in range(200):
        code = new_receipt_code()
        assert FORMAT.fullmatch(code), code
        assert normalize_receipt(code) == code


def test_codes_carry_at_least_80_bits() -> None:
    code = new_receipt_code()
    symbols = len(code.replace("-", ""))
    assert len(ALPHABET) == 32 == len(set(ALPHABET))
    assert symbols * math.log2(len(ALPHABET)) >= 99  # 100 bits, a little less after filtering


def test_codes_are_unique_and_every_symbol_appears_in_every_position() -> None:
    """With 3000 codes each symbol is expected ~94 times per position; missing one would mean
    a biased generator (the chance of a false alarm is below 1e-40)."""
    codes = [new_receipt_code().replace("-", "") for _ in range(3000)]
    assert len(set(codes)) == len(codes)
    for position in range(20):
        assert {code[position] for code in codes} == set(ALPHABET)


@pytest.mark.parametrize(
    "typed",
    [
        CODE,
        CODE.lower(),
        CODE.replace("-", ""),
        CODE.replace("-", " "),
        " 7kq4 m2xd-9trw  pb3h c6ne ",
        "７ＫＱ４－Ｍ２ＸＤ－９ＴＲＷ－ＰＢ３Ｈ－Ｃ６ＮＥ",  # full-width
        "7KQ4—M2XD—9TRW—PB3H—C6NE",  # em dashes
    ],
)
def test_normalisation_tolerates_how_people_type(typed: str) -> None:
    assert normalize_receipt(typed) == CODE


def test_confusable_letters_read_as_digits() -> None:
    assert normalize_receipt("O1I0-LLLL-0000-1111-2222") == "0110-1111-0000-1111-2222"


@pytest.mark.parametrize(
    "text",
    ["", "hello", CODE[:-1], CODE + "7", "7KQ4-M2XD-9TRW-PB3H-C6NU", "回执码 " + CODE, "7KQ4-M2XD"],
)
def test_non_codes_normalise_to_none(text: str) -> None:
    assert normalize_receipt(text) is None


def test_hash_is_keyed_stable_and_hides_the_code() -> None:
    digest = receipt_hash(CODE, SECRET)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert receipt_hash(CODE.lower().replace("-", " "), SECRET) == digest
    assert receipt_hash(CODE, b"q" * 32) != digest
    assert receipt_hash(new_receipt_code(), SECRET) != digest
    assert CODE.replace("-", "").lower() not in digest


def test_hashing_a_non_code_is_an_error() -> None:
    with pytest.raises(ValueError):
        receipt_hash("not a code", SECRET)


@pytest.mark.parametrize(
    "text",
    [
        CODE,
        f"我的回执码是{CODE}，请查收",
        f"code: {CODE.lower()}",
        CODE.replace("-", ""),
        f"（{CODE.replace('-', ' ')}）",
        "７ＫＱ４－Ｍ２ＸＤ－９ＴＲＷ－ＰＢ３Ｈ－Ｃ６ＮＥ",
    ],
)
def test_codes_pasted_into_text_are_found(text: str) -> None:
    assert contains_receipt(text)


@pytest.mark.parametrize(
    "text",
    [
        "每周填表三次，开会两次",
        "INTERNATIONALIZATION",  # 20 letters, no digits: a word, not a code
        "电话13800138000，身份证11010519491231002X",
        "ABCD-EFGH",
        "https://example.com/abcdefghijklmnopqrstuvwxyz",
        CODE + "X7",  # part of a longer token
    ],
)
def test_ordinary_text_is_not_taken_for_a_code(text: str) -> None:
    assert not contains_receipt(text)


def test_every_generated_code_is_detected_when_pasted_ungrouped() -> None:
    for _ in range(500):
        code = new_receipt_code()
        assert contains_receipt(f"答：{code.replace('-', '').lower()}。")
