"""Typed configuration: `config/mailbot.yaml` plus secrets from the environment.

Loaded once by the CLI and handed to `app.build_app()`. Every field has a default,
so a machine with no config file at all runs the embedded default (Maildir + SQLite
under `data/`). A wrong file is reported as ``<file>: <key>: <what is wrong>``.
Secrets are never read from YAML: the file names an environment variable or a file.
"""

from __future__ import annotations

import os
from datetime import date, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mailbot.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Strict):
    url: str = "sqlite:///data/mailbot.sqlite3"
    password_env: str | None = None

    @field_validator("url")
    @classmethod
    def _database_url(cls, v: str) -> str:
        # Only the form is checked here; whether the database answers is found when build_app first connects.
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(v)
        except ArgumentError:
            # The value is not echoed: it may hold a password.
            raise ValueError("not a database URL; write sqlite:///PATH or "
                             "postgresql+psycopg://USER@HOST[:PORT]/DBNAME") from None
        backend = url.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"mailbot runs on SQLite or PostgreSQL, not {backend}")
        if url.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"):
            # postgresql:// is read as postgresql+psycopg:// (database_url); other drivers are not installed.
            raise ValueError(f"the {url.drivername} driver is not installed; write "
                             f"{'sqlite' if backend == 'sqlite' else 'postgresql+psycopg'}://…")
        return v


class SecretRef(_Strict):
    """Where a secret lives: an environment variable or a file (first line). Never the value itself."""

    env: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self


class OAuth2Settings(_Strict):
    """Refresh-token grant, e.g. Microsoft 365 (https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token)."""

    token_url: str
    client_id: str
    client_secret: SecretRef | None = None
    refresh_token_file: str           # the rotated refresh token is written back here (mode 600)
    scope: str = "https://outlook.office365.com/.default offline_access"


class ServerSettings(_Strict):
    """What IMAP, SMTP and Exchange connections share."""

    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["tls", "starttls", "plain"] = "tls"
    username: str | None = None
    password: SecretRef | None = None
    oauth2: OAuth2Settings | None = None
    ca_file: str | None = None        # trust this CA bundle (self-signed servers)
    timeout: float = Field(default=30, gt=0)


