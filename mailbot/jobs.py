"""The calendar's jobs: monthly requests, reminders, escalations, the bulletin — each safe to run twice.

Every job decides from the database who still needs what and queues mail under
an idempotency key (`request:2026-11:GD`, `reminder:2026-11:GD:T-3`,
`escalation:2026-11:GD`, `bulletin:2026-11`), so the scheduler, a restart and
an operator typing the command by hand never send anything twice. With
`dry_run` the same decisions are made and rolled back, and the plan is returned.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot import mails
from mailbot.app import App
from mailbot.bulletin.gather import gather
from mailbot.db.models import OutboxMail, Period, Person, Quarantine, ReportRequest, Request, Unit
from mailbot.domain import due
from mailbot.domain.commands import OPEN, STATUS_CN
from mailbot.domain.tokens import make_token
from mailbot.outbox.compose import Draft, Thread
from mailbot.outbox.queue import enqueue
from mailbot.reports import current_submission, ensure_period
from mailbot.request_flow import add_event

log = logging.getLogger(__name__)

SHOWN_TO_UNITS = (*OPEN, "answered")  # listed above the form until HQ closes them


@dataclass
class Plan:
    """What a job queued (or, in a dry run, would have queued)."""

    queued: list[tuple[str, str, str]] = field(default_factory=list)  # (key, recipients, subject)
    files: list[Path] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"{k}  →  {r}  「{s}」" for k, r, s in self.queued] + [f"file: {f}" for f in self.files]


@contextmanager
def unit_of_work(app: App, dry_run: bool) -> Iterator[Session]:
    with app.sessions() as s:
        s.begin()
        try:
            yield s
        except BaseException:
            s.rollback()
            raise
        if dry_run:
            s.rollback()
        else:
            s.commit()


def _queue(app: App, s: Session, plan: Plan, key: str, kind: str, draft: Draft) -> OutboxMail | None:
    row, created = enqueue(s, key=key, kind=kind, draft=draft, sender=app.identity, now=app.now())
    if created:
        plan.queued.append((key, row.recipients, row.subject))
        return row
    return None


def _units(s: Session) -> list[Unit]:
    return list(s.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)))


def _open_matters(s: Session, unit: Unit) -> list[dict[str, str]]:
    reqs = s.scalars(select(Request).where(Request.unit_id == unit.id, Request.status.in_(SHOWN_TO_UNITS))
                     .order_by(Request.created_at))
    return [{"customer_code": r.customer.code if r.customer else "", "customer_name": r.customer.name if r.customer
             else "", "summary": f"{r.number} {r.text[:60]}", "status": STATUS_CN[r.status]} for r in reqs]


def send_requests(app: App, period_key: str, *, dry_run: bool = False) -> Plan:
    """The monthly request, with the unit's prefilled form, to every unit that has not had one."""
    from mailbot.visits.service import open_follow_ups  # see tick

    plan = Plan()
    with unit_of_work(app, dry_run) as s:
        period = ensure_period(s, period_key, app.schedule)
        for unit in _units(s):
            if s.scalar(select(ReportRequest).where(ReportRequest.period_id == period.id,
                                                    ReportRequest.unit_id == unit.id)):
                continue
            token = make_token(period.key, unit.code, app.settings.token_secret())
            matters = _open_matters(s, unit) + open_follow_ups(s, unit, today=app.today())
            draft = mails.request_mail(app.settings.identity.department, unit, period.key, period.deadline, token,
                                       matters)
            row = _queue(app, s, plan, f"request:{period.key}:{unit.code}", "request", draft)
            if row is not None:
                s.add(ReportRequest(period=period, unit=unit, token=token, message_id=row.message_id,
                                    created_at=app.now()))
                s.flush()
    return plan


def _not_reported(s: Session, period_id: int) -> list[tuple[Unit, ReportRequest]]:
    out = []
    for rr in s.scalars(select(ReportRequest).where(ReportRequest.period_id == period_id)):
        if rr.unit.active and current_submission(s, period_id, rr.unit_id) is None:
            out.append((rr.unit, rr))
    return sorted(out, key=lambda x: x[0].code)


