"""The requests' chapter of the bulletin (七、诉求办理): opened, answered and overdue in the month, ageing by assignee."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.db.models import Request
from mailbot.domain.commands import OPEN, STATUS_CN
from mailbot.requests.store import title_of


@dataclass(frozen=True)
class RequestLine:
    """One request (诉求) as the bulletin lists it."""

    number: str
    status: str  # Chinese status word
    unit_name: str | None
    customer_name: str | None
    assignee: str | None
    created_at: datetime
    due_at: datetime | None
    overdue_days: int  # 0 unless past due and still not answered
    text: str

@dataclass(frozen=True)
class AgeingRow:
    """Open requests of one assignee by age."""

    assignee: str
    open: int
    overdue: int
    under_7: int
    days_7_30: int
    over_30: int

@dataclass(frozen=True)
class RequestsSection:
    opened: tuple[RequestLine, ...]    # created in the month
    answered: tuple[RequestLine, ...]  # answered in the month
    overdue: tuple[RequestLine, ...]   # past due and unanswered when compiled
    ageing: tuple[AgeingRow, ...]      # all open requests, by assignee


def gather_requests(s: Session, first: datetime, nxt: datetime, now: datetime, tz: ZoneInfo) -> RequestsSection:
    """Opened and answered in the month, overdue now, and the ageing of everything open, by assignee."""
    def line(r: Request) -> RequestLine:
        late = (now - r.due_at).days if r.due_at and r.due_at < now and r.status in ("new", "in_progress") else 0
        return RequestLine(number=r.number, status=STATUS_CN[r.status], unit_name=r.unit.name if r.unit else None,
                           customer_name=r.customer.name if r.customer else None,
                           assignee=r.assignee.name if r.assignee else None,
                           created_at=r.created_at.astimezone(tz),
                           due_at=r.due_at.astimezone(tz) if r.due_at else None, overdue_days=late,
                           text=title_of(r))

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
