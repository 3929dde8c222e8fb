"""The web channel's pieces on their own, on injected clocks: the proof of work, the limits
that need no identity, the rendering of screens into runs, and sessions and resume codes."""

from __future__ import annotations

import re
import sys
from datetime import date, timedelta
from typing import Any

import pytest
from aiogram.fsm.storage.memory import MemoryStorage

from bot.anonymity.pseudonym import Pseudonymizer
from bot.anonymity.receipt import ALPHABET
from bot.web.limits import ActionRate, AddressLimiter
from bot.web.proof_of_work import CHALLENGE_LIFETIME, ProofOfWork, solve
from bot.web.render import runs
from bot.web.sessions import (
    TOKEN_BYTES,
    WebSessions,
    new_resume_code,
    new_token,
    normalize_resume_code,
)

T0 = 1_800_000_000.0  # a fixed wall-clock moment (2027) for the injected clocks


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- proof of work ----------------------------------------------------------------------------


def _solved(proof: ProofOfWork) -> dict[str, Any]:
    return solve(proof.challenge())


def test_a_solved_challenge_is_accepted_once() -> None:
    proof = ProofOfWork(200, now=Clock())
    solution = _solved(proof)
    assert proof.accept(solution)
    assert not proof.accept(solution), "a solution must not open a second session"
    assert not proof.accept(dict(solution)), "nor a copy of it"
    assert proof.accept(_solved(proof)), "a new challenge is still accepted"


def test_a_challenge_expires_after_its_lifetime() -> None:
    clock = Clock()
    proof = ProofOfWork(200, now=clock)
    late, in_time = _solved(proof), _solved(proof)
    clock.advance(CHALLENGE_LIFETIME.total_seconds() - 1)
    assert proof.accept(in_time)
    clock.advance(2)
    assert not proof.accept(late)


def test_a_used_challenge_stays_refused_while_it_could_still_be_valid() -> None:
    clock = Clock()
    proof = ProofOfWork(200, now=clock)
    solution = _solved(proof)
    assert proof.accept(solution)
    clock.advance(CHALLENGE_LIFETIME.total_seconds() / 2)
    proof.accept(_solved(proof))  # another acceptance, which sweeps the expired ones
    assert not proof.accept(solution)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("number", "wrong"),
        ("signature", "0" * 64),
        ("signature", "tamper"),
        ("challenge", "0" * 64),
        ("salt", "tampered"),
        ("salt", "expires"),
        ("algorithm", "SHA-1"),
    ],
)
def test_a_tampered_solution_is_refused(field: str, value: str) -> None:
    proof = ProofOfWork(200, now=Clock())
    solution = _solved(proof)
    if field == "number":
        forged: object = (solution["number"] + 1) % 201
    elif value == "tamper":
        forged = ("1" if solution["signature"][0] != "1" else "2") + solution["signature"][1:]
    elif value == "tampered":
        forged = "0" + solution["salt"]
    elif value == "expires":  # push the expiry the salt carries a day later
        forged = re.sub(
            r"expires=(\d+)", lambda m: f"expires={int(m[1]) + 86400}", solution["salt"]
        )
        assert forged != solution["salt"]
    else:
        forged = value
    assert not proof.accept({**solution, field: forged})
    assert proof.accept(solution), "the untouched solution is still good"


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "solution",
        {},
        {"number": 1},
    ],
)
def test_what_is_not_a_solution_is_refused(payload: object) -> None:
    assert not ProofOfWork(200, now=Clock()).accept(payload)


def test_a_solution_with_a_missing_or_odd_field_is_refused() -> None:
    proof = ProofOfWork(200, now=Clock())
    solution = _solved(proof)
    for field in solution:
        assert not proof.accept({k: v for k, v in solution.items() if k != field})
    assert not proof.accept({**solution, "number": True})
    assert not proof.accept({**solution, "number": str(solution["number"])})
    assert not proof.accept({**solution, "number": -1})
    assert not proof.accept({**solution, "number": 201})
    assert not proof.accept({**solution, "salt": 7})


