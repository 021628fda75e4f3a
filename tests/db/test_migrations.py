"""The Alembic migrations build exactly the schema the models describe, and upgrade a live database in place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, func, insert, select, text, update

from mailbot.app import build_app
from mailbot.daemon.status import gather_status
from mailbot.db.migrate import current_revision, head_revision, upgrade
from mailbot.db.models import Base, InboundMessage
from mailbot.db.session import make_engine, transaction
from mailbot.demo import replies
from mailbot.demo.month import SimClock, play_month
from mailbot.directory.lookup import sync_directory
from mailbot.domain import due
from tests.support.mailflow import GD, HQ, arrive_one, test_settings

FIRST = "0001"
PERIOD = "2026-11"
SAME = ("period", "deadline", "today", "units", "quarantine", "outbox", "mailbox", "calendar")   # of status --json


def test_migrations_match_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrading_to_content_keys_keeps_the_mail_and_frees_the_message_id(db_url: str) -> None:
    # 0001 → 0002 on a database holding mail: the row stays, and a second message may carry the same Message-ID.
    engine = make_engine(db_url)
    upgrade(engine, "0001")
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    row = dict(mailbox="maildir", message_id="<x@gd.example.cn>", raw=b"x", size=1, received_at=now,
               recorded_at=now, status="processed")
    with engine.begin() as c:
        c.execute(insert(InboundMessage.__table__).values(uid_key="a", sha256="1" * 64, **row))
    upgrade(engine)
    with engine.begin() as c:
        c.execute(insert(InboundMessage.__table__).values(uid_key="b", sha256="2" * 64, content_key="k", **row))
        assert c.execute(select(InboundMessage.uid_key).order_by(InboundMessage.id)).scalars().all() == ["a", "b"]
    engine.dispose()


# --- from the first revision, on a database populated by the demo month -------------------------------------------


Rows = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Month:
    rows: Rows                  # table of 0001 → its rows, in the columns of 0001
    status: dict[str, Any]      # `mailbot status --json` for the month, on the database it was played on
    end: datetime               # the clock when the month was over
    root: Path                  # where its settings put the data (the outbox path is in the status)


@pytest.fixture(scope="module")
def first_month(tmp_path_factory: pytest.TempPathFactory) -> Month:
    """The demo month played at head (SQLite), as the rows an installation of the first revision could hold: the
    tables of 0001, their columns of 0001. Also `mailbot status` for the month as the head database shows it.

    Faithful enough and cheap: rows the first revision could not hold (hand-overs, bounces, surveys, campaigns…)
    are left out with their tables and columns, and the rows are the same on both databases."""
    root = tmp_path_factory.mktemp("first_month")
    clock = SimClock()
    app = build_app(test_settings(root, f"sqlite:///{root / 'head.sqlite3'}"), clock=clock)
    upgrade(app.engine)
    with transaction(app.sessions) as s:
        sync_directory(s, app.directory)
    # Up to the bulletin's day: its PDF costs most of the month's time and adds one outbox row like the others.
    month = due.Month.parse(PERIOD)
    play_month(app, clock, PERIOD, lambda _: None, until=due.bulletin_date(month, app.schedule, app.calendar)
               - timedelta(days=1))
    status = gather_status(app, PERIOD).as_json()
    scratch = make_engine(f"sqlite:///{root / 'first.sqlite3'}")
    upgrade(scratch, FIRST)
    first = MetaData()
    first.reflect(scratch)
    scratch.dispose()
    head = MetaData()
    head.reflect(app.engine)
    rows: Rows = {}
    with app.engine.connect() as c:
        for table in first.sorted_tables:
            if table.name != "alembic_version":
                cols = [head.tables[table.name].c[col.name] for col in table.columns]
                rows[table.name] = [dict(r._mapping) for r in c.execute(select(*cols).order_by(*cols[:1]))]
    app.engine.dispose()
    assert sum(map(len, rows.values())) > 200 and rows["inbound_messages"] and rows["submissions"]
    return Month(rows, status, clock.now, root)


def load(engine: Engine, rows: Rows) -> None:
    """Insert the rows as they were, ids included; a column pointing into its own table is filled in afterwards,
    when every row it may point to is there. PostgreSQL's sequences then continue after the highest id, as they
    would have on the installation."""
    meta = MetaData()
    meta.reflect(engine)
    with engine.begin() as c:
        for table in meta.sorted_tables:
            if not rows.get(table.name):
                continue
            own = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
            c.execute(insert(table), [r | dict.fromkeys(own) for r in rows[table.name]])
            for r in rows[table.name]:
                if any(r[col] is not None for col in own):
                    c.execute(update(table).where(table.c.id == r["id"]).values({col: r[col] for col in own}))
            if engine.dialect.name == "postgresql" and "id" in table.c:
                c.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                               f"(SELECT max(id) FROM {table.name}))"))


def test_a_first_revision_database_holding_the_demo_month_upgrades_to_head_keeping_every_row(
        db_url: str, first_month: Month) -> None:
    # An installation that ran since the first revision upgrades in place: every row and value it held is still
    # there, the schema is exactly the models', the data migrations ran (old quarantines count as notified, so the
    # operator is not sent them all again), `mailbot status` shows the month as it was, and the daemon goes on.
    rows = first_month.rows
    engine = make_engine(db_url)
    upgrade(engine, FIRST)
    load(engine, rows)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as c:
        assert compare_metadata(MigrationContext.configure(c), Base.metadata) == []
        head = MetaData()
        head.reflect(c)
        for name, before in rows.items():
            cols = [head.tables[name].c[col] for col in before[0]] if before else []
            after = [dict(r._mapping) for r in c.execute(select(*cols).order_by(*cols[:1]))] if cols else []
            assert after == before, f"{name}: rows changed by the upgrade"
        quarantine = head.tables["quarantine"]
        assert c.execute(select(func.count()).where(quarantine.c.notified_at != quarantine.c.created_at)).scalar() == 0
    clock = SimClock()
    clock.now = first_month.end
    app = build_app(test_settings(first_month.root, db_url), clock=clock, engine=engine)
    try:
        # The same month: who reported, what is in quarantine, the outbox, the mailbox's health. (Hand-overs and
        # bounces are records of later revisions, which the first could not hold.)
        now = gather_status(app, PERIOD).as_json()
        assert now["units"] and now["quarantine"]
        assert {k: now[k] for k in SAME} == {k: first_month.status[k] for k in SAME}
        # A new message on the upgraded database: new rows take the ids after the old ones.
        outcome = arrive_one(app, replies.build(sender=GD, to=HQ, subject="请问12月报表何时下发", body="谢谢",
                                                at=clock.now))
        assert outcome.inbound_id == max(r["id"] for r in rows["inbound_messages"]) + 1
    finally:
        engine.dispose()
