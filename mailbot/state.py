"""Durable key/value state in the database (the `StateStore` the mailbox backends and health checks use).

Each `set` commits on its own: a baseline or a token must survive a crash that
happens right after it was learnt.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from mailbot.db.models import KeyValue
from mailbot.db.session import transaction


class DbStateStore:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime], prefix: str = "") -> None:
        self.sessions, self.clock, self.prefix = sessions, clock, prefix

    def get(self, key: str) -> str | None:
        with self.sessions() as s:
            row = s.get(KeyValue, self.prefix + key)
            return row.value if row else None

    def set(self, key: str, value: str) -> None:
        with transaction(self.sessions) as s:
            row = s.get(KeyValue, self.prefix + key)
            if row is None:
                s.add(KeyValue(key=self.prefix + key, value=value, updated_at=self.clock()))
            else:
                row.value, row.updated_at = value, self.clock()
