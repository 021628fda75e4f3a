"""The calendar's month without mail: a dry run changes nothing; an undescribed year warns once.

(The demo's whole month, played end to end, is tests/demo/test_november.py.)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from mailbot.app import App
from mailbot.daemon.calendar import tick
from mailbot.db.models import OutboxMail
from mailbot.reports.schedule import send_requests
from tests.support.mailflow import TZ


def test_dry_run_shows_the_plan_and_changes_nothing(app: App) -> None:
    # `send-requests --dry-run` lists six requests; afterwards the outbox is still empty.
    plan = send_requests(app, "2026-11", dry_run=True)
    assert len(plan.queued) == 6 and all(k.startswith("request:2026-11:") for k, _, _ in plan.queued)
    with app.sessions() as s:
        assert s.scalar(select(func.count(OutboxMail.id))) == 0


def test_an_undescribed_year_warns_the_operator_once(app: App) -> None:
    # In December the calendar looks at January 2027, which chinese-calendar does not know: one mail, not one per tick.
    app.clock = lambda: datetime(2026, 12, 20, 9, tzinfo=TZ)
    tick(app)
    tick(app)
    with app.sessions() as s:
        keys = s.scalars(select(OutboxMail.idem_key).where(OutboxMail.kind == "operator")).all()
    assert keys == ["operator:calendar:2027"]
