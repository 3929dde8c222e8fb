"""Broadcasts to subscribers: the rate-limited, crash-safe sender and its runtime."""

from bot.broadcast.sender import BroadcastSender, Pacer, Progress, SenderReport

__all__ = ["BroadcastSender", "Pacer", "Progress", "SenderReport"]
