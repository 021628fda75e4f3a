"""Typed configuration: `config/mailbot.yaml` plus secrets from the environment.

Loaded once by the CLI and handed to `app.build_app()`. Every field has a default,
so a machine with no config file at all runs the embedded default (Maildir + SQLite
under `data/`). A wrong file is reported as ``<file>: <key>: <what is wrong>``.
Secrets are never read from YAML: the file names an environment variable or a file.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mailbot.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Strict):
    url: str = "sqlite:///data/mailbot.sqlite3"
    password_env: str | None = None


class MailboxSettings(_Strict):
    backend: Literal["maildir"] = "maildir"
    path: str = "data/mail"
    max_message_bytes: int = Field(default=25 * 1024 * 1024, gt=0)


class OutboxSettings(_Strict):
    transport: Literal["maildir"] = "maildir"
    path: str = "data/outbox"
    max_attempts: int = Field(default=8, ge=1, le=100)


class IdentitySettings(_Strict):
    address: str = "kcr@hq.example.cn"
    display_name: str = "总部资源与市场部"
    department: str = "资源与市场部"
    token_secret_env: str | None = "MAILBOT_TOKEN_SECRET"

    @field_validator("address")
    @classmethod
    def _looks_like_address(cls, v: str) -> str:
        if "@" not in v or " " in v.strip():
            raise ValueError(f"not an e-mail address: {v!r}")
        return v.strip()


class ScheduleSettings(_Strict):
    request_day: int = Field(default=15, ge=1, le=28)
    deadline_day: int = Field(default=28, ge=1, le=31)
    reminder_offsets: tuple[int, ...] = (7, 3, 1)
    escalate: bool = True
    bulletin_delay_days: int = Field(default=1, ge=0, le=20)
    poll_seconds: int = Field(default=60, ge=1)
    tick_seconds: int = Field(default=300, ge=10)

    @field_validator("reminder_offsets")
    @classmethod
    def _positive(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(o < 1 or o > 27 for o in v):
            raise ValueError("each offset must be between 1 and 27 days")
        return tuple(sorted(set(v), reverse=True))


class YearSettings(_Strict):
    holidays: tuple[date, ...] = ()
    workdays: tuple[date, ...] = ()


class CalendarSettings(_Strict):
    years: dict[int, YearSettings] = {}


class LimitSettings(_Strict):
    auto_answers_per_hour: int = Field(default=5, ge=1)


class Settings(_Strict):
    timezone: str = "Asia/Shanghai"
    data_dir: str = "data"
    database: DatabaseSettings = DatabaseSettings()
    mailbox: MailboxSettings = MailboxSettings()
    outbox: OutboxSettings = OutboxSettings()
    identity: IdentitySettings = IdentitySettings()
    schedule: ScheduleSettings = ScheduleSettings()
    calendar: CalendarSettings = CalendarSettings()
    limits: LimitSettings = LimitSettings()
    directory: str = "config/directory.yaml"
    operator: str = "it-ops@hq.example.cn"

    # Set by load_settings, not by the file: where relative paths start.
    home: Path = Path(".")
    source: str = "(built-in defaults)"

    def path(self, p: str) -> Path:
        """A configured path, relative paths taken from the project home."""
        q = Path(p)
        return q if q.is_absolute() else self.home / q

    def database_url(self) -> str:
        """The SQLAlchemy URL with relative SQLite paths anchored at home and the password from the environment."""
        url = self.database.url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            url = "sqlite:///" + str(self.path(url[len("sqlite:///"):]))
        if self.database.password_env:
            from sqlalchemy.engine import make_url

            secret = os.environ.get(self.database.password_env)
            if secret is None:
                raise ConfigError(f"{self.source}: database.password_env: "
                                  f"environment variable {self.database.password_env} is not set")
            return make_url(url).set(password=secret).render_as_string(hide_password=False)
        return url

    def token_secret(self) -> bytes | None:
        name = self.identity.token_secret_env
        value = os.environ.get(name) if name else None
        return value.encode() if value else None


def format_validation_error(source: str, err: ValidationError) -> str:
    """One line per problem: file, dotted key, what is wrong."""
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (misspelt?)"
        lines.append(f"{source}: {key}: {msg}")
    return "\n".join(lines)


def read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as f:
            return yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None


def load_settings(config: Path | None = None, home: Path | None = None) -> Settings:
    """Read the config file (or none: the embedded default) and validate it."""
    home = (home or Path(os.environ.get("MAILBOT_HOME", "."))).resolve()
    path = config if config is not None else home / "config" / "mailbot.yaml"
    data: dict[str, Any] = {}
    source = "(built-in defaults)"
    if path.exists():
        raw = read_yaml(path)
        if raw is not None and not isinstance(raw, dict):
            raise ConfigError(f"{path}: (top level): expected a mapping of settings")
        data = raw or {}
        source = str(path)
    elif config is not None:
        raise ConfigError(f"{path}: no such file")
    try:
        settings = Settings.model_validate({**data, "home": home, "source": source})
    except ValidationError as e:
        raise ConfigError(format_validation_error(source, e)) from None
    if "directory" not in data and not settings.path(settings.directory).exists():
        # The embedded default runs the demo directory until the operator writes a real one.
        settings = settings.model_copy(update={"directory": "config/directory.example.yaml"})
    return settings
