"""The bulletin's visits chapter as plain frozen data (no database), for `Bulletin.visits`.

Filled by `mailbot.visits.bulletin.gather_visits`; laid out by templates/pdf/_bulletin_visits.html.j2.
Text fields hold what people wrote: the template escapes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class VisitLine:
    number: str
    kind: str                 # 拜访 | 来访
    customer_code: str
    customer_name: str
    topic: str
    starts_at: datetime       # in the bulletin's zone
    place: str
    hq_owner: str | None
    units: tuple[str, ...]
    status: str               # 已计划 | 已取消 | 纪要已归档
    follow_ups: int
    follow_ups_open: int


@dataclass(frozen=True)
class FollowUpLine:
    ref: str                  # VIS-2026-0001-2
    customer_code: str
    customer_name: str
    text: str
    owner: str
    due: date
    overdue_days: int
    status: str


@dataclass(frozen=True)
class VisitsSection:
    visits: tuple[VisitLine, ...]        # took place (or were planned) in the month
    overdue: tuple[FollowUpLine, ...]    # open and past due when compiled, most overdue first
