"""Requests (诉求, §8.1.2 and §8.2): opened or merged, numbered, found again, with their history.

A request is opened by a "needs HQ" answer, a VIP block needing HQ, or an
urgent matter, and assigned to the customer's designated HQ staff (else the
duty list). **The same matter reported again attaches to the open request**
instead of opening another: same unit, same customer, same source (strategic
report, VIP report, urgent) and the request not yet answered or closed. An
urgent mail about no identifiable customer always opens a new one.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parsers import ParsedMessage

from mailbot.app import App
from mailbot.db.models import Customer, InboundMessage, Person, Request, RequestEvent, Submission, Unit
from mailbot.domain.commands import OPEN, STATUS_CN
from mailbot.domain.titles import request_title
from mailbot.domain.workdays import WorkCalendar, add_working_hours
from mailbot.outbox.queue import replied_to
from mailbot.settings import RequestSettings

NUMBER = re.compile(r"SQ-\d{4}-\d{4,}")


BOT = "mailbot"


def due_at(cfg: RequestSettings, source: str, category: int | None, created: datetime, calendar: WorkCalendar,
           tz: ZoneInfo) -> datetime:
    """When a 诉求 must be answered: `due_days` working days of working time (`requests.working_day`, on the Chinese
    working-day calendar) after it was raised — a deadline never falls on a weekend or a holiday."""
    days = cfg.due_days.get(source, 10)  # type: ignore[call-overload]
    if source == "strategic" and category in cfg.category_due_days:
        days = cfg.category_due_days[category]  # type: ignore[index]
    start, end = cfg.working_hours()
    day = (datetime.combine(date.min, end) - datetime.combine(date.min, start)).total_seconds() / 3600
    return add_working_hours(created.astimezone(tz), days * day, calendar, (start, end))


def title_of(req: Request) -> str:
    """The 诉求's one-line title; rows from before titles were kept get theirs from the text."""
    return req.title or request_title(req.text)


def add_event(s: Session, req: Request, at: datetime, actor: str, action: str, detail: str | None = None,
              inbound_id: int | None = None) -> None:
    s.add(RequestEvent(request=req, at=at, actor=actor, action=action, detail=detail, inbound_id=inbound_id))


def open_or_merge(s: Session, cfg: RequestSettings, *, source: str, unit: Unit | None, customer: Customer | None,
                  category: int | None, text: str, inbound: InboundMessage, calendar: WorkCalendar, tz: ZoneInfo,
                  submission: Submission | None = None, assignee: Person | None = None,
                  subject: str | None = None) -> tuple[Request, bool]:
    """The open request for this matter, told it was reported again; or a new one. Returns (request, merged)."""
    at = inbound.received_at
    if unit is not None and customer is not None:
        existing = s.scalar(select(Request).where(Request.unit_id == unit.id, Request.customer_id == customer.id,
                                                  Request.source == source, Request.status.in_(OPEN))
                            .order_by(Request.id))
        if existing is not None:
            existing.last_reported_at = at
            add_event(s, existing, at, inbound.from_addr or BOT, "reported_again", text, inbound.id)
            return existing, True
    prefix = f"SQ-{at.year}-"
    last = s.scalar(select(func.max(Request.number)).where(Request.number.like(prefix + "%")))
    seq = int(last[len(prefix):]) + 1 if last else 1
    req = Request(number=f"{prefix}{seq:04d}", source=source, unit=unit, customer=customer, category=category,
                  text=text, title=request_title(text, subject), urgent=source == "urgent", inbound=inbound,
                  submission=submission,
                  assignee=assignee or (customer.hq_staff if customer else None), status="new", created_at=at,
                  due_at=due_at(cfg, source, category, at, calendar, tz))
    s.add(req)
    s.flush()
    add_event(s, req, at, inbound.from_addr or BOT, "created", None, inbound.id)
    return req, False


def find_request(s: Session, p: ParsedMessage) -> Request | None:
    """The request a mail is about: a reply to one of our mails about it, else its number in the subject."""
    for ours in replied_to(s, p.envelope.thread_ids):
        if ours.request_id is not None:
            return s.get(Request, ours.request_id)
    m = NUMBER.search(p.envelope.subject)
    return s.scalar(select(Request).where(Request.number == m.group(0))) if m else None


def find_staff(s: Session, ref: str) -> Person | None:
    ref = ref.strip().strip("<>").lower()
    for p in s.scalars(select(Person).where(Person.role == "hq", Person.active.is_(True))):
        if ref in (p.email, (p.staff_key or "").lower(), p.name.lower()):
            return p
    return None


def list_requests(app: App, *, assignee: str | None = None, unit: str | None = None, customer: str | None = None,
                  overdue_only: bool = False, include_closed: bool = False) -> list[dict[str, object]]:
    """Requests as rows for `mailbot requests` (a table, or --json)."""
    now = app.now()
    rows: list[dict[str, object]] = []
    with app.sessions() as s:
        q = select(Request).order_by(Request.due_at, Request.id)
        if not include_closed:
            q = q.where(Request.status.in_(OPEN))
        for r in s.scalars(q):
            overdue = bool(r.due_at and r.due_at < now and r.status in ("new", "in_progress"))
            if overdue_only and not overdue:
                continue
            if assignee and not (r.assignee and assignee in (r.assignee.email, r.assignee.staff_key, r.assignee.name)):
                continue
            if unit and not (r.unit and r.unit.code == unit):
                continue
            if customer and not (r.customer and r.customer.code == customer):
                continue
            rows.append({"number": r.number, "status": r.status, "status_cn": STATUS_CN[r.status],
                         "source": r.source, "unit": r.unit.code if r.unit else None,
                         "customer": r.customer.code if r.customer else None,
                         "assignee": r.assignee.email if r.assignee else None,
                         "created_at": r.created_at.astimezone(app.tz).isoformat(timespec="minutes"),
                         "due_at": r.due_at.astimezone(app.tz).isoformat(timespec="minutes") if r.due_at else None,
                         "overdue_days": (now - r.due_at).days if overdue and r.due_at else 0,
                         "title": title_of(r), "text": r.text})
    return rows
