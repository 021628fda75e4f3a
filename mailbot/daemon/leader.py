"""Only one daemon acts at a time: a lock the others wait for.

On PostgreSQL the lock is a session advisory lock held on a dedicated
connection, so it vanishes with the process that held it and a standby takes
over on its next try. On SQLite (one machine) it is an exclusive `flock` on a
file beside the database.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

LOCK_ID = 0x6D61696C  # "mail"; the second key is the schema, so deployments sharing a database don't collide


class Leadership(Protocol):
    def hold(self) -> bool:
        """Take the lock if free, or confirm it is still ours; False while another daemon has it."""
        ...

    def release(self) -> None:
        ...


class PgLeadership:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Connection | None = None
        self.pid: int | None = None

    def hold(self) -> bool:
        if self.conn is not None:
            try:
                # Same backend process = same session = the lock is still ours. A reconnected
                # connection would answer SELECT 1 happily while the lock went with the old session.
                pid = self.conn.execute(text("SELECT pg_backend_pid()")).scalar()
                self.conn.commit()
                if pid == self.pid:
                    return True
            except Exception:  # noqa: BLE001 - the connection, and with it the lock, is gone
                pass
            log.warning("lost the database session holding the daemon lock")
            self.release()
            return False
        conn = self.engine.connect()
        got, pid = conn.execute(text("SELECT pg_try_advisory_lock(:k, hashtext(current_schema())), pg_backend_pid()"), {"k": LOCK_ID}).one()
        conn.commit()
        if got:
            self.conn, self.pid = conn, pid
            return True
        conn.close()
        return False

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001 - closing a dead connection
                pass
            self.conn = None


class FileLeadership:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def hold(self) -> bool:
        if self.fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def leadership(engine: Engine, data_dir: Path) -> Leadership:
    if engine.dialect.name == "postgresql":
        return PgLeadership(engine)
    return FileLeadership(data_dir / "mailbot.lock")
