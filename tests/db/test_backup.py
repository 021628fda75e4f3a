"""Backup → wipe → restore, on SQLite and PostgreSQL: every table's rows, the raw mail, the PDFs and `status --json`
come back identical; a restore over a database that holds mail is refused without --force."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, text

from mailbot.app import App
from mailbot.bulletin.compile import bulletin_path, compile_bulletin
from mailbot.daemon.status import gather_status
from mailbot.db.backup import backup, restore, table_counts
from mailbot.db.models import InboundMessage
from mailbot.demo import replies
from mailbot.errors import MailbotError
from tests.support.mailflow import HQ, SC, Clock, arrive, report


def snapshot(app: App) -> tuple[dict[str, int], list[bytes], dict[str, object]]:
    with app.sessions() as s:
        raw = list(s.scalars(select(InboundMessage.raw).order_by(InboundMessage.id)))
    return table_counts(app.engine), raw, gather_status(app, "2026-11").as_json()


def wipe(app: App) -> None:
    """What a lost disk or a dropped database leaves: nothing of ours."""
    app.engine.dispose()
    if app.engine.dialect.name == "sqlite":
        Path(app.engine.url.database or "").unlink()
        for extra in ("-wal", "-shm"):
            Path(f"{app.engine.url.database}{extra}").unlink(missing_ok=True)
    else:
        with app.engine.begin() as c:
            schema = c.scalar(text("SELECT current_schema()"))
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
    pdf = bulletin_path(app, "2026-11")
    pdf.unlink()


def test_backup_wipe_restore_gives_everything_back(make_app: Callable[..., App], tmp_path: Path,
                                                    clock: Clock) -> None:
    app = make_app()
    report(app, {"S001": {"1": "已签订框架协议。", "风险等级": "一般", "需总部协调": "是"}})
    arrive(app, replies.build(sender=SC, to=HQ, at=clock.now, subject="【紧急】大唐电厂停机", body="电厂停机。"))
    compile_bulletin(app, "2026-11", mail=False)
    pdf = bulletin_path(app, "2026-11").read_bytes()
    before = snapshot(app)
    assert before[0]["inbound_messages"] == 2 and before[0]["requests"] == 2

    made = backup(app.engine, app.settings.database_url(), app.settings.path(app.settings.data_dir),
                  tmp_path / "backup", app.now())
    assert made.tables == before[0] and made.files == 1
    with pytest.raises(MailbotError, match="not empty"):
        backup(app.engine, app.settings.database_url(), app.settings.path(app.settings.data_dir),
               tmp_path / "backup", app.now())
    with pytest.raises(MailbotError, match="already holds mail"):
        restore(app.engine, app.settings.database_url(), app.settings.path(app.settings.data_dir),
                tmp_path / "backup")

    wipe(app)
    restored = restore(app.engine, app.settings.database_url(), app.settings.path(app.settings.data_dir),
                       tmp_path / "backup")
    assert restored.tables == before[0]
    after = snapshot(app)
    assert after[0] == before[0] and after[1] == before[1]          # every row count, every raw message
    assert json.dumps(after[2], sort_keys=True) == json.dumps(before[2], sort_keys=True)
    assert bulletin_path(app, "2026-11").read_bytes() == pdf
