"""Files the bot uploads or users send: ids, bytes, and the image sizes Telegram would report."""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Literal

FileKind = Literal["photo", "document", "sticker", "voice", "video"]

_ID_PREFIX: dict[FileKind, str] = {
    "photo": "AgACAgUAAxk",
    "document": "BQACAgUAAxk",
    "sticker": "CAACAgUAAxk",
    "voice": "AwACAgUAAxk",
    "video": "BAACAgUAAxk",
}
_PATH_DIR: dict[FileKind, str] = {
    "photo": "photos",
    "document": "documents",
    "sticker": "stickers",
    "voice": "voice",
    "video": "videos",
}
#: Longest sides of the scaled copies Telegram keeps for a photo (s, m, x, y, w).
PHOTO_SIZE_STEPS = (90, 320, 800, 1280, 2560)
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A multipart part that carried a file (``filename`` set), before it is stored."""

    field_name: str
    filename: str
    content_type: str
    data: bytes


@dataclass(slots=True, eq=False)
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: FileKind
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None
    #: For photos: every scaled copy of the same upload, smallest first (includes ``self``).
    photo_sizes: list[StoredFile] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.data)

    def photo_size_json(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "width": self.width,
            "height": self.height,
        }

    def file_json(self) -> dict[str, Any]:
        """The ``File`` object getFile returns."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


class FileStore:
    """All files known to the emulator, by file_id and by download path."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._counter = 0

    def _new_ids(self, kind: FileKind) -> tuple[str, str, int]:
        self._counter += 1
        return (
            _ID_PREFIX[kind] + _token(f"file:{kind}:{self._counter}", 48),
            "AQAD" + _token(f"unique:{self._counter}", 12),
            self._counter,
        )

    def add(
        self,
        kind: FileKind,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        width: int | None = None,
        height: int | None = None,
        duration: int | None = None,
    ) -> StoredFile:
        file_id, unique_id, number = self._new_ids(kind)
        extension = _extension(kind, file_name, mime_type)
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=unique_id,
            kind=kind,
            data=data,
            file_path=f"{_PATH_DIR[kind]}/file_{number}{extension}",
            file_name=file_name,
            mime_type=mime_type,
            width=width,
            height=height,
            duration=duration,
        )
        self._by_id[file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def add_photo(self, data: bytes, width: int, height: int) -> list[StoredFile]:
        """Store a photo as Telegram does: a few scaled copies, smallest first."""
        sizes: list[StoredFile] = []
        longest = max(width, height)
        steps = [step for step in PHOTO_SIZE_STEPS if step < longest][:4]
        for step in steps:
            scale = step / longest
            scaled_w, scaled_h = max(1, round(width * scale)), max(1, round(height * scale))
            share = max(1, len(data) * scaled_w * scaled_h // max(1, width * height))
            sizes.append(
                self.add(
                    "photo", data[:share], mime_type="image/jpeg", width=scaled_w, height=scaled_h
                )
            )
        if longest <= PHOTO_SIZE_STEPS[-1]:
            sizes.append(
                self.add("photo", data, mime_type="image/jpeg", width=width, height=height)
            )
        else:
            scale = PHOTO_SIZE_STEPS[-1] / longest
            sizes.append(
                self.add(
                    "photo",
                    data,
                    mime_type="image/jpeg",
                    width=max(1, round(width * scale)),
                    height=max(1, round(height * scale)),
                )
            )
        for size in sizes:
            size.photo_sizes = sizes
        return sizes

    def get(self, file_id: str) -> StoredFile | None:
        return self._by_id.get(file_id)

    def by_path(self, path: str) -> StoredFile | None:
        return self._by_path.get(path)


def _token(seed: str, length: int) -> str:
    """Deterministic, Telegram-looking base64url characters (ids repeat across runs)."""
    digest = hashlib.sha256(seed.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:length]


def _extension(kind: FileKind, file_name: str | None, mime_type: str | None) -> str:
    if file_name and "." in file_name:
        return "." + file_name.rsplit(".", 1)[1].lower()
    if kind == "photo":
        return ".jpg"
    if kind == "voice":
        return ".oga"
    if kind == "sticker":
        return ".webp"
    if mime_type:
        return mimetypes.guess_extension(mime_type) or ""
    return ""


def guess_mime_type(file_name: str, declared: str | None) -> str:
    """Telegram derives a document's MIME type from its name, falling back to the upload's."""
    guessed, _ = mimetypes.guess_type(file_name)
    if guessed:
        return guessed
    if declared and declared != "application/octet-stream":
        return declared
    return "application/octet-stream"


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, JPEG, GIF or WebP image; None if it is not one."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return (width, height) if width and height else None
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return (width, height) if width and height else None
    if data.startswith(b"\xff\xd8"):
        return _jpeg_dimensions(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            width = 1 + int.from_bytes(data[24:27], "little")
            height = 1 + int.from_bytes(data[27:30], "little")
            return width, height
        if chunk == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return width & 0x3FFF, height & 0x3FFF
        if chunk == b"VP8L" and len(data) >= 25:
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 9 < len(data):
        if data[position] != 0xFF:
            position += 1
            continue
        marker = data[position + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            position += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return (width, height) if width and height else None
        position += 2 + length
    return None


def make_png(
    width: int = 640, height: int = 480, rgb: tuple[int, int, int] = (46, 139, 87)
) -> bytes:
    """A valid single-colour PNG, so emulated users can send photos with real dimensions."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    pixels = zlib.compress(row * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
