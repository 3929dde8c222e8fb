"""Generate ``data/bot-api-subset.json`` from the full machine-readable Bot API spec.

The full spec (``bot-api.min.json``, MIT licensed, see ``data/LICENSE.bot-api-spec``) is not part
of a fresh clone, so the emulator ships the subset it needs: the methods it implements, every
type their parameters reference (transitively, including the subtypes of abstract types such as
``BotCommandScope``), and the object types it returns (not transitively: the emulator only
checks the shape of what it emits against them).

Regenerate after adding a method to :data:`METHODS`::

    python -m bot.harness.emulator.spec_extract --source /work/shared/telegram/bot-api.min.json
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bot.harness.emulator.spec import LICENSE_NAME, SUBSET_PATH

#: Every Bot API method the emulator implements (and only those).
METHODS: tuple[str, ...] = (
    "getMe",
    "logOut",
    "close",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "sendPhoto",
    "sendDocument",
    "copyMessage",
    "forwardMessage",
    "sendChatAction",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
    "deleteMessage",
    "deleteMessages",
    "answerCallbackQuery",
    "getFile",
    "getChat",
    "getChatMember",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "setMyDescription",
    "getMyDescription",
    "setMyShortDescription",
    "getMyShortDescription",
    "setChatMenuButton",
    "getChatMenuButton",
)

#: Object types the emulator returns; kept so tests can check responses against the spec.
RESPONSE_TYPES: tuple[str, ...] = (
    "Update",
    "Message",
    "MessageId",
    "InaccessibleMessage",
    "MaybeInaccessibleMessage",
    "User",
    "Chat",
    "ChatFullInfo",
    "AcceptedGiftTypes",
    "CallbackQuery",
    "PhotoSize",
    "Document",
    "Sticker",
    "Voice",
    "Video",
    "Location",
    "Contact",
    "File",
    "WebhookInfo",
    "BotDescription",
    "BotShortDescription",
    "ChatMemberUpdated",
    "ChatMember",
    "ChatMemberOwner",
    "ChatMemberAdministrator",
    "ChatMemberMember",
    "ChatMemberRestricted",
    "ChatMemberLeft",
    "ChatMemberBanned",
    "MessageOrigin",
    "MessageOriginUser",
    "MessageOriginHiddenUser",
    "MessageOriginChat",
    "MessageOriginChannel",
)

_ARRAY_PREFIX = re.compile(r"^(?:Array of )+")


def _referenced_types(type_names: Iterable[str]) -> set[str]:
    return {_ARRAY_PREFIX.sub("", name) for name in type_names}


def _closure(start: Iterable[str], types: Mapping[str, Any]) -> set[str]:
    """All spec types reachable from ``start`` through field types and subtypes."""
    seen: set[str] = set()
    stack = [name for name in start if name in types]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        definition = types[name]
        refs = _referenced_types(t for f in definition.get("fields", []) for t in f["types"])
        refs.update(definition.get("subtypes", []))
        stack.extend(ref for ref in refs if ref in types and ref not in seen)
    return seen


def extract_subset(
    full_spec: Mapping[str, Any],
    methods: Iterable[str] = METHODS,
    response_types: Iterable[str] = RESPONSE_TYPES,
) -> dict[str, Any]:
    """The subset document: ``methods``, their parameter types (transitively) and
    ``response_types`` (as they are, not transitively)."""
    all_methods: Mapping[str, Any] = full_spec["methods"]
    all_types: Mapping[str, Any] = full_spec["types"]
    method_names, response_names = list(methods), list(response_types)
    missing = [name for name in method_names if name not in all_methods] + [
        name for name in response_names if name not in all_types
    ]
    if missing:
        raise KeyError(f"not in the source spec: {', '.join(missing)}")

    parameter_types = _referenced_types(
        t for name in method_names for f in all_methods[name].get("fields", []) for t in f["types"]
    )
    kept_types = _closure(parameter_types, all_types) | set(response_names)
    return {
        "version": full_spec["version"],
        "release_date": full_spec["release_date"],
        "changelog": full_spec["changelog"],
        "source": "https://github.com/PaulSonOfLars/telegram-bot-api-spec (MIT), subset",
        "methods": {name: all_methods[name] for name in method_names},
        "types": {name: all_types[name] for name in sorted(kept_types)},
    }


def write_subset(
    source: Path, license_file: Path | None = None, target: Path = SUBSET_PATH
) -> Path:
    """Write the subset next to the package and copy the spec's licence beside it."""
    full_spec = json.loads(source.read_text(encoding="utf-8"))
    subset = extract_subset(full_spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        json.dumps(subset, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8"
    )
    license_source = license_file or source.with_name(LICENSE_NAME)
    shutil.copyfile(license_source, target.with_name(LICENSE_NAME))
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=Path("/work/shared/telegram/bot-api.min.json"),
        help="full spec JSON (keys: version, release_date, changelog, methods, types)",
    )
    parser.add_argument("--license", type=Path, default=None, help="licence file of the spec")
    parser.add_argument("--target", type=Path, default=SUBSET_PATH)
    args = parser.parse_args(argv)
    path = write_subset(args.source, args.license, args.target)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
