"""What the department head acts on: 二、需决策与协调事项 and 七、下月工作安排.

二 lists every 重大 risk (a risk reported by urgent mail included), every
诉求 awaiting group review whatever month it was registered in, and every
overdue 诉求 — one line each, merged by 诉求 number so the urgent matter that
is also overdue appears once with both marks. 七 lists what falls due next
month: the report deadline, planned visits, open follow-ups and open 诉求.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.bulletin.model import AgendaItem, CustomerSection, Decision, Risk, UrgentMatter
from mailbot.db.models import FollowUp, Request, Visit
from mailbot.domain import due
from mailbot.domain.commands import OPEN
from mailbot.requests.chapter import RequestsSection
from mailbot.requests.store import title_of
from mailbot.visits.plan import KINDS

MAJOR, REVIEW, OVERDUE = "重大风险", "需集团审议", "逾期诉求"


def decisions(s: Session, risks: tuple[Risk, ...], urgent: tuple[UrgentMatter, ...],
              customers: tuple[CustomerSection, ...], requests: RequestsSection | None,
              tz: ZoneInfo) -> tuple[Decision, ...]:
    """Every matter that needs the leaders, 重大 risks first, then group review, then the most overdue."""
    staff = {c.code: c.hq_staff for c in customers}
    out: list[Decision] = []
    by_number: dict[str, int] = {}

    def add(d: Decision) -> None:
        if d.number and d.number in by_number:
            i = by_number[d.number]
            old = out[i]
            kinds = old.kinds + tuple(k for k in d.kinds if k not in old.kinds)
            out[i] = Decision(kinds, old.number, old.customer, old.unit_name, old.assignee or d.assignee,
                              old.due or d.due, max(old.overdue_days, d.overdue_days), old.title)
            return
        if d.number:
            by_number[d.number] = len(out)
        out.append(d)

    merged: dict[str, Decision] = {}  # one line per customer, however many of its units said 重大
    for r in risks:
        if r.level == "重大" and not r.text.startswith("紧急报告"):
            old = merged.get(r.customer_code)
            merged[r.customer_code] = Decision(
                (MAJOR,), "", f"{r.customer_code} {r.customer_name}",
                f"{old.unit_name}、{r.unit_name}" if old else r.unit_name, staff.get(r.customer_code), None, 0,
                old.title if old else _first_line(r.text))
    for d in merged.values():
        add(d)
    for u in urgent:
        add(Decision((MAJOR,), u.number, _customer(u.customer_code, u.customer_name), u.unit_name or "（未知单位）",
                     u.forwarded_to[0] if u.forwarded_to else None,
                     u.due_at.astimezone(tz).date() if u.due_at else None, 0, f"紧急报告：{u.title or u.subject}"))
    review = s.scalars(select(Request).where(Request.status == "awaiting_approval").order_by(Request.number)).all()
    for q in review:
        add(_request_decision(q, REVIEW, 0, tz))
    overdue = {x.number: x.overdue_days for x in (requests.overdue if requests else ())}
    if overdue:
        rows = {q.number: q for q in s.scalars(select(Request).where(Request.number.in_(list(overdue))))}
        for number, days in overdue.items():
            add(_request_decision(rows[number], OVERDUE, days, tz))
    return tuple(out)


def agenda(s: Session, period_key: str, schedule: due.Schedule | None, tz: ZoneInfo) -> tuple[AgendaItem, ...]:
    """Next month's dates: the report deadline, planned visits, open follow-ups and open 诉求 falling due."""
    month = due.Month.parse(period_key).next()
    first, last = month.first_day, month.last_day
    start = datetime.combine(first, time.min, tz)
    end = datetime.combine(month.next().first_day, time.min, tz)
    items = []
    if schedule is not None:
        items.append(AgendaItem(due.deadline(month, schedule), "报送截止", "",
                                f"{month.month}月月度报送截止（各所属单位报送{month.month}月重点客户情况）", None))
    for v in s.scalars(select(Visit).where(Visit.starts_at >= start, Visit.starts_at < end,
                                           Visit.status == "planned").order_by(Visit.starts_at)):
        items.append(AgendaItem(v.starts_at.astimezone(tz).date(), KINDS[v.kind], v.number,
                                f"{v.customer.code} {v.customer.name}：{v.topic}",
                                v.hq_owner.name if v.hq_owner else None))
    for fu in s.scalars(select(FollowUp).join(FollowUp.visit).where(
            FollowUp.status == "open", FollowUp.due >= first, FollowUp.due <= last, Visit.status != "cancelled")):
        assert fu.due is not None
        items.append(AgendaItem(fu.due, "跟踪事项", fu.visit.number, f"{fu.visit.customer.name}：{fu.text}", fu.owner))
    for q in s.scalars(select(Request).where(Request.status.in_(OPEN), Request.due_at >= start,
                                             Request.due_at < end).order_by(Request.due_at)):
        assert q.due_at is not None
        items.append(AgendaItem(q.due_at.astimezone(tz).date(), "诉求办理期限", q.number,
                                f"{_customer_of(q)}：{title_of(q)}", q.assignee.name if q.assignee else None))
    return tuple(sorted(items, key=lambda i: (i.when, i.kind, i.ref)))


def _request_decision(q: Request, kind: str, overdue_days: int, tz: ZoneInfo) -> Decision:
    return Decision((kind,), q.number, _customer_of(q), q.unit.name if q.unit else "（未知单位）",
                    q.assignee.name if q.assignee else None,
                    q.due_at.astimezone(tz).date() if q.due_at else None, overdue_days, title_of(q))


def _customer_of(q: Request) -> str:
    return _customer(q.customer.code, q.customer.name) if q.customer else "（客户未识别）"


def _customer(code: str | None, name: str | None) -> str:
    return f"{code} {name}" if code and name else name or "（客户未识别）"


def _first_line(text: str) -> str:
    # A risk's text joins items 5–8 one per line; the table has room for the first sentence, the annexes keep all.
    line = text.split("\n", 1)[0]
    return line[: line.index("。") + 1] if "。" in line[:-1] else line

