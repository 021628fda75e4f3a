"""Read one month out of the database into a `Bulletin` (the renderer lays it out).

Only the submission in force at the issue's cut-off counts for each unit (a
corrected resend replaces the earlier one; one accepted after the cut-off is
the next issue's 补报); a unit is on time when its first accepted report was.
诉求 and urgent matters are those of the issue's window (`cutoff.Cutoffs`), so
the cover mail, 一 and 五 count the same ones. Risks are ranked 重大 first, then
by customer code.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from parsers import CATEGORY_LABELS

from mailbot.bulletin import agenda, trends
from mailbot.bulletin.asks import ask_of
from mailbot.bulletin.cutoff import Cutoffs
from mailbot.bulletin.late import gather_late
from mailbot.bulletin.model import (
    Bulletin,
    CategoryMatters,
    CoordinationItem,
    CustomerSection,
    Masthead,
    Matter,
    Risk,
    UnitStatus,
    UrgentMatter,
    VipMatter,
)
from mailbot.campaigns.chapter import gather_campaigns
from mailbot.db.models import Customer, Period, Request, StrategicEntry, Submission, Unit
from mailbot.domain import due
from mailbot.evaluation.chapter import gather_evaluation
from mailbot.requests.chapter import gather_requests
from mailbot.requests.store import title_of
from mailbot.settings import EvaluationSettings
from mailbot.surveys.chapter import gather_surveys
from mailbot.visits.chapter import gather_visits

RISK_ORDER = {"重大": 0, "一般": 1, "无": 2}
RISK_ITEMS = (5, 6, 7, 8)


def gather(s: Session, period: Period, *, department: str, tz: ZoneInfo, now: datetime,
           masthead: Masthead | None = None, schedule: due.Schedule | None = None,
           evaluation: EvaluationSettings | None = None, cutoffs: Cutoffs | None = None) -> Bulletin:
    """The month's bulletin, chapter by chapter; 需总部协调 collects the strategic, VIP and urgent ones in order.

    `schedule` gives 下月工作安排 next month's deadline (left out without it); `evaluation` (its settings) adds the
    quarter's 维护工作评估 in a month that closes a quarter; `cutoffs` (default: from `schedule`) says what each
    issue counts to — an issue compiled before its cut-off counts to `now`."""
    month = due.Month.parse(period.key)
    cutoffs = cutoffs or Cutoffs(tz, schedule or due.Schedule())
    first = datetime.combine(month.first_day, time.min, tz)
    nxt = datetime.combine(month.next().first_day, time.min, tz)
    start, end = cutoffs.window(month)
    end = min(end, now)
    statuses, current = _submissions(s, period, tz, end)
    sections, risks, strategic_asks = _strategic(s, current)
    vip, vip_asks = _vip(s, current)
    urgent, urgent_asks = _urgent(s, start, end, tz)
    # A risk reported by urgent mail is the month's most pressing one, whether or not a form said so.
    risks = tuple(sorted((*risks, *(_urgent_risk(u) for u in urgent)),
                         key=lambda r: (RISK_ORDER[r.level], r.customer_code)))
    past = trends.history(s, period.key, cutoffs)
    previous = past[-1] if past and past[-1].period == month.previous().key else None
    reported = {c.code for c in sections if c.reported_units}
    risks, cleared = trends.mark_changes(risks, trends.previous_risks(s, period.key, cutoffs) if previous else None,
                                         reported)
    requests = gather_requests(s, start, end, now, tz)
    b = Bulletin(period=period.key, department=department, deadline=period.deadline,
                 generated_at=now.astimezone(tz), units=statuses, customers=sections, vip=vip, risks=risks,
                 coordination=strategic_asks + vip_asks + urgent_asks, urgent=urgent,
                 requests=requests, visits=gather_visits(s, first, nxt, now, tz), masthead=masthead,
                 previous=previous, cleared=cleared,
                 decisions=agenda.decisions(s, risks, urgent, sections, requests, tz),
                 agenda=agenda.agenda(s, period.key, schedule, tz), surveys=gather_surveys(s, first, nxt),
                 campaigns=gather_campaigns(s, first, nxt),
                 evaluation=gather_evaluation(s, period.key, now, tz, evaluation) if evaluation else None,
                 cutoff=end.astimezone(tz), late=gather_late(s, period.key, start, end, tz))
    return replace(b, history=(*past, trends.figures_of(b)))


def _urgent_risk(u: UrgentMatter) -> Risk:
    return Risk(level="重大", customer_code=u.customer_code or "—", customer_name=u.customer_name or "（客户未识别）",
                unit_name=u.unit_name or "（未知单位）", text=f"紧急报告（{u.received_at:%m月%d日}）：{u.title}")


def _submissions(s: Session, period: Period, tz: ZoneInfo, cutoff: datetime) -> tuple[
        tuple[UnitStatus, ...], dict[int, Submission]]:
    """一、报送情况: each active unit on time, late or missing; and the submission in force per unit at the cut-off."""
    units = s.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)).all()
    subs = s.scalars(select(Submission).where(Submission.period_id == period.id, Submission.received_at < cutoff)
                     .options(selectinload(Submission.strategic).selectinload(StrategicEntry.items),
                              selectinload(Submission.strategic).selectinload(StrategicEntry.customer),
                              selectinload(Submission.vip), selectinload(Submission.unit))
                     .order_by(Submission.version)).all()
    current = {x.unit_id: x for x in subs}  # by version: the last one accepted by the cut-off is in force
    on_time = {x.unit_id for x in subs if x.on_time}
    statuses = []
    for u in units:
        sub = current.get(u.id)
        status = "missing" if sub is None else "on_time" if u.id in on_time else "late"
        statuses.append(UnitStatus(code=u.code, name=u.name, status=status,
                                   submitted_at=sub.received_at.astimezone(tz) if sub else None,
                                   version=sub.version if sub else None))
    return tuple(statuses), current


def _strategic(s: Session, current: dict[int, Submission]) -> tuple[
        tuple[CustomerSection, ...], tuple[Risk, ...], tuple[CoordinationItem, ...]]:
    """The strategic customers' matters by category, the risks (重大 first) and what needs HQ."""
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
                text, number = ask_of(s, e.submission, c.id, "strategic",
                                      next((i.text for i in e.items if i.category == 4), None))
                coordination.append(CoordinationItem(source="战略客户", customer_code=c.code, customer_name=c.name,
                                                     unit_name=u.name, text=text, number=number))
        levels = [e.risk for e in entries if e.risk]
        sections.append(CustomerSection(
            code=c.code, name=c.name, hq_staff=c.hq_staff.name if c.hq_staff else None,
            units=tuple(u.name for u in c.units), reported_units=tuple(e.submission.unit.name for e in entries),
            risk=min(levels, key=lambda r: RISK_ORDER.get(r, 9)) if levels else None,
            needs_hq=any(e.needs_hq for e in entries),
            categories=tuple(CategoryMatters(number=n, label=CATEGORY_LABELS[n], matters=tuple(cats[n]))
                             for n in sorted(cats))))
    risks.sort(key=lambda r: (RISK_ORDER[r.level], r.customer_code))
    return tuple(sections), tuple(risks), tuple(coordination)


