"""This month against the months before it: the figures of 一、本月总体情况, the charts' history, and 三's marks.

A past month is read with the same definitions as the bulletin's own month
(`figures_of`): the submission in force per unit, a unit on time when its
first accepted report was, a risk line per unit and customer plus one 重大
line per urgent matter, 诉求 by the day they were registered and answered.
One difference is deliberate: a past month's units are those that were asked
(a report request or a report exists), not today's active units — a unit
added in October must not count as 未报 in March. Every month is counted in
its issue's window (`cutoff.Cutoffs`): a past month reads as its issue
printed it, and a report accepted after that went to the next issue's 补报.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mailbot.bulletin.cutoff import Cutoffs
from mailbot.bulletin.model import Bulletin, MonthFigures, Risk
from mailbot.db.models import Customer, Period, ReportRequest, Request, StrategicEntry, Submission
from mailbot.domain import due

LEVEL_RANK = {"重大": 2, "一般": 1}


def figures_of(b: Bulletin) -> MonthFigures:
    """The bulletin's own month, counted from what it prints."""
    statuses = Counter(u.status for u in b.units)
    levels = Counter(r.level for r in b.risks)
    rq = b.requests
    return MonthFigures(period=b.period, units=len(b.units), on_time=statuses["on_time"], late=statuses["late"],
                        missing=statuses["missing"], risks_major=levels["重大"], risks_minor=levels["一般"],
                        requests_opened=len(rq.opened) if rq else 0, requests_answered=len(rq.answered) if rq else 0,
                        urgent=len(b.urgent))


def history(s: Session, period_key: str, cutoffs: Cutoffs, months: int = 12) -> tuple[MonthFigures, ...]:
    """The months before `period_key` (oldest first, at most months-1) that have anything to count."""
    out = []
    m = due.Month.parse(period_key)
    for _ in range(months - 1):
        m = m.previous()
        f = past_figures(s, m, cutoffs)
        if f is not None:
            out.append(f)
    return tuple(reversed(out))


def past_figures(s: Session, month: due.Month, cutoffs: Cutoffs) -> MonthFigures | None:
    """A past month's figures as its issue counted them, or None when mailbot knew nothing of it (no request,
    report or 诉求)."""
    first, nxt = cutoffs.window(month)
    opened = s.scalar(select(func.count(Request.id)).where(Request.created_at >= first, Request.created_at < nxt)) or 0
    answered = s.scalar(select(func.count(Request.id)).where(Request.answered_at >= first,
                                                             Request.answered_at < nxt)) or 0
    urgent = s.scalar(select(func.count(Request.id)).where(Request.urgent.is_(True), Request.created_at >= first,
                                                           Request.created_at < nxt)) or 0
    period = s.scalar(select(Period).where(Period.key == month.key))
    asked: set[int] = set()
    current: dict[int, Submission] = {}
    on_time: set[int] = set()
    if period is not None:
        asked = set(s.scalars(select(ReportRequest.unit_id).where(ReportRequest.period_id == period.id)))
        subs = s.scalars(select(Submission).where(Submission.period_id == period.id, Submission.received_at < nxt)
                         .order_by(Submission.version)).all()
        current = {x.unit_id: x for x in subs}  # by version: the last one accepted by the cut-off is in force
        on_time = {x.unit_id for x in subs if x.on_time}
        asked |= set(current)
    if not asked and not opened and not answered:
        return None
    levels = Counter(_entry_levels(s, [x.id for x in current.values()]).values())
    n_on_time = len(on_time & set(current))
    return MonthFigures(period=month.key, units=len(asked), on_time=n_on_time, late=len(current) - n_on_time,
                        missing=len(asked) - len(current), risks_major=levels["重大"] + urgent,
                        risks_minor=levels["一般"], requests_opened=opened, requests_answered=answered,
                        urgent=urgent)


def previous_risks(s: Session, period_key: str, cutoffs: Cutoffs) -> dict[str, Risk]:
    """Last month's highest risk per customer code as its issue printed it (urgent matters count as 重大), for
    新增 / 持续 / 已解除."""
    month = due.Month.parse(period_key).previous()
    first, nxt = cutoffs.window(month)
    out: dict[str, Risk] = {}

    def keep(r: Risk) -> None:
        old = out.get(r.customer_code)
        if old is None or LEVEL_RANK[r.level] > LEVEL_RANK[old.level]:
            out[r.customer_code] = r

    period = s.scalar(select(Period).where(Period.key == month.key))
    if period is not None:
        subs = s.scalars(select(Submission).where(Submission.period_id == period.id, Submission.received_at < nxt)
                         .order_by(Submission.version)).all()
        in_force = [x.id for x in {x.unit_id: x for x in subs}.values()]
        rows = s.execute(select(StrategicEntry.risk, Customer.code, Customer.name).join(StrategicEntry.customer)
                         .where(StrategicEntry.submission_id.in_(in_force),
                                StrategicEntry.risk.in_(("重大", "一般")))).all() if in_force else []
        for level, code, name in rows:
            assert level is not None  # the query keeps 重大 and 一般 only
            keep(Risk(level=level, customer_code=code, customer_name=name, unit_name="", text=""))
    for code, name in s.execute(select(Customer.code, Customer.name).join(Request.customer)
                                .where(Request.urgent.is_(True), Request.created_at >= first,
                                       Request.created_at < nxt)).all():
        keep(Risk(level="重大", customer_code=code, customer_name=name, unit_name="", text=""))
    return out


def mark_changes(risks: tuple[Risk, ...], before: dict[str, Risk] | None,
                 reported: set[str]) -> tuple[tuple[Risk, ...], tuple[Risk, ...]]:
    """This month's risks marked 新增 / 持续 (with ↑ ↓ → against last month's level), and last month's risks
    that are gone: 已解除 when a unit reported on the customer this month, 未再报告 when none did.

    `before` None means there is no last month to compare with: nothing is marked.
    """
    if before is None:
        return risks, ()
    marked = []
    for r in risks:
        old = before.get(r.customer_code)
        if old is None:
            marked.append(_with(r, "新增", ""))
        else:
            diff = LEVEL_RANK[r.level] - LEVEL_RANK[old.level]
            marked.append(_with(r, "持续", "↑" if diff > 0 else "↓" if diff < 0 else "→"))
    now = {r.customer_code for r in risks}
    cleared = tuple(_with(old, "已解除" if code in reported else "未再报告", "↓")
                    for code, old in sorted(before.items()) if code not in now)
    return tuple(marked), cleared


def _with(r: Risk, change: str, trend: str) -> Risk:
    return replace(r, change=change, trend=trend)


def _entry_levels(s: Session, submission_ids: list[int]) -> dict[int, str]:
    if not submission_ids:
        return {}
    rows = s.execute(select(StrategicEntry.id, StrategicEntry.risk).where(
        StrategicEntry.submission_id.in_(submission_ids),
        or_(StrategicEntry.risk == "重大", StrategicEntry.risk == "一般"))).all()
    return {i: level for i, level in rows if level is not None}

