"""Shared fixtures: a real database (SQLite file, and PostgreSQL on 127.0.0.1:5432) and an App around it.

PostgreSQL tests run in a schema of their own that is dropped afterwards. Where
the server is absent they are skipped with the reason — except in CI, where
that is a failure, because CI must exercise both databases.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from mailbot.app import App, build_app
from mailbot.db.migrate import upgrade
from mailbot.db.session import make_engine, transaction
from mailbot.directory.lookup import sync_directory
from mailbot.settings import Settings
from tests.servers.dovecot import Account, Dovecot, require_dovecot

PROJECT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("MAILBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TZ = ZoneInfo("Asia/Shanghai")


def _pg_or_skip() -> None:
    import psycopg

    try:
        psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3).close()
    except psycopg.OperationalError as e:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI: {e}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {e}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    _pg_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as c:
        c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


class Clock:
    """A settable clock: tests move time instead of waiting for it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, *args: int) -> datetime:
        self.now = datetime(*args, tzinfo=TZ)  # type: ignore[misc]
        return self.now


def test_settings(root: Path, db_url: str, **overrides: object) -> Settings:
    data: dict[str, object] = {
        "home": PROJECT, "source": "(test)", "data_dir": str(root),
        "database": {"url": db_url}, "mailbox": {"path": str(root / "mail")},
        "outbox": {"path": str(root / "outbox")}, "directory": "config/directory.example.yaml",
        "identity": {"address": "kcr@hq.example.cn", "token_secret_env": None},
    }
    data.update(overrides)
    return Settings.model_validate(data)


test_settings.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One real Dovecot on loopback for the whole run (mailbox and integration tests share it)."""
    require_dovecot()
    server = Dovecot()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def account(dovecot: Dovecot) -> Account:
    """An IMAP account nobody used before: fresh folders, UIDVALIDITY and UIDs without a server restart."""
    if not dovecot.running:  # a test that stopped the server failed before starting it again
        dovecot.start(dovecot.dir, dovecot.ports)
    return dovecot.new_user()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 13, 9, 0, tzinfo=TZ))


@pytest.fixture
def make_app(tmp_path: Path, db_url: str, clock: Clock) -> Iterator[Callable[..., App]]:
    """Build an App on a migrated database with the demo directory loaded."""
    apps: list[App] = []

    def make(**overrides: object) -> App:
        app = build_app(test_settings(tmp_path, db_url, **overrides), clock=clock)
        upgrade(app.engine)
        with transaction(app.sessions) as s:
            sync_directory(s, app.directory)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app()