def _vip(s: Session, current: dict[int, Submission]) -> tuple[tuple[VipMatter, ...], tuple[CoordinationItem, ...]]:
    """The VIP customers' matters, and those that need HQ."""
    vip, coordination = [], []
    for sub in sorted(current.values(), key=lambda x: x.unit.code):
        for v in sub.vip:
            vip.append(VipMatter(customer_code=v.customer.code, customer_name=v.customer.name,
                                 unit_code=sub.unit.code, unit_name=sub.unit.name, issue=v.issue,
                                 handling=v.handling, needs_hq=v.needs_hq))
            if v.needs_hq:
                text, number = ask_of(s, sub, v.customer_id, "vip", v.issue)
                coordination.append(CoordinationItem(source="VIP客户", customer_code=v.customer.code,
                                                     customer_name=v.customer.name, unit_name=sub.unit.name,
                                                     text=text, number=number))
    vip.sort(key=lambda v: (v.customer_code, v.unit_code))
    return tuple(vip), tuple(coordination)


def _urgent(s: Session, first: datetime, nxt: datetime, tz: ZoneInfo) -> tuple[
        tuple[UrgentMatter, ...], tuple[CoordinationItem, ...]]:
    """The window's urgent matters, each of which also needs HQ."""
    urgent, coordination = [], []
    for r in s.scalars(select(Request).where(Request.urgent.is_(True), Request.created_at >= first,
                                             Request.created_at < nxt).order_by(Request.created_at)):
        urgent.append(UrgentMatter(
            received_at=r.created_at.astimezone(tz), unit_name=r.unit.name if r.unit else None,
            customer_code=r.customer.code if r.customer else None,
            customer_name=r.customer.name if r.customer else None, subject=r.inbound.subject or "",
            text=r.text, forwarded_to=(r.assignee.name,) if r.assignee else (),
            title=title_of(r), number=r.number, due_at=r.due_at.astimezone(tz) if r.due_at else None))
        coordination.append(CoordinationItem(source="紧急事项", customer_code=r.customer.code if r.customer else None,
                                             customer_name=r.customer.name if r.customer else None,
                                             unit_name=r.unit.name if r.unit else "（未知单位）", text=r.text,
                                             number=r.number))
    return tuple(urgent), tuple(coordination)