class MailboxSettings(ServerSettings):
    backend: Literal["maildir", "imap", "exchange"] = "maildir"
    path: str = "data/mail"           # maildir
    folder: str = "INBOX"             # imap
    folders: dict[Literal["processed", "quarantine", "auto"], str] = {
        "processed": "Processed", "quarantine": "Quarantine", "auto": "Auto-replies"}
    service_endpoint: str | None = None   # exchange: https://mail.example.cn/EWS/Exchange.asmx
    auth_type: Literal["ntlm", "basic", "oauth2"] = "ntlm"
    address: str | None = None        # exchange: the mailbox's primary SMTP address
    backfill: bool = False            # process mail older than the first connection
    max_message_bytes: int = Field(default=25 * 1024 * 1024, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> MailboxSettings:
        if self.backend == "imap" and not (self.host and self.username and (self.password or self.oauth2)):
            raise ValueError("imap needs host, username and password (or oauth2)")
        if self.backend == "exchange" and not (self.service_endpoint and self.username and
                                               (self.password or self.oauth2)):
            raise ValueError("exchange needs service_endpoint, username and password (or oauth2)")
        return self


class OutboxSettings(ServerSettings):
    transport: Literal["maildir", "smtp", "ews"] = "maildir"
    path: str = "data/outbox"         # maildir
    security: Literal["tls", "starttls", "plain"] = "starttls"
    max_attempts: int = Field(default=8, ge=1, le=100)
    cooldown_seconds: float = Field(default=30, ge=0)  # SMTP down or refusing our login: pause sending this long

    @model_validator(mode="after")
    def _complete(self) -> OutboxSettings:
        if self.transport == "smtp" and not self.host:
            raise ValueError("smtp needs host")
        return self


class LadderStep(_Strict):
    """One step of the urgent ladder: this many working hours after the urgent mail, with no answer from the
    承办人 yet, these people are told (`head`: the 部门负责人, `duty`: the duty list, else staff ids or addresses)."""

    after_hours: float = Field(gt=0)
    to: tuple[str, ...] = Field(min_length=1)


class RequestSettings(_Strict):
    """Due dates for requests (诉求), the overdue chase and the urgent ladder."""

    # working days (`working_day` hours each, on the Chinese working-day calendar) from raising to answering
    due_days: dict[Literal["urgent", "strategic", "vip", "survey", "campaign"], int] = {
        "urgent": 1, "strategic": 10, "vip": 10, "survey": 5, "campaign": 10}
    category_due_days: dict[int, int] = {}       # §8.1.1 item → days, overrides due_days.strategic
    head_grace_days: int = Field(default=3, ge=0)  # overdue this long → the department head is told
    digest_hour: int = Field(default=9, ge=0, le=23)  # the week's first working day, from this hour: the digests
    working_day: str = Field(default="08:30-17:30", pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")  # working hours count here
    urgent_ladder: tuple[LadderStep, ...] = (LadderStep(after_hours=2, to=("head",)),
                                             LadderStep(after_hours=4, to=("duty",)))

    def working_hours(self) -> tuple[time, time]:
        start, end = (time.fromisoformat(t) for t in self.working_day.split("-"))
        return start, end


class HealthSettings(_Strict):
    silence_minutes: int = Field(default=30, ge=1)   # no successful poll for this long → the operator is mailed
    login_failures: int = Field(default=3, ge=1)     # this many failed logins in a row → the operator is mailed
    # The daemon's /healthz and Prometheus /metrics: off unless a port is given; loopback unless told otherwise
    # (put a reverse proxy with authentication in front to expose it).
    http_port: int = Field(default=0, ge=0, le=65535)
    http_host: str = "127.0.0.1"


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
    operator_digest_minutes: int = Field(default=60, ge=1)  # strangers' quarantines: one operator mail per this long
    # Raw mail holds personal data: after this many months a message's bytes are deleted, its record (sender,
    # subject, outcome, what was filed from it) kept. 0 keeps them for ever.
    keep_raw_months: int = Field(default=24, ge=0)


class SecuritySettings(_Strict):
    """Whom to believe about a sender (README "Security"): only our own servers' Authentication-Results."""

    authserv_ids: tuple[str, ...] = ()      # the authserv-id our receiving server writes, e.g. mx.hq.example.cn
    require_authentication: bool = False    # quarantine registered senders' mail that our server did not vouch for

    @field_validator("authserv_ids")
    @classmethod
    def _ids(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(not i.strip() or any(c in i for c in " ;\t") for i in v):
            raise ValueError("each authserv-id is one host-like word, e.g. mx.hq.example.cn")
        return tuple(i.strip().lower() for i in v)


class PushSettings(_Strict):
    """An instant-message group robot told of every urgent matter (企业微信 / 钉钉 / 飞书). The webhook URL holds the
    robot's key and the signing secret is one: both come from the environment, never from the file."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    kind: Literal["wecom", "dingtalk", "feishu"]
    url_env: str
    secret_env: str | None = None


MeasureKey = Literal["on_time", "completeness", "corrections", "requests_by_due", "answer_days", "close_days",
                     "follow_ups", "satisfaction", "urgent_hours"]


class EvaluationSettings(_Strict):
    """The units' maintenance evaluation (维护工作评估, §4.1 b): each measure scores 0–100, the unit's score is their
    weighted mean over the measures it has data for (README "Evaluating the units")."""

    schedule: bool = False   # mail each quarter's (and year's) evaluation on the first working day after it closes
    # A measure left out weighs 0: shown, never scored. Normalised by the weights of the measures a unit has data for.
    weights: dict[MeasureKey, float] = {"on_time": 0.25, "completeness": 0.15, "corrections": 0.10,
                                        "requests_by_due": 0.10, "answer_days": 0.05, "close_days": 0.05,
                                        "follow_ups": 0.15, "satisfaction": 0.15, "urgent_hours": 0.0}
    late_credit: float = Field(default=0.5, ge=0, le=1)     # a late report counts this much of an on-time one
    corrections_zero_at: float = Field(default=2.0, gt=0)   # error replies per accepted report that score 0
    answer_days: tuple[float, float] = (5.0, 20.0)    # median days to answer a 诉求: ≤ first scores 100, ≥ second 0
    close_days: tuple[float, float] = (10.0, 40.0)    # median days to close a 诉求, likewise
    urgent_hours: tuple[float, float] = (2.0, 24.0)   # median hours to HQ's first response to an urgent matter
    satisfaction_by_unit: bool = False   # count answers a unit filled in for its customer (代填): it grades itself

    @field_validator("weights")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        if any(w < 0 for w in v.values()):
            raise ValueError("weights must be 0 or more")
        if sum(v.values()) <= 0:
            raise ValueError("at least one weight must be above 0")
        return v

    @field_validator("answer_days", "close_days", "urgent_hours")
    @classmethod
    def _range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] < v[1]:
            raise ValueError("give [full marks at or below, zero at or above], the first smaller, e.g. [5, 20]")
        return v


class BulletinSettings(_Strict):
    """The 重点客户月报's masthead (README "The bulletin"); the department's name is identity.department."""

    group: str = "气电集团"
    title: str = "重点客户月报"
    first_issue: str | None = None      # "2026-10": the month of 第1期 (default: every January starts at 第1期)
    classification: str = "内部资料 注意保密"
    editor: str = ""                    # 编制
    reviewer: str = ""                  # 审核
    issuer: str = ""                    # 签发
    distribution: str = "报送：气电集团领导。分送：资源与市场部。"
    # The issue goes out on this working day after the report deadline (None: schedule.bulletin_delay_days decides,
    # the first working day after it); its figures count what was accepted by `cutoff` on the day before, and a
    # report accepted later is printed in the next issue's 补报 (README "The bulletin").
    issue_workday: int | None = Field(default=None, ge=1, le=10)
    cutoff: time = time(18, 0)

    @field_validator("first_issue")
    @classmethod
    def _month(cls, v: str | None) -> str | None:
        import re

        if v is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", v):
            raise ValueError(f"not a month YYYY-MM: {v!r}")
        return v


class WebSettings(_Strict):
    """The board (`mailbot web`): where it listens, the address its links carry, its session secret's variable."""

    host: str = "127.0.0.1"                      # loopback: the group's reverse proxy (TLS) sits in front
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8080"    # how people reach it: the sign-in links start with this
    secret_env: str = "MAILBOT_WEB_SECRET"       # signs the session cookies; never in a file
    link_minutes: int = Field(default=15, ge=1, le=120)
    signins_per_address: int = Field(default=5, ge=1)   # sign-in requests an hour for one address
    signins_per_client: int = Field(default=20, ge=1)   # and from one client address
    session_hours: int = Field(default=12, ge=1)
    # The intranet SSO: the reverse proxy puts the signed-in address in this header (e.g. X-Remote-User); honoured
    # only on requests from `trusted_proxies` (addresses or networks), so nobody else can claim to be anyone.
    trusted_user_header: str | None = None
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)


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
    security: SecuritySettings = SecuritySettings()
    health: HealthSettings = HealthSettings()
    requests: RequestSettings = RequestSettings()
    bulletin: BulletinSettings = BulletinSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    push: tuple[PushSettings, ...] = ()
    web: WebSettings = WebSettings()
    directory: str = "config/directory.yaml"
    operator: str = "it-ops@hq.example.cn"

    # Set by load_settings, not by the file: where relative paths start.
    home: Path = Path(".")
    source: str = "(built-in defaults)"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):  # ValueError: not even a key, e.g. "../etc/passwd"
            raise ValueError(f"unknown time zone {v!r} (an IANA name such as Asia/Shanghai)") from None
        return v

    def path(self, p: str) -> Path:
        """A configured path, relative paths taken from the project home."""
        q = Path(p)
        return q if q.is_absolute() else self.home / q

    def database_url(self) -> str:
        """The SQLAlchemy URL with relative SQLite paths anchored at home and the password from the environment."""
        from sqlalchemy.engine import make_url

        url = self.database.url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            url = "sqlite:///" + str(self.path(url[len("sqlite:///"):]))
        if url.startswith("postgresql://"):  # SQLAlchemy's default driver (psycopg2) is not installed: psycopg 3 is
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        if self.database.password_env:
            secret = os.environ.get(self.database.password_env)
            if secret is None:
                raise ConfigError(f"{self.source}: database.password_env: "
                                  f"environment variable {self.database.password_env} is not set")
            return make_url(url).set(password=secret).render_as_string(hide_password=False)
        return url

    def secret(self, ref: SecretRef, where: str) -> str:
        """Read a secret when it is needed (never at load time, never logged)."""
        if ref.env is not None:
            value = os.environ.get(ref.env)
            if not value:
                raise ConfigError(f"{self.source}: {where}.env: environment variable {ref.env} is not set")
            return value
        path = self.path(ref.file or "")
        try:
            return path.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError):
            raise ConfigError(f"{self.source}: {where}.file: cannot read a secret from {path}") from None

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
        elif e["type"] == "value_error":  # our validators' own words, without pydantic's "Value error, "
            msg = str(e.get("ctx", {}).get("error", msg))
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
