"""Cutting a long digest into messages that each fit a robot's size limit.

Robots count bytes, not characters (WeCom: 4096 bytes of UTF-8 markdown; Feishu: 20 KB of JSON
body), so every size here is measured in encoded bytes. Text is cut at line boundaries; a
single line that is too long on its own is cut between characters, never inside one, so each
part is valid UTF-8.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LineMeasure:
    """How many bytes a line costs inside a message: a fixed cost per line plus its characters.

    Both the markdown measure and the JSON measure are additive per character, which lets an
    over-long line be cut without re-encoding it for every candidate cut.
    """

    per_line: int
    char_cost: Callable[[str], int]

    def cost(self, line: str) -> int:
        return self.per_line + sum(self.char_cost(char) for char in line)


def _utf8_len(char: str) -> int:
    return len(char.encode("utf-8"))


def _json_string_len(char: str) -> int:
    return len(json.dumps(char, ensure_ascii=False).encode("utf-8")) - 2


# Lines joined by "\n": each line costs its bytes plus one newline (the budget gets one extra
# byte, because n lines need only n - 1 newlines).
MARKDOWN_LINES = LineMeasure(per_line=1, char_cost=_utf8_len)


def json_paragraph_measure(empty_paragraph: str) -> LineMeasure:
    """A line encoded as a JSON paragraph such as `[{"tag":"text","text":"…"}]` plus a comma."""
    return LineMeasure(
        per_line=len(empty_paragraph.encode("utf-8")) + 1, char_cost=_json_string_len
    )


def cut_line(line: str, budget: int, measure: LineMeasure) -> list[str]:
    """Cut one line into pieces that each cost at most `budget` (characters are never split)."""
    if budget <= measure.per_line:
        raise ValueError("budget too small for even one character")
    pieces: list[str] = []
    start = 0
    used = measure.per_line
    for index, char in enumerate(line):
        cost = measure.char_cost(char)
        if used + cost > budget:
            if index == start:
                raise ValueError("budget too small for one character")
            pieces.append(line[start:index])
            start = index
            used = measure.per_line
        used += cost
    pieces.append(line[start:])
    return pieces


def pack_lines(lines: Iterable[str], budget: int, measure: LineMeasure) -> list[list[str]]:
    """Greedily group lines, in order, into chunks whose total cost stays within `budget`."""
    chunks: list[list[str]] = []
    current: list[str] = []
    used = 0
    for line in lines:
        for piece in cut_line(line, budget, measure) if measure.cost(line) > budget else [line]:
            cost = measure.cost(piece)
            if current and used + cost > budget:
                chunks.append(current)
                current, used = [], 0
            current.append(piece)
            used += cost
    if current or not chunks:
        chunks.append(current)
    return chunks


def split_with_headers(
    lines: Sequence[str],
    *,
    budget: int,
    measure: LineMeasure,
    header_cost: Callable[[int], int],
) -> list[list[str]]:
    """Pack `lines` leaving room for a per-part header whose size depends on the part count.

    `header_cost(n)` is the largest header cost when there are `n` parts ("（9/9）" is shorter
    than "（10/10）"), so packing is repeated until the part count stops growing.
    """
    parts = 1
    while True:
        room = budget - header_cost(parts)
        if room <= measure.per_line + 4:
            raise ValueError("the header leaves no room for content")
        chunks = pack_lines(lines, room, measure)
        if len(chunks) <= parts:
            return chunks
        parts = len(chunks)
