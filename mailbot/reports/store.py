"""Monthly reports in the database: periods, accepted submissions and their versions, report items.

A corrected resend is a new submission with the next version number; the one
it replaces stays, marked superseded, so the history of what a unit said is
never lost. "Needs HQ" answers become request (诉求) records here.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from parsers import ParsedMessage

from mailbot.db.models import (
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
from mailbot.directory.lookup import customers_by_code
from mailbot.domain import due
from mailbot.domain.validate import UnitView
from mailbot.domain.workdays import WorkCalendar
from mailbot.requests.store import open_or_merge
from mailbot.settings import RequestSettings


def local_period(at: datetime, tz: ZoneInfo) -> str:
    return due.Month.of(at.astimezone(tz).date()).key


_PERIOD = select(Period).where(Period.key == bindparam("key"))  # built once: intake runs it for every message
_CURRENT = select(Submission).where(Submission.period_id == bindparam("period_id"),
                                    Submission.unit_id == bindparam("unit_id"), Submission.superseded_by_id.is_(None))


def ensure_period(s: Session, key: str, schedule: due.Schedule) -> Period:
    period = s.scalar(_PERIOD, {"key": key})
    if period is None:
        period = Period(key=key, deadline=due.deadline(due.Month.parse(key), schedule))
        s.add(period)
        s.flush()
    return period


def is_on_time(received_at: datetime, deadline: date, tz: ZoneInfo) -> bool:
    """On time means received by the end of the deadline day, HQ's local time."""
    return received_at <= datetime.combine(deadline, time.max, tz)


def unit_view(s: Session, unit: Unit) -> UnitView:
    known = {code: c.kind for code, c in customers_by_code(s).items() if c.active}
    mine = [c for c in unit.customers if c.active]
    return UnitView(code=unit.code, strategic=frozenset(c.code for c in mine if c.kind == "strategic"),
                    vip=frozenset(c.code for c in mine if c.kind == "vip"), known=known)


def current_submission(s: Session, period_id: int, unit_id: int) -> Submission | None:
    return s.scalar(_CURRENT, {"period_id": period_id, "unit_id": unit_id})


def persist_submission(s: Session, msg: InboundMessage, p: ParsedMessage, unit: Unit, period: Period,
                       tz: ZoneInfo, requests: RequestSettings, duty: Person | None,
                       calendar: WorkCalendar) -> tuple[Submission, list[tuple[Request, bool]]]:
    """Store an accepted report; its "needs HQ" answers open requests (or attach to open ones)."""
    previous = current_submission(s, period.id, unit.id)
    customers = customers_by_code(s)
    # INSERT … RETURNING, here and below, rather than the unit of work: a report is a few dozen rows that
    # need no change tracking, and a flush costs more than all their statements (bench/bench_ingest.py).
    sub = s.scalars(insert(Submission).returning(Submission), [dict(
        period_id=period.id, unit_id=unit.id, inbound_id=msg.id, version=previous.version + 1 if previous else 1,
        received_at=msg.received_at, on_time=is_on_time(msg.received_at, period.deadline, tz),
        reporter_name=p.reporter_name, reporter_phone=p.reporter_phone, urgent_text=p.urgent_text)]).one()
    if previous is not None:
        s.execute(update(Submission).where(Submission.id == previous.id).values(superseded_by_id=sub.id))
    if p.strategic:
        entry_ids = s.scalars(insert(StrategicEntry).returning(StrategicEntry.id, sort_by_parameter_order=True), [
            {"submission_id": sub.id, "customer_id": customers[b.customer].id, "risk": b.risk, "needs_hq": b.needs_hq}
            for b in p.strategic]).all()
        items = [{"entry_id": entry_id, "category": int(number), "text": text}
                 for entry_id, b in zip(entry_ids, p.strategic) for number, text in b.items.items() if text is not None]
        if items:
            s.execute(insert(ReportItem), items)
    if p.vip:
        s.execute(insert(VipItem), [{"submission_id": sub.id, "customer_id": customers[v.customer].id, "issue": v.issue,
                                     "handling": v.handling, "needs_hq": v.needs_hq} for v in p.vip])
    opened: list[tuple[Request, bool]] = []
    for block in p.strategic:
        if block.needs_hq:
            # §8.1.2: what needs HQ is item 4 when filled, else the whole block's matters.
            text = block.items.get("4") or "\n".join(f"{k}. {v}" for k, v in block.items.items() if v)
            opened.append(open_or_merge(s, requests, source="strategic", unit=unit,
                                        customer=customers[block.customer],
                                        category=4 if block.items.get("4") else None,
                                        text=text or "（需总部协调，未写明事项）", inbound=msg, submission=sub,
                                        assignee=customers[block.customer].hq_staff or duty, calendar=calendar, tz=tz))
    for v in p.vip:
        customer = customers[v.customer]
        if v.needs_hq:
            opened.append(open_or_merge(s, requests, source="vip", unit=unit, customer=customer, category=None,
                                        text=v.issue or "（需总部协调，未写明事项）", inbound=msg, submission=sub,
                                        assignee=customer.hq_staff or duty, calendar=calendar, tz=tz))
    return sub, opened
