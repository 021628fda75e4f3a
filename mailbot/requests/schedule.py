"""The requests' calendar jobs: the overdue chase (催办) to the assignee, then the department head; and on the
week's first working day each 承办人's open 诉求 in one mail, and the whole board to the 部门负责人.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial

from sqlalchemy import select

from mailbot.app import App
from mailbot.db.models import Person, Request
from mailbot.domain.commands import OPEN
from mailbot.domain.workdays import WorkCalendar
from mailbot.db.session import transaction
from mailbot.outbox.queue import Plan
from mailbot.requests.mails import request_digest_mail, request_notice_mail
from mailbot.requests.store import add_event


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
