"""Monthly reports in the database: periods, accepted submissions and their versions, report items.

A corrected resend is a new submission with the next version number; the one
it replaces stays, marked superseded, so the history of what a unit said is
never lost. "Needs HQ" answers become request (诉求) records here.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parsers import ParsedMessage

from mailbot.db.models import (
    Customer,
    InboundMessage,
    Period,
    Person,
    ReportItem,
    Request,
    StrategicEntry,
    Submission,
    Unit,
    VipItem,
)
from mailbot.domain import due
from mailbot.domain.validate import UnitView
from mailbot.request_flow import open_or_merge
from mailbot.settings import RequestSettings


def local_period(at: datetime, tz: ZoneInfo) -> str:
    return due.Period.of(at.astimezone(tz).date()).key


def ensure_period(s: Session, key: str, schedule: due.Schedule) -> Period:
    period = s.scalar(select(Period).where(Period.key == key))
    if period is None:
        period = Period(key=key, deadline=due.deadline(due.Period.parse(key), schedule))
        s.add(period)
        s.flush()
    return period


def is_on_time(received_at: datetime, deadline: date, tz: ZoneInfo) -> bool:
    """On time means received by the end of the deadline day, HQ's local time."""
    return received_at <= datetime.combine(deadline, time.max, tz)


def unit_view(s: Session, unit: Unit) -> UnitView:
    known = {c.code: c.kind for c in s.scalars(select(Customer).where(Customer.active.is_(True)))}
    mine = [c for c in unit.customers if c.active]
    return UnitView(code=unit.code, strategic=frozenset(c.code for c in mine if c.kind == "strategic"),
                    vip=frozenset(c.code for c in mine if c.kind == "vip"), known=known)


def current_submission(s: Session, period_id: int, unit_id: int) -> Submission | None:
    return s.scalar(select(Submission).where(Submission.period_id == period_id, Submission.unit_id == unit_id,
                                             Submission.superseded_by_id.is_(None)))


def persist_submission(s: Session, msg: InboundMessage, p: ParsedMessage, unit: Unit, period_key: str,
                       schedule: due.Schedule, tz: ZoneInfo,
                       requests: RequestSettings,
                       duty: Person | None) -> tuple[Submission, list[tuple[Request, bool]]]:
    """Store an accepted report; its "needs HQ" answers open requests (or attach to open ones)."""
    period = ensure_period(s, period_key, schedule)
    previous = current_submission(s, period.id, unit.id)
    customers = {c.code: c for c in s.scalars(select(Customer))}
    sub = Submission(period=period, unit=unit, inbound_id=msg.id,
                     version=previous.version + 1 if previous else 1, received_at=msg.received_at,
                     on_time=is_on_time(msg.received_at, period.deadline, tz),
                     reporter_name=p.reporter_name, reporter_phone=p.reporter_phone, urgent_text=p.urgent_text)
    s.add(sub)
    s.flush()
    if previous is not None:
        previous.superseded_by_id = sub.id
    opened: list[tuple[Request, bool]] = []
    for block in p.strategic:
        entry = StrategicEntry(submission=sub, customer=customers[block.customer], risk=block.risk,
                               needs_hq=block.needs_hq)
        s.add(entry)
        for number, text in sorted(block.items.items(), key=lambda kv: int(kv[0])):
            if text is not None:
                entry.items.append(ReportItem(category=int(number), text=text))
        if block.needs_hq:
            # §8.1.2: what needs HQ is item 4 when filled, else the whole block's matters.
            text = block.items.get("4") or "\n".join(f"{k}. {v}" for k, v in block.items.items() if v)
            opened.append(open_or_merge(s, requests, source="strategic", unit=unit,
                                        customer=customers[block.customer],
                                        category=4 if block.items.get("4") else None,
                                        text=text or "（需总部协调，未写明事项）", inbound=msg, submission=sub,
                                        assignee=customers[block.customer].hq_staff or duty))
    for v in p.vip:
        customer = customers[v.customer]
        s.add(VipItem(submission=sub, customer=customer, issue=v.issue, handling=v.handling, needs_hq=v.needs_hq))
        if v.needs_hq:
            opened.append(open_or_merge(s, requests, source="vip", unit=unit, customer=customer, category=None,
                                        text=v.issue or "（需总部协调，未写明事项）", inbound=msg, submission=sub,
                                        assignee=customer.hq_staff or duty))
    s.flush()
    return sub, opened


def duty_people(s: Session, duty_emails: list[str]) -> list[Person]:
    people = s.scalars(select(Person).where(Person.email.in_(duty_emails), Person.active.is_(True))).all()
    return sorted(people, key=lambda p: duty_emails.index(p.email))
