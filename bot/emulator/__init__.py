"""A local Telegram Bot API emulator: an HTTP server the real aiogram session talks to, and
user/group handles that play the people on the other side. See ``server.BotApiEmulator``."""

from bot.emulator.call_log import CallLog, CallRecord
from bot.emulator.clock import Clock
from bot.emulator.faults import Fault, FaultInjector, FaultKind
from bot.emulator.files import make_png
from bot.emulator.rate_limits import Limits
from bot.emulator.server import BotApiEmulator
from bot.emulator.spec import ApiSpec, load_spec
from bot.emulator.state import CallbackAnswer, CallbackQueryState
from bot.emulator.users import (
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
    "Clock",
    "EmulatedGroup",
    "EmulatedUser",
    "Fault",
    "FaultInjector",
    "FaultKind",
    "InlineButton",
    "Limits",
    "load_spec",
    "make_png",
]
