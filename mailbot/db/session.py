"""Engines and transactions: the one place that talks to SQLAlchemy's connection layer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

CONNECT_TIMEOUT = 10  # seconds a PostgreSQL server has to answer a new connection


def make_engine(url: str, **kw: Any) -> Engine:
    """An engine; SQLite gets foreign keys, WAL and a busy timeout so the daemon and a CLI command can share it."""
    if url.startswith("sqlite"):
        kw.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kw)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    if "connect_timeout" not in make_url(url).query:
        # libpq waits for TCP's own timeout (minutes) on a host that does not answer; a command or a daemon
        # pass would hang that long instead of saying the database is unreachable.
        kw["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT, **kw.get("connect_args", {})}
    return create_engine(url, pool_pre_ping=True, **kw)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session], *, dry_run: bool = False) -> Iterator[Session]:
    """A session whose work commits at the end of the block, or rolls back entirely — always, for a dry run
    (a job's `--dry-run` makes the same decisions and keeps none of them)."""
    with factory() as session:
        session.begin()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        if dry_run:
            session.rollback()
        else:
            session.commit()
