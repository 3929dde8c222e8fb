"""Run the emulator on its own: ``python -m bot.harness.emulator --port 8081 --token 123:ABC``.

Useful to point a separately started bot at it (``TelegramAPIServer.from_base``) and poke it
with curl; scripted users need the in-process API (``BotApiEmulator.user``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from bot.harness.emulator.rate_limits import Limits
from bot.harness.emulator.server import BotApiEmulator


async def serve(port: int, token: str | None, username: str, unlimited: bool) -> None:
    emulator = BotApiEmulator(port=port, limits=Limits.unlimited() if unlimited else Limits())
    bot_token = emulator.create_bot(username=username, token=token)
    async with emulator:
        print(f"Bot API emulator on {emulator.base_url}  token {bot_token}", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Telegram Bot API emulator (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=None, help="fixed bot token, e.g. 123456:ABC-DEF")
    parser.add_argument("--username", default="qingfeng_bot")
    parser.add_argument("--unlimited", action="store_true", help="turn flood limits off")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.token, args.username, args.unlimited))


if __name__ == "__main__":
    main()