def remind(app: App, period_key: str, stage: str, *, dry_run: bool = False) -> Plan:
    """A reminder to each unit without an accepted report, in the thread of its request."""
    plan = Plan()
    with unit_of_work(app, dry_run) as s:
        period = ensure_period(s, period_key, app.schedule)
        days_left = max((period.deadline - app.today()).days, 0)
        for unit, rr in _not_reported(s, period.id):
            draft = mails.reminder_mail(app.settings.identity.department, unit, period.key, period.deadline,
                                        rr.token, days_left, Thread(rr.message_id))
            _queue(app, s, plan, f"reminder:{period.key}:{unit.code}:{stage}", "reminder", draft)
    return plan


def escalate(app: App, period_key: str, *, dry_run: bool = False) -> Plan:
    """On the last working day: the unit's leader is told its report is missing."""
    plan = Plan()
    with unit_of_work(app, dry_run) as s:
        period = ensure_period(s, period_key, app.schedule)
        for unit, rr in _not_reported(s, period.id):
            if not unit.leader_email:
                log.warning("unit %s has no leader address: escalation skipped", unit.code)
                continue
            sent = s.scalar(select(func.count()).select_from(OutboxMail).where(
                OutboxMail.idem_key.like(f"reminder:{period.key}:{unit.code}:%"))) or 0
            draft = mails.escalation_mail(app.settings.identity.department, unit, period.key, period.deadline,
                                          rr.token, sent)
            _queue(app, s, plan, f"escalation:{period.key}:{unit.code}", "escalation", draft)
    return plan


def bulletin_path(app: App, period_key: str) -> Path:
    return app.settings.path(app.settings.data_dir) / "bulletins" / f"重点客户月报-{period_key}.pdf"


def compile_bulletin(app: App, period_key: str, *, dry_run: bool = False, mail: bool = True,
                     resend: bool = False) -> Plan:
    """Render the month's bulletin PDF and mail it to the bulletin list (once, unless `resend`)."""
    from mailbot.bulletin.render import render_bulletin_pdf  # WeasyPrint is slow to import

    plan = Plan()
    with unit_of_work(app, dry_run) as s:
        period = ensure_period(s, period_key, app.schedule)
        b = gather(s, period, department=app.settings.identity.department, tz=app.tz, now=app.now())
        pdf = render_bulletin_pdf(b)
        path = bulletin_path(app, period.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pdf)
        plan.files.append(path)
        if mail:
            key = f"bulletin:{period.key}"
            if resend:
                key += f":{app.now():%Y%m%dT%H%M%S}"
            stats = {"units_total": len(b.units),
                     "on_time": sum(u.status == "on_time" for u in b.units),
                     "late": sum(u.status == "late" for u in b.units),
                     "missing": sum(u.status == "missing" for u in b.units),
                     "customers_reported": sum(bool(c.reported_units) for c in b.customers),
                     "risks_major": sum(r.level == "重大" for r in b.risks),
                     "coordination": len(b.coordination), "urgent": len(b.urgent)}
            draft = mails.bulletin_mail(app.settings.identity.department, app.directory.bulletin_addresses(),
                                        period.key, pdf, path.name, stats,
                                        [u.name for u in b.units if u.status == "missing"],
                                        [u.name for u in b.units if u.status == "late"])
            _queue(app, s, plan, key, "bulletin", draft)
    return plan


