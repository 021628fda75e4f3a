"""Which moment each issue's figures are counted at, so the cover mail and every chapter state the same numbers.

An issue goes out on `due.bulletin_date`; its figures count what mailbot had
accepted by the cut-off — `bulletin.cutoff` (18:00) on the day before the
issue, never before the deadline day is over (then it reads "截至11月28日24:00"). A month's window runs from the
previous issue's cut-off to its own: the 诉求 registered and answered, the
urgent matters and the reports accepted in it. A report for a month whose
issue has gone out is printed in the next issue's 补报 (`late.gather_late`),
so nothing accepted is ever left out of a mailed issue and nothing is counted
twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from mailbot.domain import due
from mailbot.domain.workdays import WorkCalendar


@dataclass(frozen=True)
class Cutoffs:
    """Each month's cut-off and window, from the schedule and the working calendar."""

    tz: ZoneInfo
    schedule: due.Schedule = due.Schedule()
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    at: time = time(18, 0)

    def of(self, month: due.Month) -> datetime:
        """The moment `month`'s issue counts to."""
        issued = due.bulletin_date(month, self.schedule, self.calendar)
        # The evening before the issue, a weekend's too: a unit that reports late on Sunday is in Monday's issue.
        before = datetime.combine(issued - timedelta(days=1), self.at, self.tz)
        # A unit has the whole deadline day: a cut-off on it would call an on-time report late.
        after_deadline = datetime.combine(due.deadline(month, self.schedule) + timedelta(days=1), time.min, self.tz)
        return max(before, after_deadline)

    def window(self, month: due.Month) -> tuple[datetime, datetime]:
        """From the previous issue's cut-off to this one's, half-open like every month window: [start, end)."""
        return self.of(month.previous()), self.of(month)


def label(at: datetime, tz: ZoneInfo) -> str:
    """How the figures name their cut-off: "截至11月30日18:00" (midnight reads as the day before's 24:00)."""
    t = at.astimezone(tz)
    if t.time() == time.min:
        d = t.date() - timedelta(days=1)
        return f"截至{d.month}月{d.day}日24:00"
    return f"截至{t.month}月{t.day}日{t:%H:%M}"
