"""补报: reports for earlier months accepted after their issue went out, printed in the next issue.

A report accepted after its month's cut-off (`cutoff.Cutoffs`) is in no
issue's figures — the month's issue had counted without it — so the next
issue names it: which unit, which month, when it was accepted, and what it
changed that a reader must know, the risks and 需总部协调 its previous
version (or, for a first report, nothing) did not carry.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailbot.bulletin.asks import ask_of
from mailbot.bulletin.model import CoordinationItem, LateReport, Risk
from mailbot.db.models import Period, StrategicEntry, Submission

RISK_ITEMS = (5, 6, 7, 8)
LEVEL_RANK = {"重大": 2, "一般": 1}


def gather_late(s: Session, period_key: str, start: datetime, end: datetime, tz: ZoneInfo) -> tuple[LateReport, ...]:
    """Reports for months before `period_key` accepted in this issue's window [start, end), oldest first."""
    subs = s.scalars(select(Submission).join(Submission.period)
                     .where(Period.key < period_key, Submission.received_at >= start, Submission.received_at < end)
                     .options(selectinload(Submission.strategic).selectinload(StrategicEntry.items),
                              selectinload(Submission.strategic).selectinload(StrategicEntry.customer),
                              selectinload(Submission.vip), selectinload(Submission.unit),
                              selectinload(Submission.period))
                     .order_by(Submission.received_at, Submission.id)).all()
    return tuple(_late(s, x, tz) for x in subs)


def _late(s: Session, sub: Submission, tz: ZoneInfo) -> LateReport:
    before = s.scalar(select(Submission).where(Submission.period_id == sub.period_id,
                                               Submission.unit_id == sub.unit_id,
                                               Submission.version == sub.version - 1)) if sub.version > 1 else None
    old_levels = {e.customer_id: LEVEL_RANK.get(e.risk or "", 0) for e in before.strategic} if before else {}
    old_asks = {e.customer_id for e in before.strategic if e.needs_hq} if before else set()
    old_vip = {v.customer_id for v in before.vip if v.needs_hq} if before else set()
    unit = sub.unit
    risks, asks = [], []
    for e in sub.strategic:
        c = e.customer
        if e.risk in LEVEL_RANK and LEVEL_RANK[e.risk] > old_levels.get(e.customer_id, 0):
            text = "\n".join(f"{i.category}. {i.text}" for i in e.items if i.category in RISK_ITEMS)
            risks.append(Risk(level=e.risk, customer_code=c.code, customer_name=c.name, unit_name=unit.name,
                              text=text or "（未说明）"))
        if e.needs_hq and e.customer_id not in old_asks:
            text, number = ask_of(s, sub, e.customer_id, "strategic",
                                  next((i.text for i in e.items if i.category == 4), None))
            asks.append(CoordinationItem(source="战略客户", customer_code=c.code, customer_name=c.name,
                                         unit_name=unit.name, text=text, number=number))
    for v in sub.vip:
        if v.needs_hq and v.customer_id not in old_vip:
            text, number = ask_of(s, sub, v.customer_id, "vip", v.issue)
            asks.append(CoordinationItem(source="VIP客户", customer_code=v.customer.code,
                                         customer_name=v.customer.name, unit_name=unit.name, text=text,
                                         number=number))
    risks.sort(key=lambda r: (-LEVEL_RANK[r.level], r.customer_code))
    return LateReport(unit_code=unit.code, unit_name=unit.name, period=sub.period.key,
                      received_at=sub.received_at.astimezone(tz), version=sub.version, risks=tuple(risks),
                      asks=tuple(asks))
