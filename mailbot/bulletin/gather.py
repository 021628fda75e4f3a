"""Read one month out of the database into a `Bulletin` (the renderer lays it out).

Only the submission in force counts for each unit (a corrected resend replaces
the earlier one); a unit is on time when its first accepted report was. Risks
are ranked 重大 first, then by customer code.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from parsers import CATEGORY_LABELS

from mailbot.bulletin.model import (
    Bulletin,
    CategoryMatters,
    CoordinationItem,
    CustomerSection,
    Matter,
    RequestLine,
    RequestsSection,
    AgeingRow,
    Risk,
    UnitStatus,
    UrgentMatter,
    VipMatter,
)
from mailbot.domain import due
from mailbot.domain.commands import OPEN, STATUS_CN
from mailbot.visits.chapter import gather_visits
from mailbot.db.models import Customer, Period, Request, StrategicEntry, Submission, Unit

RISK_ORDER = {"重大": 0, "一般": 1, "无": 2}
RISK_ITEMS = (5, 6, 7, 8)


def gather(s: Session, period: Period, *, department: str, tz: ZoneInfo, now: datetime) -> Bulletin:
    units = s.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)).all()
    subs = s.scalars(select(Submission).where(Submission.period_id == period.id)
                     .options(selectinload(Submission.strategic).selectinload(StrategicEntry.items),
                              selectinload(Submission.strategic).selectinload(StrategicEntry.customer),
                              selectinload(Submission.vip), selectinload(Submission.unit))
                     .order_by(Submission.version)).all()
    current = {x.unit_id: x for x in subs if x.superseded_by_id is None}
    on_time = {x.unit_id for x in subs if x.on_time}

    statuses = []
    for u in units:
        sub = current.get(u.id)
        status = "missing" if sub is None else "on_time" if u.id in on_time else "late"
        statuses.append(UnitStatus(code=u.code, name=u.name, status=status,
                                   submitted_at=sub.received_at.astimezone(tz) if sub else None,
                                   version=sub.version if sub else None))

    by_customer: dict[int, list[StrategicEntry]] = defaultdict(list)
    for sub in sorted(current.values(), key=lambda x: x.unit.code):
        for e in sub.strategic:
            by_customer[e.customer_id].append(e)

    customers = s.scalars(select(Customer).where(Customer.active.is_(True)).order_by(Customer.code)
                          .options(selectinload(Customer.units), selectinload(Customer.hq_staff))).all()
    sections, risks, coordination = [], [], []
    for c in (c for c in customers if c.kind == "strategic"):
        entries = by_customer.get(c.id, [])
        cats: dict[int, list[Matter]] = defaultdict(list)
        for e in entries:
            u = e.submission.unit
            for item in e.items:
                cats[item.category].append(Matter(unit_code=u.code, unit_name=u.name, text=item.text))
            if e.risk in ("重大", "一般"):
                text = "\n".join(f"{i.category}. {i.text}" for i in e.items if i.category in RISK_ITEMS)
                risks.append(Risk(level=e.risk, customer_code=c.code, customer_name=c.name, unit_name=u.name,
                                  text=text or "（未说明）"))
            if e.needs_hq:
                item4 = next((i.text for i in e.items if i.category == 4), None)
                coordination.append(CoordinationItem(source="战略客户", customer_code=c.code, customer_name=c.name,
                                                     unit_name=u.name, text=item4 or "（未写明事项）"))
        levels = [e.risk for e in entries if e.risk]
        sections.append(CustomerSection(
            code=c.code, name=c.name, hq_staff=c.hq_staff.name if c.hq_staff else None,
            units=tuple(u.name for u in c.units), reported_units=tuple(e.submission.unit.name for e in entries),
            risk=min(levels, key=lambda r: RISK_ORDER.get(r, 9)) if levels else None,
            needs_hq=any(e.needs_hq for e in entries),
            categories=tuple(CategoryMatters(number=n, label=CATEGORY_LABELS[n], matters=tuple(cats[n]))
                             for n in sorted(cats))))

    vip = []
    for sub in sorted(current.values(), key=lambda x: x.unit.code):
        for v in sub.vip:
            vip.append(VipMatter(customer_code=v.customer.code, customer_name=v.customer.name,
                                 unit_code=sub.unit.code, unit_name=sub.unit.name, issue=v.issue,
                                 handling=v.handling, needs_hq=v.needs_hq))
            if v.needs_hq:
                coordination.append(CoordinationItem(source="VIP客户", customer_code=v.customer.code,
                                                     customer_name=v.customer.name, unit_name=sub.unit.name,
                                                     text=v.issue or "（未写明事项）"))
    vip.sort(key=lambda v: (v.customer_code, v.unit_code))
    risks.sort(key=lambda r: (RISK_ORDER[r.level], r.customer_code))

    urgent = []
    month = due.Month.parse(period.key)
    first = datetime.combine(month.first_day, time.min, tz)
    nxt = datetime.combine(month.next().first_day, time.min, tz)
    for r in s.scalars(select(Request).where(Request.urgent.is_(True), Request.created_at >= first,
                                             Request.created_at < nxt).order_by(Request.created_at)):
        urgent.append(UrgentMatter(
            received_at=r.created_at.astimezone(tz), unit_name=r.unit.name if r.unit else None,
            customer_code=r.customer.code if r.customer else None,
            customer_name=r.customer.name if r.customer else None, subject=r.inbound.subject or "",
            text=r.text, forwarded_to=(r.assignee.name,) if r.assignee else ()))
        coordination.append(CoordinationItem(source="紧急事项", customer_code=r.customer.code if r.customer else None,
                                             customer_name=r.customer.name if r.customer else None,
                                             unit_name=r.unit.name if r.unit else "（未知单位）", text=r.text))
    return Bulletin(period=period.key, department=department, deadline=period.deadline,
                    generated_at=now.astimezone(tz), units=tuple(statuses), customers=tuple(sections),
                    vip=tuple(vip), risks=tuple(risks), coordination=tuple(coordination), urgent=tuple(urgent),
                    requests=gather_requests(s, first, nxt, now, tz), visits=gather_visits(s, first, nxt, now, tz))


def gather_requests(s: Session, first: datetime, nxt: datetime, now: datetime, tz: ZoneInfo) -> RequestsSection:
    """Opened and answered in the month, overdue now, and the ageing of everything open, by assignee."""
    def line(r: Request) -> RequestLine:
        late = (now - r.due_at).days if r.due_at and r.due_at < now and r.status in ("new", "in_progress") else 0
        return RequestLine(number=r.number, status=STATUS_CN[r.status], unit_name=r.unit.name if r.unit else None,
                           customer_name=r.customer.name if r.customer else None,
                           assignee=r.assignee.name if r.assignee else None,
                           created_at=r.created_at.astimezone(tz),
                           due_at=r.due_at.astimezone(tz) if r.due_at else None, overdue_days=late, text=r.text)

    everything = s.scalars(select(Request).order_by(Request.number)).all()
    lines = {r.id: line(r) for r in everything}
    ageing: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for r in everything:
        if r.status not in OPEN:
            continue
        row = ageing[r.assignee.name if r.assignee else "（未指定）"]
        age = (now - r.created_at).days
        row[0] += 1
        row[1] += lines[r.id].overdue_days > 0
        row[2 if age < 7 else 3 if age <= 30 else 4] += 1
    return RequestsSection(
        opened=tuple(lines[r.id] for r in everything if first <= r.created_at < nxt),
        answered=tuple(lines[r.id] for r in everything if r.answered_at and first <= r.answered_at < nxt),
        overdue=tuple(sorted((x for x in lines.values() if x.overdue_days), key=lambda x: -x.overdue_days)),
        ageing=tuple(AgeingRow(a, *v) for a, v in sorted(ageing.items(), key=lambda kv: -kv[1][0])))
