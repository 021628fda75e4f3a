"""The Alembic migrations build exactly the schema the models describe, and upgrade a live database in place."""

from __future__ import annotations

from datetime import datetime, timezone

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select

from mailbot.db.migrate import upgrade
from mailbot.db.models import Base, InboundMessage
from mailbot.db.session import make_engine


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
