"""Shared fixtures: a real database (SQLite file, and PostgreSQL on 127.0.0.1:5432) and an App around it.

Each test gets a database of its own: a SQLite file, or a PostgreSQL schema named `mailbot_test_<pid>_…`.
`db_url` alone is empty; for a test that uses `make_app` it is already migrated with the demo directory loaded —
a copy of a template made once per session (tests/support/databases.py). Where the server is absent the
PostgreSQL tests are skipped with the reason — except in CI, where that is a failure, because CI must exercise
both databases.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from mailbot.app import App, build_app
from mailbot.db.migrate import upgrade
from mailbot.db.session import transaction
from mailbot.directory.lookup import sync_directory
from tests.servers.dovecot import Account, Dovecot, require_dovecot
from tests.support.databases import PgSchemas, copy_sqlite, migrate_demo, remove_sqlite
from tests.support.mailflow import PROJECT, TZ, Clock, test_settings

PG_URL = os.environ.get("MAILBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DEMO_DIRECTORY = PROJECT / "config/directory.example.yaml"


# The longest modules first: `pytest -n 4 --dist loadfile` hands modules to workers in collection order, and a long
# one handed out last (the demo's CLI fixture alone is half a minute) keeps one worker busy while the others wait.
LONG_FIRST = ("tests/test_cli.py", "tests/integration/", "tests/demo/", "tests/deploy/", "tests/pipeline/test_sender.py",
              "tests/campaigns/test_campaigns.py", "tests/evaluation/", "tests/web/", "tests/surveys/test_results.py",
              "tests/test_settings.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((i for i, prefix in enumerate(LONG_FIRST) if item.nodeid.startswith(prefix)), len(LONG_FIRST))
    items.sort(key=rank)   # stable: each module's tests stay together, in their order


def _pg_or_skip() -> None:
    import psycopg

    try:
        psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3).close()
    except psycopg.OperationalError as e:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI: {e}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {e}")


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at head with the demo directory, made once per session."""
    root = tmp_path_factory.mktemp("sqlite_template")
    path = root / "template.sqlite3"
    migrate_demo(test_settings(root, f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def _pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgSchemas]:
    """This run's schemas on the PostgreSQL server (request it after `_pg_or_skip`)."""
    root = tmp_path_factory.mktemp("pg_template")
    schemas = PgSchemas(PG_URL, lambda url: migrate_demo(test_settings(root, url)))
    yield schemas
    schemas.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of each kind, the test's own: empty — or, in a test that uses `make_app`, migrated to
    head with the demo directory synced (a copy of the session's template), which `make_app` builds on."""
    migrated = "make_app" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        if migrated:
            copy_sqlite(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    _pg_or_skip()
    pg: PgSchemas = request.getfixturevalue("_pg")
    if migrated:
        schema = pg.take()
        yield pg.schema_url(schema)
        pg.give_back(schema)
    else:
        schema = pg.create()
        yield pg.schema_url(schema)
        pg.drop(schema)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """One App of each kind for a whole module, on a copy of the template, with its own clock (`app.clock`).

    For modules whose tests read what one costly scenario built (a month played): the scenario runs once per
    database kind instead of once per test. A test using it must leave the database as it found it.
    """
    root = tmp_path_factory.mktemp("module_app")
    pg: PgSchemas | None = None
    if request.param == "sqlite":
        path = root / "test.sqlite3"
        copy_sqlite(request.getfixturevalue("_sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        _pg_or_skip()
        pg = request.getfixturevalue("_pg")
        schema = pg.take()
        url = pg.schema_url(schema)
    app = build_app(test_settings(root, url), clock=Clock(datetime(2026, 11, 13, 9, 0, tzinfo=TZ)))
    yield app
    app.engine.dispose()
    if pg is not None:
        pg.give_back(schema)


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
def make_app(request: pytest.FixtureRequest, tmp_path: Path, db_url: str,
             clock: Clock) -> Iterator[Callable[..., App]]:
    """Build an App on a migrated database with the demo directory loaded.

    `db_url` already is one (see `db_url`), so the first App on it is only built. Each other call migrates (a
    no-op at head) and syncs its App's directory, as every call always did: a second App on the same database,
    or one on a database of its own (`database=` override). Should the first App on `db_url` read another
    directory, the database is emptied first, so that it holds only that directory, as it always did.
    """
    apps: list[App] = []
    used: set[str] = set()  # the database URLs of this test's Apps

    def make(**overrides: object) -> App:
        settings = test_settings(tmp_path, db_url, **overrides)
        url = settings.database.url
        as_copied = url == db_url and url not in used
        if as_copied and settings.path(settings.directory).resolve() != DEMO_DIRECTORY.resolve():
            _empty(request, url)
            as_copied = False
        app = build_app(settings, clock=clock)
        apps.append(app)
        used.add(url)
        if not as_copied:
            upgrade(app.engine)
            with transaction(app.sessions) as s:
                sync_directory(s, app.directory)
        return app

    yield make
    for app in apps:
        app.engine.dispose()


def _empty(request: pytest.FixtureRequest, url: str) -> None:
    """Empty the test's database (`db_url`), keeping its name."""
    if url.startswith("sqlite"):
        remove_sqlite(url)
    else:
        pg: PgSchemas = request.getfixturevalue("_pg")
        pg.empty(pg.schema_of(url))


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app()
