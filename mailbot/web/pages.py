"""What each page shows, read through `scope.scoped` with the signed-in viewer, as plain dicts for templates.

Every query of a page that touches units' data is scoped here — the month's units and submissions, the 诉求
board, one 诉求 — so a unit's contact sees its own unit only; a 诉求 of another unit is `None` (the page: 404).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parsers import CATEGORY_LABELS

from mailbot.app import App
from mailbot.db.models import InboundMessage, Period, Person, ReportRequest, Request, Submission, Unit
from mailbot.domain import due
from mailbot.domain.commands import OPEN, STATUS_CN
from mailbot.requests.mails import ACTION_CN, SOURCE_CN
from mailbot.requests.store import title_of
from mailbot.web.scope import Viewer, scoped

STATE_CN = {"on_time": "按时报送", "late": "逾期报送", "missing": "未报送", "not_yet": "尚未报送"}
COLUMNS = ("new", "in_progress", "awaiting_approval", "answered", "closed")


def month_page(app: App, s: Session, viewer: Viewer, period_key: str) -> dict[str, Any]:
    """Units × status for one month, each unit's current submission with its blocks (versions counted)."""
    period = s.scalar(select(Period).where(Period.key == period_key))
    deadline = period.deadline if period else due.deadline(due.Month.parse(period_key), app.schedule)
    units = []
    for unit in s.scalars(scoped(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code), viewer, Unit.id)):
        subs = [] if period is None else list(s.scalars(scoped(
            select(Submission).where(Submission.unit_id == unit.id, Submission.period_id == period.id),
            viewer, Submission.unit_id).order_by(Submission.version)))
        asked = bool(period and s.scalar(select(ReportRequest.id).where(
            ReportRequest.period_id == period.id, ReportRequest.unit_id == unit.id)))
        if subs:
            state = "on_time" if any(x.on_time for x in subs) else "late"
        else:
            state = "missing" if app.today() > deadline else "not_yet"
        units.append({"code": unit.code, "name": unit.name, "asked": asked, "state": state,
                      "state_cn": STATE_CN[state], "versions": len(subs),
                      "submission": _submission(subs[-1]) if subs else None})
    counts = {k: sum(1 for u in units if u["state"] == k) for k in STATE_CN}
    return {"period": period_key, "label": due.Month.parse(period_key).label, "deadline": deadline,
            "units": units, "counts": counts, "state_cn": STATE_CN}


def _submission(sub: Submission) -> dict[str, Any]:
    return {
        "version": sub.version, "received_at": sub.received_at, "on_time": sub.on_time,
        "reporter": sub.reporter_name, "phone": sub.reporter_phone, "urgent_text": sub.urgent_text,
        "strategic": [{"customer": f"{e.customer.code} {e.customer.name}", "risk": e.risk, "needs_hq": e.needs_hq,
                       "fields": [{"label": f"{i.category}. {CATEGORY_LABELS[i.category]}", "text": i.text}
                                 for i in e.items]} for e in sub.strategic],
        "vip": [{"customer": f"{v.customer.code} {v.customer.name}", "issue": v.issue, "handling": v.handling,
                 "needs_hq": v.needs_hq} for v in sub.vip],
    }


def board_page(app: App, s: Session, viewer: Viewer, *, assignee: str = "", unit: str = "",
               include_closed: bool = False) -> dict[str, Any]:
    """The 诉求 in columns by status, overdue first in each; filters by 承办人 (e-mail) and unit (code)."""
    now = app.now()
    q = scoped(select(Request), viewer, Request.unit_id)
    if not include_closed:
        q = q.where(Request.status.in_((*OPEN, "answered")))
    if assignee:
        q = q.join(Person, Request.assignee_id == Person.id).where(Person.email == assignee)
    if unit:
        q = q.join(Unit, Request.unit_id == Unit.id).where(Unit.code == unit)
    cards = [_card(r, now) for r in s.scalars(q.order_by(Request.due_at, Request.id))]
    cards.sort(key=lambda c: (not c["overdue"], c["due_at"] or datetime.max.replace(tzinfo=now.tzinfo)))
    columns = [{"status": st, "status_cn": STATUS_CN[st], "cards": [c for c in cards if c["status"] == st]}
               for st in COLUMNS if include_closed or st != "closed"]
    units = list(s.scalars(scoped(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code), viewer, Unit.id)))
    staff = list(s.scalars(select(Person).where(Person.role == "hq", Person.active.is_(True)).order_by(Person.id)))
    return {"columns": columns, "count": len(cards), "assignee": assignee, "unit": unit,
            "include_closed": include_closed, "units": [{"code": u.code, "name": u.name} for u in units],
            "staff": [{"email": p.email, "name": p.name} for p in staff]}


def _card(r: Request, now: datetime) -> dict[str, Any]:
    overdue = bool(r.due_at and r.due_at < now and r.status in ("new", "in_progress"))
    return {"number": r.number, "title": title_of(r), "status": r.status, "status_cn": STATUS_CN[r.status],
            "source_cn": SOURCE_CN.get(r.source, r.source), "urgent": r.urgent,
            "unit": r.unit.name if r.unit else "", "customer": f"{r.customer.code} {r.customer.name}" if r.customer
            else "", "assignee": r.assignee.name if r.assignee else "", "due_at": r.due_at,
            "overdue": overdue, "overdue_days": (now - r.due_at).days if overdue and r.due_at else 0}


def request_page(app: App, s: Session, viewer: Viewer, number: str) -> dict[str, Any] | None:
    """One 诉求 with its text and history; None when it does not exist or is another unit's."""
    r = s.scalar(scoped(select(Request).where(Request.number == number), viewer, Request.unit_id))
    if r is None:
        return None
    web = _web_rows(s, r)
    return {**_card(r, app.now()), "text": r.text, "answer": r.answer, "answered_at": r.answered_at,
            "created_at": r.created_at, "category": f"{r.category}. {CATEGORY_LABELS[r.category]}"
            if r.category else "",
            "history": [{"at": e.at, "actor": e.actor, "action_cn": ACTION_CN.get(e.action, e.action),
                         "detail": e.detail, "web": e.inbound_id in web} for e in r.events]}


def _web_rows(s: Session, r: Request) -> set[int | None]:
    """The history's entries made on the board (their command is an inbound row of mailbox `web`)."""
    ids = {e.inbound_id for e in r.events if e.inbound_id is not None}
    return set(s.scalars(select(InboundMessage.id).where(InboundMessage.id.in_(ids),
                                                         InboundMessage.mailbox == "web"))) if ids else set()
