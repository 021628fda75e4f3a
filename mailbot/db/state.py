"""Durable key/value state in the database (the `StateStore` the mailbox backends and health checks use).

Each `set` commits on its own: a baseline or a token must survive a crash that
happens right after it was learnt. `FallbackStore` wraps it for what must not be
lost when the database itself is what failed (the daemon's health).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from mailbot.db.models import KeyValue
from mailbot.db.session import transaction
from mailbot.errors import describe, our_fault
from mailbot.mailboxes.base import StateStore

log = logging.getLogger(__name__)


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


class FallbackStore:
    """A `StateStore` that keeps in memory what the database would not take, and writes it as soon as it can.

    For the daemon's health record, which must outlive the very fault it records: when the database is down,
    full or read-only, `set` keeps the value here (the caller goes on), `get` answers from here, and the next
    `set` or `flush` writes everything still waiting. Only faults of ours are absorbed; a bug still raises.
    """

    def __init__(self, durable: StateStore) -> None:
        self.durable = durable
        self._known: dict[str, str | None] = {}   # the last value read or written, for when the database is down
        self._waiting: dict[str, str] = {}        # written here, not yet in the database
        self._lock = threading.Lock()             # the daemon's loop and its calendar thread share one

    @property
    def behind(self) -> bool:
        """Whether some value has not reached the database: the last write it was asked for failed."""
        with self._lock:
            return bool(self._waiting)

    def get(self, key: str) -> str | None:
        with self._lock:
            if key in self._waiting:
                return self._waiting[key]
            try:
                value = self.durable.get(key)
            except Exception as e:
                if not our_fault(e):
                    raise
                log.warning("state %s: database unreadable, using the value in memory: %s", key, describe(e))
                return self._known.get(key)
            self._known[key] = value
            return value

    def set(self, key: str, value: str) -> None:
        with self._lock:
            self._known[key] = self._waiting[key] = value
        self.flush()

    def flush(self) -> bool:
        """Write what is waiting; True when nothing is left."""
        with self._lock:
            for key, value in list(self._waiting.items()):
                try:
                    self.durable.set(key, value)
                except Exception as e:
                    if not our_fault(e):
                        raise
                    log.warning("state %s: kept in memory until the database takes writes again: %s", key,
                                describe(e))
                    return False
                del self._waiting[key]
            return True
