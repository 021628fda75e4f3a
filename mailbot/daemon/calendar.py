"""The calendar: what is due today, asked of each capability, computed from the database.

Safe to call every few minutes; a restart catches up and repeats nothing, because
every job queues its mail under an idempotency key.
"""

from __future__ import annotations

import logging

from mailbot.app import App
from mailbot.domain import due
from mailbot.bulletin.compile import bulletin_wanted, compile_bulletin
from mailbot.db.session import transaction
from mailbot.outbox.queue import Plan
from mailbot.pipeline.digest import operator_digest
from mailbot.reports.schedule import escalate, remind, send_requests
from mailbot.requests.schedule import chase_overdue
from mailbot.outbox.operator import operator_mail


log = logging.getLogger(__name__)


def tick(app: App) -> Plan:
    """What the calendar says is due today, computed from the database; safe to call every few minutes."""
    plan = Plan()
    for d in due.due_on(app.today(), app.schedule, app.calendar):
        if d.kind == "request":
            step = send_requests(app, d.period.key)
        elif d.kind == "reminder":
            step = remind(app, d.period.key, d.stage)
        elif d.kind == "escalation" and app.settings.schedule.escalate:
            step = escalate(app, d.period.key)
        elif d.kind == "bulletin" and bulletin_wanted(app, d.period.key):
            step = compile_bulletin(app, d.period.key)
        else:
            continue
        plan.queued += step.queued
        plan.files += step.files
    from mailbot.visits.schedule import visit_jobs

    for step in (chase_overdue(app), visit_jobs(app), operator_digest(app)):
        plan.queued += step.queued
    _warn_unknown_years(app, plan)
    return plan


def _warn_unknown_years(app: App, plan: Plan) -> None:
    """A year nobody described falls back to weekends: the operator hears it once per year, by mail."""
    for year in sorted(app.calendar.guessed_years):
        with transaction(app.sessions, dry_run=False) as s:
            draft = operator_mail(
                app.settings.identity.department, app.settings.operator, f"{year}年节假日未配置",
                f"{year}年的法定节假日和调休上班日未知，提醒日期暂按周末推算。"
                f"请在 config/mailbot.yaml 的 calendar.years.{year} 下填写国务院公布的安排。")
            plan.queue(s, f"operator:calendar:{year}", "operator", draft, sender=app.identity, now=app.now())
