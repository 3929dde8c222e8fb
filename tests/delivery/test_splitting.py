"""Byte-budget splitting: every piece fits, nothing is lost or reordered, no character is cut."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.delivery.splitting import (
    MARKDOWN_LINES,
    cut_line,
    json_paragraph_measure,
    pack_lines,
    split_with_headers,
)

# Text from every UTF-8 width: ASCII, Latin, CJK, emoji; plus characters JSON must escape.
characters = st.sampled_from(list('aZ9 é中文、“”😀\\"\t'))
lines = st.lists(st.text(characters, max_size=60), max_size=40)
PARAGRAPH = json_paragraph_measure('[{"tag":"text","text":""}]')


@settings(max_examples=200, deadline=None)
@given(line=st.text(characters, max_size=300), budget=st.integers(min_value=6, max_value=90))
def test_cut_line_pieces_fit_and_rejoin(line: str, budget: int) -> None:
    pieces = cut_line(line, budget, MARKDOWN_LINES)
    assert "".join(pieces) == line
    assert all(len(piece.encode("utf-8")) + 1 <= budget for piece in pieces)


@settings(max_examples=200, deadline=None)
@given(text_lines=lines, budget=st.integers(min_value=6, max_value=200))
def test_markdown_chunks_fit_the_byte_limit_and_keep_the_text(
    text_lines: list[str], budget: int
) -> None:
    chunks = pack_lines(text_lines, budget, MARKDOWN_LINES)
    for chunk in chunks:
        assert len("\n".join(chunk).encode("utf-8")) <= budget - 1
    assert "".join("".join(chunk) for chunk in chunks) == "".join(text_lines)
    if all(len(line.encode("utf-8")) + 1 <= budget for line in text_lines):
        assert [line for chunk in chunks for line in chunk] == text_lines


@settings(max_examples=200, deadline=None)
@given(text_lines=lines, budget=st.integers(min_value=40, max_value=400))
def test_json_paragraph_chunks_fit_once_encoded(text_lines: list[str], budget: int) -> None:
    for chunk in pack_lines(text_lines, budget, PARAGRAPH):
        encoded = json.dumps(
            [[{"tag": "text", "text": line}] for line in chunk],
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        # The list brackets are not part of the budget; the n - 1 commas are (plus one spare).
        assert len(encoded) - 2 <= budget - 1


def test_headers_sized_for_the_final_part_count() -> None:
    body = ["行" * 10] * 50  # 31 bytes a line with its newline
    header_sizes: list[int] = []

    def header_cost(parts: int) -> int:
        header_sizes.append(parts)
        return len(f"（{parts}/{parts}）".encode())

    chunks = split_with_headers(body, budget=100, measure=MARKDOWN_LINES, header_cost=header_cost)
    final = len(chunks)
    assert final >= 10
    assert all(
        sum(len(line.encode()) + 1 for line in chunk) <= 100 - header_cost(final)
        for chunk in chunks
    )
    assert [line for chunk in chunks for line in chunk] == body


def test_budget_too_small_for_a_header_is_an_error() -> None:
    with pytest.raises(ValueError, match="no room"):
        split_with_headers(["x"], budget=10, measure=MARKDOWN_LINES, header_cost=lambda _n: 8)
