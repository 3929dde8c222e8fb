"""Settings, read from the environment and `.env` (pydantic-settings).

Every setting has a safe default so that `make demo` runs with no configuration at all.
A wrong value stops start-up with one clear line (see `load_settings`).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_QUESTIONNAIRE = Path(__file__).parent / "questionnaires" / "formalism.yaml"
OFFICIAL_API_URL = "https://api.telegram.org"

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> timedelta:
    """Accept seconds (`86400`), a suffixed amount (`24h`, `30m`, `2d`) or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError("expected a duration such as 86400, 30m, 24h or 2d")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


class WebhookTarget(BaseModel):
    """One group-robot destination for digests."""

    kind: Literal["wecom", "dingtalk", "feishu", "generic"]
    url: str
    secret: SecretStr | None = None
    name: str | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value


class Settings(BaseSettings):
    """Everything the bot can be told from outside. Names match the environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    bot_token: SecretStr | None = None
    telegram_api_url: str = OFFICIAL_API_URL
    data_dir: Path = Path("./data")
    database_url: str | None = None
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    pseudonym_secret: SecretStr | None = None
    data_key: SecretStr | None = None
    data_key_previous: SecretStr | None = None
    default_locale: Literal["zh-CN", "en"] = "zh-CN"
    timezone: str = "Asia/Shanghai"
    k_anonymity: int = Field(default=5, ge=2, le=1000)
    export_protect_content: bool = True  # exports sent in Telegram cannot be forwarded
    draft_ttl: timedelta = timedelta(hours=24)
    max_submissions_per_day: int = Field(default=3, ge=1, le=1000)
    questionnaire: Path = DEFAULT_QUESTIONNAIRE
    fsm_storage: Literal["sql", "redis", "memory"] = "sql"
    # SQL FSM: changes reach the table this many seconds later, many keys per commit (0: at
    # once); a crash loses at most this much of the drafts' last steps, a clean stop nothing
    fsm_write_delay: float = Field(default=0.05, ge=0, le=5)
    redis_url: str = "redis://127.0.0.1:6379/0"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    digest_schedule: str = "daily 09:00"
    digest_webhooks: Annotated[list[WebhookTarget], NoDecode] = Field(default_factory=list)
    retention_days: int = Field(default=365, ge=1)
    broadcast_rate: float = Field(default=25.0, gt=0, le=1000)
    allow_paid_broadcast: bool = False
    # Telegram by webhook (`run --webhook`, or when WEBHOOK_URL is set), on the web
    # channel's server: the public HTTPS URL Telegram posts to, its secret token (derived
    # from PSEUDONYM_SECRET when unset), the path served, Telegram's concurrent connections.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_path: str = "/telegram/webhook"
    webhook_max_connections: int = Field(default=40, ge=1, le=100)
    # The web channel: a chat page reached from a link or QR code, with no account at all.
    web_host: str = "127.0.0.1"
    web_port: int | None = Field(default=None, ge=1, le=65535)
    web_public_url: str = "http://127.0.0.1:8080"
    web_trusted_proxy_header: str | None = None  # e.g. X-Real-IP, set by your reverse proxy
    web_pow_max_number: int = Field(default=50_000, ge=1, le=10_000_000)
    web_session_actions_per_minute: int = Field(default=60, ge=1, le=10_000)
    web_address_sessions_per_hour: int = Field(default=0, ge=0, le=100_000)  # 0: off
    web_campaign_daily_cap: int = Field(default=0, ge=0)  # 0: no cap

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
            try:
                return [int(p) for p in parts]
            except ValueError as exc:
                raise ValueError("expected Telegram user ids separated by commas") from exc
        return value

    @field_validator("digest_webhooks", mode="before")
    @classmethod
    def _parse_webhooks(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return []
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"expected a JSON list of webhook objects ({exc.msg})") from exc
        return value

    @field_validator("draft_ttl", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith("https://"):
            raise ValueError("Telegram posts only to https:// URLs")
        return value.strip()

    @field_validator("webhook_path")
    @classmethod
    def _webhook_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /")
        return value

    @field_validator("web_public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http:// for a local try)")
        return value.rstrip("/")

    @field_validator("web_trusted_proxy_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not re.fullmatch(r"[A-Za-z0-9-]+", value.strip()):
            raise ValueError("expected a header name such as X-Real-IP")
        return value.strip()

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB")
        return value

    @field_validator("digest_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if not re.fullmatch(
            r"(daily|weekly (mon|tue|wed|thu|fri|sat|sun)) ([01]\d|2[0-3]):[0-5]\d", value.strip()
        ):
            raise ValueError("expected 'daily HH:MM' or 'weekly mon HH:MM'")
        return value.strip()

    @field_validator("questionnaire")
    @classmethod
    def _questionnaire_exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"no questionnaire file at {value}")
        return value

    @model_validator(mode="after")
    def _draft_ttl_positive(self) -> Settings:
        if self.draft_ttl <= timedelta(0):
            raise ValueError("DRAFT_TTL must be positive")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def resolved_database_url(self) -> str:
        """The configured database, or `qingfeng.db` in DATA_DIR through aiosqlite."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'qingfeng.db').resolve()}"


class SettingsError(Exception):
    """A setting is missing or wrong; the message is one line naming the variable."""


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning pydantic's report into one line per bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = error.get("loc") or ("settings",)
            name = str(loc[0]).upper() if loc else "SETTINGS"
            message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
            lines.append(f"{name}: {message}")
        raise SettingsError("; ".join(lines) or "invalid settings") from None
