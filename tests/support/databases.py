"""Test databases: migrated once per session, copied per test.

Migrating with Alembic and syncing the demo directory takes ~0.4 s; a test that wants a database at head with the
demo directory loaded (every test of `make_app`) gets a copy of a template made once per session instead:

- SQLite: the template file, copied into the test's tmp_path (~1 ms).
- PostgreSQL: a schema of the server's `test` database. When a test ends, its schema is put back into the
  template's state — every row deleted, the template's rows copied in, each sequence set to the template's value,
  ~20 ms — and the next test gets it; a schema is migrated only when no put-back one is free (once per run, as
  tests run one after another). A schema whose put-back fails (a test changed its tables, indexes or columns, or
  left a lock held) is dropped instead. Measured on the 2-core machine against migrating each time (~0.35 s):
  `CREATE DATABASE … TEMPLATE` took 0.05–0.6 s (it copies ~7 MB of catalogs, WAL-logged) and recreating the
  schema's tables from a dump ~0.15 s.

A test that wants an empty database gets one of its own, as before: a new file, or a new schema dropped after it.

Everything this creates on the server is named `mailbot_test_<pid>_…` — the pid of the pytest process. A run
drops what it created; at start it drops what runs that died left behind (whose process is gone), and never the
schemas of another run going on at the same time.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from mailbot.app import build_app
from mailbot.db.migrate import upgrade
from mailbot.db.session import make_engine, transaction
from mailbot.directory.lookup import sync_directory
from mailbot.settings import Settings

PREFIX = "mailbot_test_"
LOCK_TIMEOUT = "10s"  # a put-back waiting longer for a lock some test left held gives the schema up


def migrate_demo(settings: Settings) -> None:
    """What every `make_app` call used to do: the schema at head, the demo directory synced."""
    app = build_app(settings)
    try:
        upgrade(app.engine)
        with transaction(app.sessions) as s:
            sync_directory(s, app.directory)
    finally:
        app.engine.dispose()


# --- SQLite ------------------------------------------------------------------------------------------------------


def copy_sqlite(template: Path, path: Path) -> None:
    shutil.copyfile(template, path)
    wal = Path(f"{template}-wal")  # emptied when the template's last connection closed; copied should it not be
    if wal.exists():
        shutil.copyfile(wal, f"{path}-wal")


def remove_sqlite(url: str) -> None:
    path = make_url(url).database or ""
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


# --- PostgreSQL --------------------------------------------------------------------------------------------------


class ChangedSchema(Exception):
    """A test changed its schema's tables: it cannot be put back by copying rows."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PgSchemas:
    """The schemas one run creates in the PostgreSQL database at `url`."""

    def __init__(self, url: str, migrate: Callable[[str], None]) -> None:
        self.url = url
        self.admin = make_engine(url)
        self.migrate = migrate  # URL → that schema at head with the demo directory
        self.own = f"{PREFIX}{os.getpid()}_"
        self.template: str | None = None
        self.free: list[str] = []  # put back into the template's state, waiting for the next test
        self._tables: list[str] = []  # the template's, referenced tables first
        self._filled: list[str] = []  # those holding rows (the directory, alembic_version)
        self._sequences: list[tuple[str, int, int | None]] = []  # name, start, last value (None: never used)
        self._shape = (0, 0, 0)
        self.drop_leftovers()

    def schema_url(self, schema: str) -> str:
        return make_url(self.url).update_query_dict({"options": f"-csearch_path={schema}"}) \
            .render_as_string(hide_password=False)

    def schema_of(self, url: str) -> str:
        options = make_url(url).query["options"]
        assert isinstance(options, str) and options.startswith("-csearch_path="), url
        return options.removeprefix("-csearch_path=")

    def drop_leftovers(self) -> None:
        with self.admin.connect() as c:
            names = c.scalars(text("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, :p)"),
                              {"p": PREFIX}).all()
        for name in names:
            pid = name[len(PREFIX):].split("_", 1)[0]
            if pid.isdigit() and (name.startswith(self.own) or not _alive(int(pid))):
                self.drop(name)

    def create(self) -> str:
        """A new, empty schema."""
        name = f"{self.own}{uuid.uuid4().hex[:12]}"
        with self.admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{name}"'))
        return name

    def drop(self, name: str) -> None:
        with self.admin.begin() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))

    def empty(self, name: str) -> None:
        """Empty a schema, keeping its name."""
        with self.admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
            c.execute(text(f'CREATE SCHEMA "{name}"'))

    # -- migrated schemas --

    def take(self) -> str:
        """A schema with the template's content, for one test; `give_back` it afterwards."""
        if self.free:
            return self.free.pop()
        if self.template is None:
            self._make_template()
        name = self.create()
        engine = make_engine(self.schema_url(name))
        try:
            upgrade(engine)
            self._put_back(name)
        except BaseException:
            self.drop(name)
            raise
        finally:
            engine.dispose()
        return name

    def give_back(self, name: str) -> None:
        try:
            self._put_back(name)
        except (SQLAlchemyError, ChangedSchema):
            self.drop(name)
        else:
            self.free.append(name)

    def _make_template(self) -> None:
        name = self.create()
        self.migrate(self.schema_url(name))
        with self.admin.connect() as c:
            self._tables = [t for t, _ in inspect(c).get_sorted_table_and_fkc_names(schema=name) if t]
            self._filled = [t for t in self._tables
                            if c.scalar(text(f'SELECT EXISTS (SELECT FROM "{name}"."{t}")'))]
            self._sequences = [(s, start, last) for s, start, last in c.execute(
                text("SELECT sequencename, start_value, last_value FROM pg_sequences WHERE schemaname = :s"),
                {"s": name})]
            self._shape = self._shape_of(c, name)
        self.template = name

    @staticmethod
    def _shape_of(c: Connection, schema: str) -> tuple[int, int, int]:
        """How many relations, columns and constraints a schema has: a test that changed them (a table, an index,
        a column more or less) gets its schema dropped rather than handed on."""
        row = c.execute(text(
            "SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = n.oid),"
            " (SELECT count(*) FROM pg_attribute a JOIN pg_class r ON a.attrelid = r.oid"
            "  WHERE r.relnamespace = n.oid AND NOT a.attisdropped),"
            " (SELECT count(*) FROM pg_constraint WHERE connamespace = n.oid)"
            " FROM pg_namespace n WHERE n.nspname = :s"), {"s": schema}).one()
        return (row[0], row[1], row[2])

    def _put_back(self, name: str) -> None:
        """Make the schema hold exactly the template's rows and sequence values, in one transaction."""
        tpl = self.template
        sql = [f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"]
        sql += [f'DELETE FROM "{name}"."{t}"' for t in reversed(self._tables)]
        sql += [f'INSERT INTO "{name}"."{t}" OVERRIDING SYSTEM VALUE SELECT * FROM "{tpl}"."{t}"'
                for t in self._filled]
        sql += [f"SELECT setval('\"{name}\".\"{s}\"', {start if last is None else last}, {last is not None})"
                for s, start, last in self._sequences]
        with self.admin.begin() as c:
            if self._shape_of(c, name) != self._shape:
                raise ChangedSchema(name)
            c.exec_driver_sql(";\n".join(sql))

    def close(self) -> None:
        for name in [*self.free, *([self.template] if self.template else [])]:
            self.drop(name)
        self.admin.dispose()
