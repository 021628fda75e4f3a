"""`mailbot backup DIR` and `mailbot restore DIR`: the database — which holds the raw mail — and the PDFs made from
it, copied whole while the daemon runs, and put back.

SQLite is copied with its online backup API (a consistent copy even while the daemon writes); PostgreSQL with
`pg_dump` in its custom format, restored with `pg_restore --clean`, the password passed in the environment, never
on a command line. A manifest records the revision and every table's row count; `restore` checks the database it
made against it, so a restore that lost rows fails loudly instead of starting a daemon on half the history.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, inspect, select, table
from sqlalchemy.engine import make_url

from mailbot.db.migrate import current_revision
from mailbot.db.models import Base, InboundMessage
from mailbot.errors import MailbotError

FILE_FOLDERS = ("bulletins", "surveys", "archives")   # what mailbot wrote under data_dir besides the database
SQLITE_FILE, PG_FILE, MANIFEST = "mailbot.sqlite3", "mailbot.pgdump", "manifest.json"


@dataclass(frozen=True)
class Manifest:
    made_at: str
    revision: str | None
    database: str                 # sqlite | postgresql
    tables: dict[str, int]        # row counts
    files: int

    def lines(self) -> list[str]:
        rows = sum(self.tables.values())
        return [f"{self.database} database at revision {self.revision}: {len(self.tables)} tables, {rows} rows "
                f"({self.tables.get('inbound_messages', 0)} inbound messages); {self.files} file(s)"]


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table of ours, in a stable order."""
    present = set(inspect(engine).get_table_names())
    with engine.connect() as c:
        return {name: int(c.scalar(select(func.count()).select_from(table(name))) or 0)
                for name in sorted(Base.metadata.tables) if name in present}


def _pg(url: str) -> tuple[list[str], dict[str, str], str | None]:
    """libpq connection arguments for the pg_* tools, the environment carrying the password, and the schema."""
    u = make_url(url)
    args = ["--host", u.host or "localhost", "--port", str(u.port or 5432), "--username", u.username or "postgres",
            "--dbname", u.database or "postgres"]
    env = {**os.environ, **({"PGPASSWORD": u.password} if u.password else {})}
    options = u.query.get("options")
    schema = options.removeprefix("-csearch_path=") if isinstance(options, str) and "search_path=" in options \
        else None
    return args, env, schema


def _run(cmd: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise MailbotError(f"{cmd[0]} is not installed (Debian: postgresql-client)") from None
    if done.returncode != 0:
        raise MailbotError(f"{cmd[0]} failed: {done.stderr.strip()[:500]}")


def _sqlite_copy(source_path: str | Path, target_path: str | Path) -> None:
    """SQLite's online backup API: a consistent copy even while the daemon writes."""
    source, target = sqlite3.connect(source_path), sqlite3.connect(target_path)
    with target:
        source.backup(target)
    source.close()
    target.close()


def backup(engine: Engine, url: str, data_dir: Path, dest: Path, now: datetime) -> Manifest:
    """Copy the database and the generated files into `dest` (which must be new or empty)."""
    if dest.exists() and any(dest.iterdir()):
        raise MailbotError(f"{dest} is not empty: back up into a new directory")
    dest.mkdir(parents=True, exist_ok=True)
    if engine.dialect.name == "sqlite":
        _sqlite_copy(make_url(url).database or "", dest / SQLITE_FILE)
    else:
        args, env, schema = _pg(url)
        _run(["pg_dump", "--format=custom", "--no-owner", *(["--schema", schema] if schema else []), *args,
              "--file", str(dest / PG_FILE)], env)
    files = 0
    for folder in FILE_FOLDERS:
        if (data_dir / folder).is_dir():
            shutil.copytree(data_dir / folder, dest / "files" / folder)
            files += sum(1 for p in (dest / "files" / folder).rglob("*") if p.is_file())
    manifest = Manifest(made_at=now.isoformat(), revision=current_revision(engine), database=engine.dialect.name,
                        tables=table_counts(engine), files=files)
    (dest / MANIFEST).write_text(json.dumps(manifest.__dict__, ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest


def restore(engine: Engine, url: str, data_dir: Path, src: Path, *, force: bool = False) -> Manifest:
    """Put a backup back; refuses a database that already holds mail unless `force`. Checks every table's rows."""
    try:
        manifest = Manifest(**json.loads((src / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as e:
        raise MailbotError(f"{src}: not a mailbot backup ({MANIFEST}: {e})") from None
    if manifest.database != engine.dialect.name:
        raise MailbotError(f"{src} holds a {manifest.database} backup; the configured database is "
                           f"{engine.dialect.name}")
    if not force and InboundMessage.__tablename__ in inspect(engine).get_table_names():
        with engine.connect() as c:
            if c.scalar(select(func.count()).select_from(InboundMessage)):
                raise MailbotError("the configured database already holds mail: restore into an empty one, "
                                   "or pass --force to replace it")
    engine.dispose()
    if engine.dialect.name == "sqlite":
        _sqlite_copy(src / SQLITE_FILE, make_url(url).database or "")
    else:
        args, env, _ = _pg(url)
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", *args, str(src / PG_FILE)], env)
    for folder in FILE_FOLDERS:
        if (src / "files" / folder).is_dir():
            shutil.copytree(src / "files" / folder, data_dir / folder, dirs_exist_ok=True)
    got = table_counts(engine)
    if got != manifest.tables or current_revision(engine) != manifest.revision:
        raise MailbotError(f"the restored database differs from the backup: {got} ≠ {manifest.tables}")
    return manifest
