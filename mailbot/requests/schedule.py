"""The requests' calendar job: the overdue chase (催办) to the assignee, then the department head.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from sqlalchemy import select

from mailbot.app import App
from mailbot.db.models import Person, Request
from mailbot.db.session import transaction
from mailbot.outbox.queue import Plan
from mailbot.requests.mails import request_notice_mail
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
