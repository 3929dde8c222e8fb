"""The webhook's secret token: WEBHOOK_SECRET, or the same derived value on every replica."""

from __future__ import annotations

from pydantic import SecretStr

from bot.anonymity.pseudonym import Pseudonymizer
from bot.config import load_settings
from bot.webhook import webhook_secret


def test_every_replica_derives_the_same_secret_and_a_set_one_wins() -> None:
    settings = load_settings(webhook_url="https://survey.example.org/telegram/webhook")
    one = webhook_secret(settings, Pseudonymizer(b"k" * 32))
    assert one == webhook_secret(settings, Pseudonymizer(b"k" * 32))
    assert one != webhook_secret(settings, Pseudonymizer(b"j" * 32))
    assert len(one) >= 32 and one.isalnum()
    chosen = load_settings(webhook_secret=SecretStr("chosen-secret_1"))
    assert webhook_secret(chosen, Pseudonymizer(b"k" * 32)) == "chosen-secret_1"