def test_a_challenge_of_another_key_is_refused() -> None:
    ours = ProofOfWork(200, key=b"k" * 32, now=Clock())
    theirs = ProofOfWork(200, key=b"x" * 32, now=Clock())
    assert not ours.accept(_solved(theirs))


def test_a_challenge_says_what_the_page_must_solve() -> None:
    challenge = ProofOfWork(300, now=Clock()).challenge()
    assert challenge["algorithm"] == "SHA-256"
    assert challenge["maxNumber"] == 300
    assert re.fullmatch(r"[0-9a-f]{64}", challenge["challenge"])
    assert re.fullmatch(r"[0-9a-f]{64}", challenge["signature"])
    expiry = re.search(r"expires=(\d+)", challenge["salt"])
    assert expiry is not None
    assert int(expiry[1]) == int(T0 + CHALLENGE_LIFETIME.total_seconds())


# --- the rate of a session's actions ----------------------------------------------------------


def test_a_session_gets_a_burst_then_waits_for_the_bucket_to_refill() -> None:
    clock = Clock()
    rate = ActionRate(60, now=clock)  # one a second, bursts of 15
    assert rate.burst == 15
    assert all(rate.retry_after("s") == 0 for _ in range(15))
    wait = rate.retry_after("s")
    assert wait == pytest.approx(1.0)
    assert rate.retry_after("other") == 0, "another session has its own bucket"
    clock.advance(0.5)
    assert rate.retry_after("s") == pytest.approx(0.5)
    clock.advance(0.5)
    assert rate.retry_after("s") == 0
    assert rate.retry_after("s") > 0
    clock.advance(3600)  # a long pause refills to the burst, no further
    assert sum(rate.retry_after("s") == 0 for _ in range(20)) == 15


def test_a_slow_rate_still_allows_a_small_burst() -> None:
    clock = Clock()
    rate = ActionRate(1, now=clock)
    assert sum(rate.retry_after("s") == 0 for _ in range(10)) == 5
    assert rate.retry_after("s") == pytest.approx(60.0)
    clock.advance(60)
    assert rate.retry_after("s") == 0


def test_a_refused_action_is_not_counted() -> None:
    clock = Clock()
    rate = ActionRate(60, now=clock)
    for _ in range(15):
        rate.retry_after("s")
    for _ in range(100):  # a flood while refused does not push the wait further
        assert rate.retry_after("s") == pytest.approx(1.0)
    clock.advance(1)
    assert rate.retry_after("s") == 0


def test_eviction_drops_only_the_buckets_that_have_refilled() -> None:
    clock = Clock()
    rate = ActionRate(60, now=clock, size=2)  # full again 15 s after the last action
    rate.retry_after("idle")
    clock.advance(10)
    for _ in range(15):
        rate.retry_after("busy")
    clock.advance(5)
    rate.retry_after("new")  # the table is full: "idle" has refilled and goes, "busy" stays
    assert sum(rate.retry_after("busy") == 0 for _ in range(20)) == 5


# --- new sessions per address -----------------------------------------------------------------


