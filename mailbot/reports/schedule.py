"""The monthly cycle's jobs: the request, the reminders and the escalation — each safe to run twice.

Each decides from the database who still needs what and queues mail under an
idempotency key (`request:2026-11:GD`, `reminder:2026-11:GD:T-3`, `escalation:2026-11:GD`).
The request and its reminders carry the feedback forms of the open campaigns answered with the monthly
request (`campaign_forms`); those campaigns are chased by these reminders only, never by their own.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.db.models import OutboxMail, ReportRequest, Request, Submission, Unit
from mailbot.db.session import transaction
from mailbot.domain import due
from mailbot.domain.commands import OPEN, STATUS_CN
from mailbot.domain.tokens import make_token
from mailbot.outbox.compose import Draft, Thread
from mailbot.outbox.queue import Plan
from mailbot.reports.campaign_forms import riding_forms
from mailbot.reports.mails import escalation_mail, reminder_mail, request_mail
from mailbot.reports.store import ensure_period
from mailbot.visits.matters import open_follow_ups

log = logging.getLogger(__name__)

SHOWN_TO_UNITS = (*OPEN, "answered")  # listed above the form until HQ closes them


def _units(s: Session) -> list[Unit]:
    return list(s.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)))


def _open_matters(s: Session, unit: Unit) -> list[dict[str, str]]:
    reqs = s.scalars(select(Request).where(Request.unit_id == unit.id, Request.status.in_(SHOWN_TO_UNITS))
                     .order_by(Request.created_at))
    return [{"customer_code": r.customer.code if r.customer else "", "customer_name": r.customer.name if r.customer
             else "", "summary": f"{r.number} {r.text[:60]}", "status": STATUS_CN[r.status]} for r in reqs]


def run_due(app: App, *, dry_run: bool = False) -> Plan:
    """The calendar's call: the request, a reminder stage or the escalation, whichever is due today."""
    plan = Plan()
    for d in due.due_on(app.today(), app.schedule, app.calendar):
        if d.kind == "request":
            plan.extend(send_requests(app, d.period.key, dry_run=dry_run))
        elif d.kind == "reminder":
            plan.extend(remind(app, d.period.key, d.stage, dry_run=dry_run))
        elif d.kind == "escalation" and app.settings.schedule.escalate:
            plan.extend(escalate(app, d.period.key, dry_run=dry_run))
    return plan


def send_requests(app: App, period_key: str, *, dry_run: bool = False) -> Plan:
    """The monthly request, with the unit's prefilled form, to every unit that has not had one."""
    plan = Plan()
    with transaction(app.sessions, dry_run=dry_run) as s:
        period = ensure_period(s, period_key, app.schedule)
        asked = set(s.scalars(select(ReportRequest.unit_id).where(ReportRequest.period_id == period.id)))
        for unit in _units(s):
            if unit.id in asked:
                continue
            token = make_token(period.key, unit.code, app.settings.token_secret())
            matters = _open_matters(s, unit) + open_follow_ups(s, unit, today=app.today())
            draft = request_mail(app.department, unit, period.key, period.deadline, token, matters,
                                 riding_forms(s, unit, app.today()))
            row = plan.queue(s, f"request:{period.key}:{unit.code}", "request", draft, sender=app.identity, now=app.now())
            if row is not None:
                s.add(ReportRequest(period=period, unit=unit, token=token, message_id=row.message_id,
                                    created_at=app.now()))
                s.flush()
    return plan


def _not_reported(s: Session, period_id: int) -> list[tuple[Unit, ReportRequest]]:
    """The active units asked for this month's report that have none accepted, by code (one query: the calendar
    asks this every few minutes)."""
    reported = select(Submission.unit_id).where(Submission.period_id == period_id)
    rows = s.execute(select(Unit, ReportRequest).join(ReportRequest, ReportRequest.unit_id == Unit.id)
                     .where(ReportRequest.period_id == period_id, Unit.active.is_(True),
                            Unit.id.not_in(reported)).order_by(Unit.code))
    return [(unit, rr) for unit, rr in rows]


def remind(app: App, period_key: str, stage: str, *, dry_run: bool = False) -> Plan:
    """A reminder to each unit without an accepted report, in the thread of its request."""
    plan = Plan()
    with transaction(app.sessions, dry_run=dry_run) as s:
        period = ensure_period(s, period_key, app.schedule)
        days_left = max((period.deadline - app.today()).days, 0)
        for unit, rr in _not_reported(s, period.id):
            def draft(unit: Unit = unit, rr: ReportRequest = rr) -> Draft:
                return reminder_mail(app.department, unit, period.key, period.deadline, rr.token,
                                     days_left, Thread(rr.message_id), riding_forms(s, unit, app.today()))

            plan.queue(s, f"reminder:{period.key}:{unit.code}:{stage}", "reminder", draft, sender=app.identity,
                       now=app.now())
    return plan


def escalate(app: App, period_key: str, *, dry_run: bool = False) -> Plan:
    """On the last working day: the unit's leader is told its report is missing."""
    plan = Plan()
    with transaction(app.sessions, dry_run=dry_run) as s:
        period = ensure_period(s, period_key, app.schedule)
        for unit, rr in _not_reported(s, period.id):
            if not unit.leader_email:
                log.warning("unit %s has no leader address: escalation skipped", unit.code)
                continue
            def draft(unit: Unit = unit, rr: ReportRequest = rr) -> Draft:
                reminded = s.scalar(select(func.count()).select_from(OutboxMail).where(
                    OutboxMail.idem_key.like(f"reminder:{period.key}:{unit.code}:%"))) or 0
                return escalation_mail(app.department, unit, period.key, period.deadline,
                                       rr.token, reminded)

            plan.queue(s, f"escalation:{period.key}:{unit.code}", "escalation", draft, sender=app.identity,
                       now=app.now())
    return plan
