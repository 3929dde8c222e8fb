"""Benchmark: a broadcast to 20,000 subscribers against the Bot API emulator.

The emulator enforces Telegram's limits shape (30 messages/s overall, 1/s per chat), scaled
by `--scale` so the run takes seconds, not the ~11 minutes of real time; the sender is
configured at BROADCAST_RATE's default (25/s) scaled the same way. Both run in this process
over real HTTP (aiogram session → aiohttp server). Printed: effective rate as a fraction of
the configured ceiling (target ≥ 0.95), duplicates (0), lost (0), 429s received, peak memory;
the last line is one JSON object.

    python bench/broadcast.py [--recipients 20000] [--scale 10] [--paid]

`--paid` uses allow_paid_broadcast (1000/s overall at scale 1) instead of scaled free limits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.broadcast import BroadcastSender
from bot.broadcast.runtime import create_sender_bot
from bot.harness.emulator import BotApiEmulator, Limits
from storage.database import Database
from storage.repositories import BroadcastContent, BroadcastRepository
from storage.tables import subscribers

FIRST_USER = 7_000_000


async def seed(db: Database, cipher: TextCipher, pseudonymizer: Pseudonymizer, n: int) -> None:
    """Subscribers exactly as SubscriberRepository stores them, in one transaction."""
    rows = []
    for i in range(n):
        chat_id = FIRST_USER + i
        chat_hash = pseudonymizer.of("subscriber", chat_id)
        rows.append(
            {
                "chat_hash": chat_hash,
                "chat_id_enc": cipher.encrypt(
                    str(chat_id), context=f"subscribers.chat_id_enc:{chat_hash}"
                ),
                "locale": "zh-CN",
                "active": True,
                "since_day": date.today(),
            }
        )
    async with db.engine.begin() as connection:
        await connection.execute(subscribers.insert(), rows)


async def run(recipients: int, scale: float, paid: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.connect(f"sqlite+aiosqlite:///{tmp}/bench.db")
        await db.upgrade()
        cipher = TextCipher(b"b" * 32)
        pseudonymizer = Pseudonymizer(b"p" * 32)
        await seed(db, cipher, pseudonymizer, recipients)
        limits = Limits() if paid else Limits().scaled(scale)
        rate = 950.0 if paid else 25.0 * scale
        emu = BotApiEmulator(limits=limits, max_recorded_calls=1000)
        await emu.start()
        token = emu.create_bot()
        users = [emu.user(user_id=FIRST_USER + i, started=True) for i in range(recipients)]
        repo = BroadcastRepository(db, cipher)
        job = await repo.create(BroadcastContent("<b>通知</b>：调研将于下周开始。"), paid=paid)
        bot = create_sender_bot(token, emu.base_url)
        sender = BroadcastSender(
            repo, bot, job, BroadcastContent("<b>通知</b>"), rate=rate, paid=paid
        )
        started = time.perf_counter()
        report = await sender.run()
        wall = time.perf_counter() - started
        await bot.session.close()
        copies = [len(user.chat.messages) for user in users]
        too_many = emu.calls.count("sendMessage", status=429)
        await emu.stop()
        await db.dispose()
    effective = report.effective_rate
    result: dict[str, object] = {
        "recipients": recipients,
        "mode": "paid" if paid else f"free x{scale:g}",
        "configured_rate": rate,
        "telegram_ceiling": limits.paid_broadcast_per_second if paid else limits.global_per_second,
        "effective_rate": round(effective, 1),
        "rate_ratio": round(effective / rate, 3),
        "wall_seconds": round(wall, 2),
        "sent": report.counts["sent"],
        "duplicates": sum(1 for n in copies if n > 1),
        "lost": sum(1 for n in copies if n == 0),
        "http_429": too_many,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--paid", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.recipients, args.scale, args.paid))
    print(
        f"broadcast to {result['recipients']} ({result['mode']}): "
        f"{result['effective_rate']}/s of {result['configured_rate']}/s configured "
        f"(ratio {result['rate_ratio']}, target >= 0.95), duplicates {result['duplicates']}, "
        f"lost {result['lost']}, 429s {result['http_429']}, {result['wall_seconds']} s, "
        f"peak RSS {result['peak_rss_mb']} MB"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
