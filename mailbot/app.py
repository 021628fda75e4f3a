"""The composition root: the only place that builds engines, mailboxes, transports and calendars.

Commands get an `App` and pass its parts down; nothing else reads settings or
opens connections on its own, so a test can build an App around a temporary
directory and a real database and run the same code the daemon runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cached_property
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from mailbot.db.session import make_engine, session_factory
from mailbot.directory import Directory, load_directory
from mailbot.domain.due import Schedule
from mailbot.domain.workdays import WorkCalendar, YearRule
from mailbot.mailboxes.base import Mailbox
from mailbot.mailboxes.maildir import MaildirMailbox
from mailbot.outbox.compose import Identity
from mailbot.outbox.queue import Transport
from mailbot.outbox.transports import MaildirTransport
from mailbot.settings import Settings

log = logging.getLogger(__name__)


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

    @cached_property
    def mailbox(self) -> Mailbox:
        m = self.settings.mailbox
        return MaildirMailbox(self.settings.path(m.path), max_bytes=m.max_message_bytes)

    @cached_property
    def transport(self) -> Transport:
        return MaildirTransport(self.settings.path(self.settings.outbox.path))


def build_app(settings: Settings, *, clock: Callable[[], datetime] = system_clock,
              engine: Engine | None = None) -> App:
    settings.path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    engine = engine or make_engine(settings.database_url())
    directory = load_directory(settings.path(settings.directory))
    return App(settings=settings, engine=engine, sessions=session_factory(engine), directory=directory,
               clock=clock)
