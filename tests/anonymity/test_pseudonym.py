"""Pseudonyms: stable for one secret and day, unlinkable across days, secrets and purposes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.anonymity.pseudonym import Pseudonymizer

SECRET = b"s" * 32
USER_ID = 123456789


def test_stable_for_the_same_inputs() -> None:
    assert Pseudonymizer(SECRET).of("fsm", USER_ID) == Pseudonymizer(SECRET).of("fsm", USER_ID)


def test_is_hex_and_does_not_contain_the_id() -> None:
    value = Pseudonymizer(SECRET).of("fsm", USER_ID)
    assert len(value) == 64
    int(value, 16)
    assert str(USER_ID) not in value
    assert f"{USER_ID:x}" not in value


def test_daily_pseudonyms_are_stable_within_a_day_and_differ_across_days() -> None:
    pseudonymizer = Pseudonymizer(SECRET)
    day = date(2024, 11, 29)
    same_day = {pseudonymizer.daily("limit", day, USER_ID) for _ in range(3)}
    week = {pseudonymizer.daily("limit", day + timedelta(days=n), USER_ID) for n in range(7)}
    assert len(same_day) == 1
    assert len(week) == 7


def test_different_secrets_give_different_pseudonyms() -> None:
    day = date(2024, 11, 29)
    one, two = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)
    assert one.of("fsm", USER_ID) != two.of("fsm", USER_ID)
    assert one.daily("limit", day, USER_ID) != two.daily("limit", day, USER_ID)


def test_purposes_and_parts_are_separated_unambiguously() -> None:
    pseudonymizer = Pseudonymizer(SECRET)
    values = [
        pseudonymizer.of("fsm", USER_ID),
        pseudonymizer.of("subscriber", USER_ID),
        pseudonymizer.of("fsm", str(USER_ID)),
        pseudonymizer.of("fsm", 12, 3456789),
        pseudonymizer.of("fsm", 1234, 56789),
        pseudonymizer.of("fsm", "a", "bc"),
        pseudonymizer.of("fsm", "ab", "c"),
        pseudonymizer.of("fsm", None),
        pseudonymizer.of("fsm", "None"),
        pseudonymizer.of("fsm", True),
        pseudonymizer.of("fsm", 1),
        pseudonymizer.daily("fsm", date(2024, 1, 1)),
        pseudonymizer.of("fsm", date(2024, 1, 1)),
    ]
    assert len(set(values)) == len(values)


def test_unstable_objects_are_refused() -> None:
    with pytest.raises(TypeError):
        Pseudonymizer(SECRET).of("fsm", object())


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        Pseudonymizer(b"short")


def test_remembered_pseudonyms_are_the_computed_ones_and_keep_types_apart() -> None:
    remembering = Pseudonymizer(SECRET, memo_size=2)
    computing = Pseudonymizer(SECRET, memo_size=0)
    asked = [("fsm", 1), ("fsm", True), ("fsm", "1"), ("fsm", 1), ("fsm", True), ("x", 1)]
    for purpose, part in asked * 2:  # hits, misses and evictions alike
        assert remembering.of(purpose, part) == computing.of(purpose, part)
    assert len({remembering.of("fsm", part) for part in (1, True, "1")}) == 3
