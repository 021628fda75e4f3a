"""The requests' calendar jobs: the urgent ladder (an urgent 诉求 nobody has answered climbs to the 部门负责人, then
the duty list, in working hours); the overdue chase (催办) to the assignee, then the department head; and on the
week's first working day each 承办人's open 诉求 in one mail, and the whole board to the 部门负责人.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial

from sqlalchemy import select

from mailbot.app import App
from mailbot.db.models import Person, Request
from mailbot.db.session import transaction
from mailbot.directory.lookup import active_people
from mailbot.domain.commands import OPEN
from mailbot.domain.workdays import WorkCalendar, add_working_hours
from mailbot.outbox.queue import Plan
from mailbot.requests.mails import request_digest_mail, request_notice_mail
from mailbot.requests.store import add_event

# What shows that HQ took an urgent matter up: a command of the 承办人's (or anyone's at HQ), not the bot's own
# entries and not the unit's follow-ups.
_TAKEN_UP = frozenset({"status", "transfer", "answer", "approval", "note", "close"})


def climb_ladder(app: App, *, dry_run: bool = False) -> Plan:
    """Urgent 诉求 no one at HQ has answered yet: each step of `requests.urgent_ladder` whose working hours have
    passed tells its people once (the step's number is in the key); an answer from the 承办人 stops the climb."""
    plan = Plan()
    cfg = app.settings.requests
    now = app.now().astimezone(app.tz)
    with transaction(app.sessions, dry_run=dry_run) as s:
        people = active_people(s)
        for req in s.scalars(select(Request).where(Request.urgent.is_(True), Request.status.in_(("new",)))
                             .order_by(Request.id)):
            if any(e.action in _TAKEN_UP for e in req.events):
                continue
            for n, step in enumerate(cfg.urgent_ladder, 1):
                due = add_working_hours(req.created_at.astimezone(app.tz), step.after_hours, app.calendar,
                                        cfg.working_hours())
                if now < due:
                    break
                to = [people[a] for a in dict.fromkeys(_ladder_addresses(app, step.to)) if a in people]
                if not to:
                    continue
                hours = f"{step.after_hours:g}"
                who = req.assignee.name if req.assignee else "（未指定）"
                draft = partial(request_notice_mail, app.department, "urgent_ladder", req, to,
                                lead=f"此紧急事项登记已超过{hours}个工作小时，承办人{who}尚未回复办理意见，请督促或直接处理。",
                                reply_address=app.identity.address)
                row = plan.queue(s, f"req-ladder:{req.number}:{n}", "request_notice", draft, sender=app.identity,
                                 now=app.now())
                if row is not None:
                    row.request_id = req.id
                    add_event(s, req, app.now(), "mailbot", "urgent_ladder",
                              f"紧急事项{hours}个工作小时未回复，告知{'、'.join(p.name for p in to)}")
    return plan


def _ladder_addresses(app: App, refs: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for ref in refs:
        if ref == "head":
            out.append(app.directory.head_address())
        elif ref == "duty":
            out += app.directory.duty_addresses()
        else:
            out.append(app.directory.staff_email(ref))
    return out


def chase_overdue(app: App, *, dry_run: bool = False) -> Plan:
    """Requests past their due date: the assignee is told once; after the grace period, the department head once.

    Requests waiting for group approval are not chased: the clock is the group's then.
    """
    plan = Plan()
    now = app.now()
    grace = timedelta(days=app.settings.requests.head_grace_days)
    dept = app.department
    with transaction(app.sessions, dry_run=dry_run) as s:
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
                draft = partial(request_notice_mail, dept, reason, req, to, lead=lead,
                                reply_address=app.identity.address)
                row = plan.queue(s, f"req-overdue:{req.number}:{stage}", "request_notice", draft,
                                 sender=app.identity, now=app.now())
                if row is not None:
                    row.request_id = req.id
                    add_event(s, req, now, "mailbot", "overdue" if stage == "assignee" else "escalated",
                              f"提醒{to[0].name}")
    return plan


def weekly_digest(app: App, *, dry_run: bool = False) -> Plan:
    """On the week's first working day, from `requests.digest_hour`: each 承办人 gets their open 诉求 in one mail,
    overdue first; the 部门负责人 gets the whole board. Once a week each (the ISO week is in the key)."""
    plan = Plan()
    now = app.now().astimezone(app.tz)
    today = now.date()
    if now.hour < app.settings.requests.digest_hour or today != first_workday_of_week(today, app.calendar):
        return plan
    week = f"{today.isocalendar().year}-W{today.isocalendar().week:02d}"
    with transaction(app.sessions, dry_run=dry_run) as s:
        open_ = list(s.scalars(select(Request).where(Request.status.in_(OPEN)).order_by(Request.due_at, Request.id)))
        if not open_:
            return plan
        overdue_first = sorted(open_, key=lambda r: (not (r.due_at and r.due_at < now), r.due_at or now, r.id))
        by_assignee: dict[int, list[Request]] = {}
        for r in overdue_first:
            if r.assignee is not None:
                by_assignee.setdefault(r.assignee.id, []).append(r)
        for requests in by_assignee.values():
            person = requests[0].assignee
            assert person is not None
            plan.queue(s, f"req-digest:{week}:{person.email}", "request_digest",
                       partial(request_digest_mail, app.department, [person.email], person.name, requests, now,
                               board=False), sender=app.identity, now=app.now())
        head = s.scalar(select(Person).where(Person.email == app.directory.head_address()))
        if head is not None:
            plan.queue(s, f"req-board:{week}", "request_digest",
                       partial(request_digest_mail, app.department, [head.email], head.name, overdue_first, now,
                               board=True), sender=app.identity, now=app.now())
    return plan


def first_workday_of_week(d: date, calendar: WorkCalendar) -> date | None:
    """The first working day of `d`'s ISO week (None when the week has none: the Spring Festival)."""
    monday = d - timedelta(days=d.weekday())
    return next((day for day in (monday + timedelta(days=i) for i in range(7)) if calendar.is_workday(day)), None)
