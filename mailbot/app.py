"""The composition root: the only place that builds engines, mailboxes, transports and calendars.

Commands get an `App` and pass its parts down; nothing else reads settings or
opens connections on its own, so a test can build an App around a temporary
directory and a real database and run the same code the daemon runs.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailbot.db.migrate import current_revision, require_current, upgrade
from mailbot.db.session import make_engine, session_factory, transaction
from mailbot.db.state import DbStateStore
from mailbot.directory.config import Directory, load_directory
from mailbot.directory.lookup import sync_directory
from mailbot.domain.due import Schedule
from mailbot.domain.workdays import WorkCalendar, YearRule
from mailbot.errors import ConfigError
from mailbot.mailboxes.base import Mailbox
from mailbot.mailboxes.maildir import MaildirMailbox
from mailbot.net.oauth import OAuth2Token
from mailbot.outbox.compose import Identity
from mailbot.outbox.push import Channel, PushTransport, Router
from mailbot.outbox.queue import Change, DeliveryFailed, Transport, send_pending
from mailbot.outbox.transports import MaildirTransport
from mailbot.settings import ServerSettings, Settings, load_settings

if TYPE_CHECKING:
    from mailbot.mailboxes.exchange import EwsLogin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Credentials:
    password: Callable[[], str] | None = None
    oauth_token: Callable[[], str] | None = None


def _env(name: str) -> Callable[[], str]:
    """A secret read from the environment when it is needed; missing, it fails that push (retried), not the mail."""
    def read() -> str:
        value = os.environ.get(name)
        if not value:
            raise DeliveryFailed(f"the environment variable {name} is not set")
        return value
    return read


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class App:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    directory: Directory
    clock: Callable[[], datetime] = system_clock

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()

    @property
    def identity(self) -> Identity:
        i = self.settings.identity
        return Identity(address=i.address, display_name=i.display_name)

    @property
    def department(self) -> str:
        """Who the bot writes as (气电集团资源与市场部): every mail's sign-off."""
        return self.settings.identity.department

    @cached_property
    def calendar(self) -> WorkCalendar:
        rules = {y: YearRule(holidays=frozenset(r.holidays), workdays=frozenset(r.workdays))
                 for y, r in self.settings.calendar.years.items()}
        return WorkCalendar(rules)

    @property
    def schedule(self) -> Schedule:
        s = self.settings.schedule
        return Schedule(request_day=s.request_day, deadline_day=s.deadline_day,
                        reminder_offsets=s.reminder_offsets, bulletin_delay_days=s.bulletin_delay_days)

    backfill: bool = False  # `mailbot run --backfill`: process mail older than the first connection

    @cached_property
    def mailbox(self) -> Mailbox:
        try:
            return self._mailbox()
        except ValueError as e:  # a backend refusing its settings (e.g. plain text to a remote host)
            raise ConfigError(f"{self.settings.source}: {e}") from None

    @cached_property
    def transport(self) -> Transport:
        try:
            mail = self._transport()
        except ValueError as e:
            raise ConfigError(f"{self.settings.source}: {e}") from None
        if not self.settings.push:
            return mail
        channels = {p.name: Channel(p.name, p.kind, _env(p.url_env), _env(p.secret_env) if p.secret_env else
                                    (lambda: None)) for p in self.settings.push}
        return Router(mail, PushTransport(channels))

    def _mailbox(self) -> Mailbox:
        m = self.settings.mailbox
        if m.backend == "maildir":
            return MaildirMailbox(self.settings.path(m.path), max_bytes=m.max_message_bytes)
        state = DbStateStore(self.sessions, self.now, prefix=f"mailbox:{m.backend}:")
        if m.backend == "exchange":
            from mailbot.mailboxes.exchange import ExchangeMailbox

            return ExchangeMailbox(login=self.ews_login, state=state, max_bytes=m.max_message_bytes,
                                   folders=m.folders, backfill=m.backfill or self.backfill)
        from mailbot.mailboxes.imap import ImapMailbox

        assert m.host and m.username
        creds = self._credentials(m, "mailbox")
        return ImapMailbox(host=m.host, port=m.port, username=m.username, security=m.security,
                           ssl_context=self._ssl(m), folder=m.folder, folders=dict(m.folders),
                           max_bytes=m.max_message_bytes, state=state, backfill=m.backfill or self.backfill,
                           timeout=m.timeout, password=creds.password, oauth_token=creds.oauth_token)

    def _transport(self) -> Transport:
        o = self.settings.outbox
        if o.transport == "maildir":
            return MaildirTransport(self.settings.path(o.path))
        if o.transport == "ews":
            from mailbot.outbox.ews import EwsTransport

            return EwsTransport(self.ews_login)
        from mailbot.outbox.smtp import SmtpTransport

        assert o.host
        creds = self._credentials(o, "outbox")
        return SmtpTransport(host=o.host, port=o.port or {"tls": 465, "starttls": 587, "plain": 25}[o.security],
                             envelope_from=self.settings.identity.address, security=o.security,
                             username=o.username, ssl_context=self._ssl(o), timeout=o.timeout,
                             password=creds.password, oauth_token=creds.oauth_token, cooldown=o.cooldown_seconds)

    @cached_property
    def ews_login(self) -> EwsLogin:
        from mailbot.mailboxes.exchange import EwsLogin

        m = self.settings.mailbox
        assert m.service_endpoint and m.username
        creds = self._credentials(m, "mailbox")
        return EwsLogin(service_endpoint=m.service_endpoint, username=m.username,
                        primary_smtp_address=m.address or self.settings.identity.address,
                        auth_type="basic" if m.auth_type == "basic" else "ntlm", password=creds.password,
                        oauth_token=creds.oauth_token)

    def _credentials(self, server: ServerSettings, where: str) -> Credentials:
        """Secrets as callables: read when a connection is made, so a rotated password needs no restart."""
        if server.oauth2 is not None:
            o = server.oauth2
            secret = o.client_secret
            return Credentials(oauth_token=OAuth2Token(
                token_url=o.token_url, client_id=o.client_id, refresh_token_file=self.settings.path(o.refresh_token_file),
                client_secret=(lambda: self.settings.secret(secret, f"{where}.oauth2.client_secret")) if secret else None,
                scope=o.scope))
        if server.password is not None:
            ref = server.password
            return Credentials(password=lambda: self.settings.secret(ref, f"{where}.password"))
        return Credentials()

    def _ssl(self, server: ServerSettings) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.settings.path(server.ca_file)) if server.ca_file else None)