def chase_overdue(app: App, *, dry_run: bool = False) -> Plan:
    """Requests past their due date: the assignee is told once; after the grace period, the department head once.

    Requests waiting for group approval are not chased: the clock is the group's then.
    """
    plan = Plan()
    now = app.now()
    grace = timedelta(days=app.settings.requests.head_grace_days)
    dept = app.settings.identity.department
    with unit_of_work(app, dry_run) as s:
        head = s.scalar(select(Person).where(Person.email == app.directory.head_address()))
        for req in s.scalars(select(Request).where(Request.status.in_(("new", "in_progress")),
                                                   Request.due_at < now).order_by(Request.id)):
            late = (now - req.due_at).days if req.due_at else 0  # type: ignore[operator]
            stages = [("assignee", "overdue", [req.assignee] if req.assignee else [],
                       f"此诉求已超过办理期限{late}天，请尽快办理，或回复“状态：”说明进展。")]
            if req.due_at and now - req.due_at >= grace and head is not None:
                stages.append(("head", "escalated", [head],
                               f"此诉求已超过办理期限{late}天，承办人{req.assignee.name if req.assignee else '（未指定）'}"
                               f"尚未办结，请督办。"))
            for stage, reason, to, lead in stages:
                if not to:
                    continue
                draft = mails.request_notice_mail(dept, reason, req, to, lead=lead)
                row = _queue(app, s, plan, f"req-overdue:{req.number}:{stage}", "request_notice", draft)
                if row is not None:
                    row.request_id = req.id
                    add_event(s, req, now, "mailbot", "overdue" if stage == "assignee" else "escalated",
                              f"提醒{to[0].name}")
    return plan


def _bulletin_wanted(app: App, period_key: str) -> bool:
    """Not yet mailed, and a month mailbot ran (no bulletin of all-missing units for the month before install)."""
    with app.sessions() as s:
        if s.scalar(select(OutboxMail.id).where(OutboxMail.idem_key == f"bulletin:{period_key}")) is not None:
            return False
        return s.scalar(select(ReportRequest.id).join(ReportRequest.period)
                        .where(Period.key == period_key).limit(1)) is not None


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
        elif d.kind == "bulletin" and _bulletin_wanted(app, d.period.key):
            step = compile_bulletin(app, d.period.key)
        else:
            continue
        plan.queued += step.queued
        plan.files += step.files
    from mailbot.visits.service import visit_jobs  # here, not at the top: the visits package imports jobs

    for step in (chase_overdue(app), visit_jobs(app), operator_digest(app)):
        plan.queued += step.queued
    _warn_unknown_years(app, plan)
    return plan


def operator_digest(app: App, *, dry_run: bool = False) -> Plan:
    """Quarantines that wait for the digest (strangers' mail), in one mail once the oldest has waited long enough.

    A spam wave of thirty strangers is one operator mail, not thirty; a forged sender or a crash is told at once
    by `intake.quarantine` and never waits here. The rows are marked in the transaction that queues the mail.
    """
    plan = Plan()
    with unit_of_work(app, dry_run) as s:
        pending = s.scalars(select(Quarantine).where(Quarantine.notified_at.is_(None),
                                                     Quarantine.released_at.is_(None))
                            .order_by(Quarantine.id)).all()
        wait = timedelta(minutes=app.settings.limits.operator_digest_minutes)
        if not pending or app.now() - pending[0].created_at < wait:
            return plan
        items: list[dict[str, object]] = [{"id": q.inbound_id, "from_addr": q.inbound.from_addr, "subject": q.inbound.subject,
                  "received_at": q.inbound.received_at, "reason": q.reason} for q in pending]
        _queue(app, s, plan, f"operator:digest:{pending[0].id}", "operator",
               mails.operator_digest_mail(app.settings.identity.department, app.settings.operator, items))
        for q in pending:
            q.notified_at = app.now()
    return plan


def _warn_unknown_years(app: App, plan: Plan) -> None:
    """A year nobody described falls back to weekends: the operator hears it once per year, by mail."""
    for year in sorted(app.calendar.guessed_years):
        with unit_of_work(app, False) as s:
            draft = mails.operator_mail(
                app.settings.identity.department, app.settings.operator, f"{year}年节假日未配置",
                f"{year}年的法定节假日和调休上班日未知，提醒日期暂按周末推算。"
                f"请在 config/mailbot.yaml 的 calendar.years.{year} 下填写国务院公布的安排。")
            _queue(app, s, plan, f"operator:calendar:{year}", "operator", draft)