def test_new_sessions_per_address_are_counted_per_clock_hour() -> None:
    clock = Clock(T0 - T0 % 3600)  # at the top of an hour
    limiter = AddressLimiter(3, today=lambda: date(2027, 1, 15), now=clock)
    assert [limiter.allow("203.0.113.9") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("198.51.100.7"), "another address has its own count"
    clock.advance(3599)
    assert not limiter.allow("203.0.113.9")
    clock.advance(1)  # the next hour
    assert limiter.allow("203.0.113.9")


def test_a_new_day_brings_a_new_key_and_forgets_the_counts() -> None:
    day = [date(2027, 1, 15)]
    clock = Clock(T0 - T0 % 3600)
    limiter = AddressLimiter(1, today=lambda: day[0], now=clock)
    assert limiter.allow("203.0.113.9")
    assert not limiter.allow("203.0.113.9")
    yesterday = limiter._hashed("203.0.113.9")
    day[0] += timedelta(days=1)  # midnight in the same clock hour
    assert limiter.allow("203.0.113.9")
    assert limiter._hashed("203.0.113.9") != yesterday, "yesterday's key must be gone"
    assert "203.0.113.9" not in repr(vars(limiter)), "only keyed hashes are kept"


def test_the_address_limit_is_off_at_zero_and_without_an_address() -> None:
    limiter = AddressLimiter(0, today=lambda: date(2027, 1, 15), now=Clock())
    assert all(limiter.allow("203.0.113.9") for _ in range(1000))
    assert vars(limiter)["_counts"] == {}
    on = AddressLimiter(1, today=lambda: date(2027, 1, 15), now=Clock())
    assert all(on.allow(None) for _ in range(10))
    assert all(on.allow("") for _ in range(10))


# --- screens as runs --------------------------------------------------------------------------


def test_the_html_subset_becomes_styled_runs() -> None:
    assert runs("<b>Bold</b> plain <i>it</i> <code>ABCD-1234</code>") == [
        ["b", "Bold"],
        ["", " plain "],
        ["i", "it"],
        ["", " "],
        ["code", "ABCD-1234"],
    ]
    assert runs("<strong>s</strong><em>e</em><pre>p</pre>") == [
        ["b", "s"],
        ["i", "e"],
        ["code", "p"],
    ]
    assert runs("a<br>b\nc") == [["", "a\nb\nc"]]
    assert runs("") == []


def test_entities_become_literal_text_never_markup() -> None:
    typed = "&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;x&lt;/b&gt; &amp;amp; &quot;"
    assert runs(typed) == [["", '<script>alert(1)</script> <b>x</b> &amp; "']]


def test_unknown_tags_keep_their_text_and_lose_the_tag() -> None:
    assert runs('<u>under</u> <a href="https://x.example">link</a> <span>s</span>') == [
        ["", "under link s"]
    ]
    assert runs("<script>alert(1)</script>") == [["", "alert(1)"]]
    assert runs("<b>in <u>both</u> bold</b>") == [["b", "in both bold"]]


def test_void_self_closing_and_stray_tags_do_not_shift_the_styles() -> None:
    assert runs("<b>a<br/>b</b>c") == [["b", "a\nb"], ["", "c"]]
    assert runs('<b>x<img src="y">y</b>z') == [["b", "xy"], ["", "z"]]
    assert runs("<b>a</i>b</b>c") == [["b", "ab"], ["", "c"]]
    assert runs("</b>plain<i>it</i>") == [["", "plain"], ["i", "it"]]
    assert runs("<b>a<u>b</b>c") == [["b", "ab"], ["", "c"]]


# --- resume codes and tokens ------------------------------------------------------------------


def test_a_resume_code_is_four_groups_of_four_crockford_characters() -> None:
    codes = {new_resume_code() for _ in range(50)}
    assert len(codes) == 50
    group = f"[{re.escape(ALPHABET)}]{{4}}"
    for code in codes:
        assert re.fullmatch(rf"{group}-{group}-{group}-{group}", code), code


def test_a_typed_resume_code_is_forgiven_case_dashes_and_confusable_letters() -> None:
    code = "7KQ4-M2XD-9TRW-PB01"
    canonical = "7KQ4M2XD9TRWPB01"
    for typed in (
        code,
        code.lower(),
        canonical,
        " 7kq4 m2xd 9trw pb01 ",
        "7KQ4_M2XD.9TRW—PB01",
        "7KQ4-M2XD-9TRW-PBOI",  # O for 0, I for 1
        "7KQ4-M2XD-9TRW-PBol",  # o for 0, l for 1
        "７ＫＱ４－Ｍ２ＸＤ－９ＴＲＷ－ＰＢ０１",  # full width
    ):
        assert normalize_resume_code(typed) == canonical, typed


@pytest.mark.parametrize(
    "typed",
    ["", "7KQ4-M2XD-9TRW", "7KQ4-M2XD-9TRW-PB01-X", "7KQ4-M2XD-9TRW-PBU1", "7KQ4-M2XD-9TRW-PB0!"],
)
def test_what_is_not_a_resume_code_is_none(typed: str) -> None:
    assert normalize_resume_code(typed) is None


def test_a_token_has_256_bits_and_a_fixed_shape() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50 and TOKEN_BYTES * 8 >= 128
    assert all(WebSessions.valid_token(token) for token in tokens)
    for wrong in ("", "short", "a" * 42, "a" * 44, "a" * 42 + "=", "a" * 42 + "/", None):
        assert not WebSessions.valid_token(wrong)


# --- sessions ---------------------------------------------------------------------------------


def _sessions(monotonic: Clock | None = None) -> WebSessions:
    return WebSessions(
        MemoryStorage(),
        Pseudonymizer(b"s" * 32),
        replay_ttl=120,
        monotonic=monotonic or Clock(0),
    )


async def test_a_session_record_is_kept_under_a_keyed_hash_of_the_token() -> None:
    sessions = _sessions()
    token = await sessions.create(locale="en", campaign=None)
    key = sessions.storage_key(token)
    assert token not in repr(key)
    assert key != sessions.storage_key(new_token())
    assert sessions.conversation_key(key) != sessions.conversation_key(
        sessions.storage_key(new_token())
    )
    opened = await sessions.open(key)
    assert opened is not None
    assert (opened.record.seq, opened.record.next_ref, opened.record.locale) == (0, 1, "en")
    assert opened.core == {}
    assert await sessions.open(sessions.storage_key(new_token())) is None
    other = WebSessions(MemoryStorage(), Pseudonymizer(b"t" * 32))
    assert other.storage_key(token) != key, "the key depends on the secret"


async def test_a_remembered_answer_is_replayed_for_its_seq_until_it_expires() -> None:
    clock = Clock(0)
    sessions = _sessions(clock)
    key = sessions.conversation_key(sessions.storage_key(new_token()))
    sessions.remember(key, 3, {"seq": 3})
    kept = sessions.replay(key, 3)
    assert kept is not None and kept.body == {"seq": 3}
    assert sessions.replay(key, 2) is None
    sessions.remember(key, 4, {"seq": 4})
    assert sessions.replay(key, 3) is None, "only the last answer is kept"
    clock.advance(119)
    assert sessions.replay(key, 4) is not None
    clock.advance(2)
    assert sessions.replay(key, 4) is None


async def test_a_draft_put_aside_comes_back_once_by_its_code() -> None:
    sessions = _sessions()
    code = new_resume_code()
    await sessions.put_aside(code.replace("-", ""), {"draft": {"a": 1}})
    assert await sessions.take_back("0000-0000-0000-0000") is None
    assert await sessions.take_back(code.lower().replace("-", " ")) == {"draft": {"a": 1}}
    assert await sessions.take_back(code) is None, "a code works only once"
    assert await sessions.take_back("not a code") is None


def test_aiohttp_server_log_lines_keep_only_the_error_type() -> None:
    """aiohttp logs "Error handling request from ADDRESS" with the request in a traceback;
    after the filter the line names neither, only what kind of error it was."""
    import logging

    from bot.web.app import WithoutClientDetails

    try:
        raise ValueError("GET /c/x from 203.0.113.7 User-Agent: AuditUA/1")
    except ValueError:
        record = logging.LogRecord(
            "aiohttp.server",
            logging.ERROR,
            __file__,
            1,
            "Error handling request from %s",
            ("203.0.113.7",),
            sys.exc_info(),
        )
    assert WithoutClientDetails().filter(record)
    line = logging.Formatter("%(name)s: %(message)s").format(record)
    assert line == "aiohttp.server: Web server: ValueError"
    assert "203.0.113.7" not in line and "AuditUA" not in line
