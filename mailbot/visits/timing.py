"""When a visit's reminders are due: pure date arithmetic on the working-day calendar.

Three things are chased, each the way the monthly reports are: a briefing
item's preparer before its due date; the summary after the visit; each
follow-up action before its due date and then every week it is overdue,
until someone reports it done. Every function here answers "which stage is
due today?" from dates alone; the caller turns the stage into an
idempotency key, so a stage is sent once, and after an outage only the
latest stage is sent (nobody needs yesterday's "three days left" today).

Reminders before a date move to the previous working day (a Saturday
reminder comes on Friday); reminders after one move to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from mailbot.domain.workdays import WorkCalendar


@dataclass(frozen=True)
class VisitPolicy:
    """How eagerly visits are chased (days); one place to change, later to read from settings."""

    brief_offsets: tuple[int, ...] = (2, 1)          # briefing reminder this many days before the due date
    summary_after: tuple[int, ...] = (3, 7)          # summary reminders this many days after the visit
    follow_up_offsets: tuple[int, ...] = (3, 1)      # follow-up reminders before the due date
    overdue_every: int = 7                           # then every this many days while overdue


POLICY = VisitPolicy()


def brief_day(due: date, announced: date, offsets: Sequence[int], cal: WorkCalendar) -> date | None:
    """The day to remind a preparer: the earliest offset that falls after the day they were told.

    A notice sent two days before the due date already is the reminder for the longer offset; the
    shorter one may still come. None when every offset has passed by the time they were told.
    """
    for off in sorted(set(offsets), reverse=True):
        on = cal.previous_workday(due - timedelta(days=off))
        if on > announced:
            return on
    return None


def summary_stage(visit_day: date, today: date, after: Sequence[int], cal: WorkCalendar) -> str | None:
    """After the summary request: the latest reminder stage (`D+3`, `D+7`) whose working day has come."""
    reached = [f"D+{n}" for n in sorted(set(after)) if cal.next_workday(visit_day + timedelta(days=n)) <= today]
    return reached[-1] if reached else None


def chase_stage(due: date, today: date, announced: date, policy: VisitPolicy, cal: WorkCalendar) -> str | None:
    """The follow-up chase stage due today: `T-3`, `T-1` before the due date, `D+1`, `D+8`, … after it."""
    stages = [(f"T-{off}", cal.previous_workday(due - timedelta(days=off)))
              for off in sorted(set(policy.follow_up_offsets), reverse=True)]
    stages = [(name, on) for name, on in stages if on > announced]
    n = 1
    while due + timedelta(days=n) <= today:  # at most one stage per week overdue
        stages.append((f"D+{n}", cal.next_workday(due + timedelta(days=n))))
        n += policy.overdue_every
    reached = [name for name, on in stages if on <= today]
    return reached[-1] if reached else None
