"""The feedback dates of a campaign with a fixed cadence, and which round a day belongs to. Pure: no clock.

Round k is due on the k-th feedback date: `every_days` × k after the start, moved to the previous working day
(units need the whole window, as for the monthly report), up to the end date. Feedback received on a feedback
date counts for that round; after it, for the next one — so a late reply still answers the round being chased.
"""

from __future__ import annotations

from datetime import date, timedelta

from mailbot.domain.workdays import WorkCalendar


def feedback_dates(start: date, every_days: int, end: date, cal: WorkCalendar) -> list[date]:
    """Every feedback date from `start` to `end`, in order (empty when the first would fall after `end`)."""
    dates: list[date] = []
    k = 1
    while (day := start + timedelta(days=every_days * k)) <= end:
        on = cal.previous_workday(day)
        if on > start and (not dates or on > dates[-1]):
            dates.append(on)
        k += 1
    return dates


def round_of(day: date, dates: list[date]) -> int:
    """The round a reply received on `day` answers (1-based; past the last date: one more than their count)."""
    return 1 + sum(1 for d in dates if d < day)
