"""A cadre's side of the web channel's HTTP API, as the page speaks it: proof of work, a
session token in a header, one numbered action at a time. For the demo, the benchmark and
tests; it keeps what the page would show, to be read back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.web.proof_of_work import solve

SESSION_HEADER = "X-Qingfeng-Session"


class WebRefusal(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body.get('error')}")
        self.status = status
        self.body = body


@dataclass
class Bubble:
    ref: int
    screen: dict[str, Any]
    current: bool

    @property
    def text(self) -> str:
        parts = ["".join(run[1] for run in notice) for notice in self.screen["notices"]]
        if self.screen.get("title"):
            parts.append(self.screen["title"])
        if self.screen.get("progress"):
            parts.append(self.screen["progress"]["label"])
        parts.append("".join(run[1] for run in self.screen["body"]))
        return "\n\n".join(p for p in parts if p)

    @property
    def grid(self) -> list[dict[str, Any]]:
        """A grid question's lines (number, label, required, answered, options); else []."""
        grid: list[dict[str, Any]] = self.screen.get("grid") or []
        return grid

    @property
    def options(self) -> list[dict[str, Any]]:
        """Every option, a grid's cells first (as `Screen.options` has them)."""
        cells = [option for line in self.grid for option in line["options"]]
        return cells + [option for row in self.screen["rows"] for option in row]


@dataclass
class WebCadre:
    """One tab of the page."""

    http: httpx.AsyncClient
    locale: str = "zh-CN"
    campaign: str | None = None
    token: str | None = None
    seq: int = 0
    bubbles: dict[int, Bubble] = field(default_factory=dict)
    toasts: list[str] = field(default_factory=list)

    async def post(
        self, path: str, body: dict[str, Any], *, session: bool = True
    ) -> dict[str, Any]:
        headers = {SESSION_HEADER: self.token} if session and self.token else {}
        response = await self.http.post(path, json=body, headers=headers)
        data: dict[str, Any] = response.json()
        if response.status_code >= 400:
            raise WebRefusal(response.status_code, data)
        return data

    async def open(self) -> None:
        """Solve the proof of work and start a session."""
        challenge = (await self.post("/api/challenge", {}, session=False))["challenge"]
        body = {"pow": solve(challenge), "locale": self.locale, "campaign": self.campaign}
        self.token = (await self.post("/api/session", body, session=False))["token"]
        self.seq = 0

    async def act(self, event: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        answer = await self.post("/api/act", {"seq": self.seq, "event": event})
        self.apply(answer["ops"])
        return answer

    def apply(self, ops: list[dict[str, Any]]) -> None:
        for op in ops:
            match op["op"]:
                case "show":
                    self.bubbles[op["ref"]] = Bubble(op["ref"], op["screen"], op["current"])
                case "replace":
                    old = self.bubbles.get(op["ref"])
                    current = old.current if old else True
                    self.bubbles[op["ref"]] = Bubble(op["ref"], op["screen"], current)
                case "retire":
                    old = self.bubbles.get(op["ref"])
                    if old is not None:
                        old.screen = {**old.screen, "grid": [], "rows": []}
                case "delete":
                    self.bubbles.pop(op["ref"], None)
                case "clear":
                    self.bubbles.clear()
                case "toast":
                    self.toasts.append(op["text"])

    @property
    def last(self) -> Bubble:
        return self.bubbles[max(self.bubbles)]

    def chat_text(self) -> str:
        return "\n\n".join(self.bubbles[ref].text for ref in sorted(self.bubbles))

    def current(self) -> Bubble:
        """The newest bubble that has options."""
        for ref in sorted(self.bubbles, reverse=True):
            if self.bubbles[ref].options:
                return self.bubbles[ref]
        raise LookupError("no screen with options")

    async def press(self, predicate: Any, bubble: Bubble | None = None) -> dict[str, Any]:
        """Press the first option of `bubble` (default: the current one) for which
        `predicate(option)` holds."""
        shown = bubble or self.current()
        option = next(o for o in shown.options if predicate(o))
        return await self.act({"type": "press", "action": option["action"], "ref": shown.ref})

    async def press_act(self, act: str, value: str | None = None) -> dict[str, Any]:
        return await self.press(
            lambda o: o["action"]["a"] == act and (value is None or o["action"]["v"] == value)
        )

    async def type(self, text: str) -> dict[str, Any]:
        return await self.act({"type": "text", "body": text})
