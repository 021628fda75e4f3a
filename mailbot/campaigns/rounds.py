"""The feedback dates of a campaign with a fixed cadence, and which round a day belongs to. Pure: no clock.

With the cadence "with the monthly request" there are no feedback dates: the round is the month of the monthly
report the feedback rode in (or, for a reply to the campaign's own mails, the month it arrived), written as the
number yyyymm (202611), so rounds still sort and the board can say which month a unit last answered for.

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


def month_round(period_key: str) -> int:
    """The round of feedback given with the monthly request: the report period "2026-11" as 202611."""
    year, month = period_key.split("-")
    return int(year) * 100 + int(month)