def build_app(settings: Settings, *, clock: Callable[[], datetime] = system_clock,
              engine: Engine | None = None) -> App:
    settings.path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    engine = engine or open_database(settings)
    directory = load_directory(settings.path(settings.directory))
    return App(settings=settings, engine=engine, sessions=session_factory(engine), directory=directory,
               clock=clock)


def open_database(settings: Settings) -> Engine:
    """The engine, connected once now: a wrong or unreachable database ends the command with one line that
    names the setting, rather than a traceback from whichever query would have come first."""
    url = settings.database_url()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        # sqlite3 says only "unable to open database file"; the likely cause is worth naming.
        folder = Path(parsed.database).parent
        if not folder.is_dir():
            raise ConfigError(f"{settings.source}: database.url: cannot open the SQLite database: "
                              f"the directory {folder} does not exist")
    engine = make_engine(url)
    try:
        with engine.connect():
            pass
    except DBAPIError as e:  # when connecting, every refusal is about the setting: host, user, database, options
        engine.dispose()
        raise _database_error(settings, url, "cannot connect to", e) from None
    return engine


@contextmanager
def database_errors(settings: Settings, url: str, doing: str = "cannot use") -> Iterator[None]:
    """The database failing while a command starts (connect, migrate, load the directory) as a ConfigError naming
    `database.url`, the URL with its password masked, and what the server said.

    Only errors of the database itself (unreachable, refused, read-only, locked, out of space): a constraint
    violated by what we write is a fault of ours or of the directory, not of this setting.
    """
    try:
        yield
    except (OperationalError, InterfaceError) as e:
        raise _database_error(settings, url, doing, e) from None


def _database_error(settings: Settings, url: str, doing: str, e: DBAPIError) -> ConfigError:
    shown = make_url(url).render_as_string(hide_password=True)
    said = str(e.orig if e.orig is not None else e).strip().splitlines()  # libpq adds a hint on a second line
    reason = (said[0] if said else type(e).__name__).removeprefix("connection failed: ")
    return ConfigError(f"{settings.source}: database.url: {doing} {shown}: {reason}")


def open_app(config: Path | None) -> App:
    """What every command starts with: settings read, the App built, the database current and the directory
    loaded (the embedded SQLite default creates its own database on first use)."""

    settings = load_settings(config)
    app = build_app(settings)
    with database_errors(settings, settings.database_url()):
        if current_revision(app.engine) is None and app.engine.dialect.name == "sqlite":
            upgrade(app.engine)
        require_current(app.engine)
        with transaction(app.sessions) as s:
            sync_directory(s, app.directory)
    return app


def deliver_now(app: App) -> str:
    """A command's mail goes out before it returns; one line on how that went."""
    r = send_pending(app.sessions, app.transport, app.now(), max_attempts=app.settings.outbox.max_attempts)
    return f"delivered {r.sent}, retrying {r.retried}, dead {len(r.dead)}"


def change_done(app: App, change: Change, *, dry_run: bool) -> str:
    """What a launch or close command prints: what it did, then what a dry run would queue, or how delivery went."""
    tail = change.plan.report(dry_run=True).splitlines()[0] if dry_run else deliver_now(app)
    return "\n".join([*change.lines(), tail])
