"""A local Telegram Bot API emulator: an HTTP server the real aiogram session talks to, and
user/group handles that play the people on the other side. See ``server.BotApiEmulator``."""

from bot.harness.emulator.call_log import CallLog, CallRecord
from bot.harness.emulator.clock import VirtualClock
from bot.harness.emulator.faults import Fault, FaultInjector, FaultKind
from bot.harness.emulator.files import make_png
from bot.harness.emulator.rate_limits import Limits
from bot.harness.emulator.server import BotApiEmulator
from bot.harness.emulator.spec import ApiSpec, load_spec
from bot.harness.emulator.state import CallbackAnswer, CallbackQueryState
from bot.harness.emulator.users import (
    CallbackQueryHandle,
    ChatMessage,
    ChatWaitTimeout,
    EmulatedGroup,
    EmulatedUser,
    InlineButton,
)

__all__ = [
    "ApiSpec",
    "BotApiEmulator",
    "CallLog",
    "CallRecord",
    "CallbackAnswer",
    "CallbackQueryHandle",
    "CallbackQueryState",
    "ChatMessage",
    "ChatWaitTimeout",
    "EmulatedGroup",
    "EmulatedUser",
    "Fault",
    "FaultInjector",
    "FaultKind",
    "InlineButton",
    "Limits",
    "VirtualClock",
    "load_spec",
    "make_png",
]
