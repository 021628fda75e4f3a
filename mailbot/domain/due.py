"""What the §8.1.4 calendar says is due on a given day.

The monthly cycle for a reporting month ("period") is: the request goes out
on `request_day`, reminders follow at fixed offsets before the deadline,
the unit's leader is escalated to on the last working day before the
deadline, and the bulletin is compiled shortly after it. Dates that fall on
a weekend or public holiday move to the previous working day (units need
the time), except the bulletin, which moves to the next one (it reports on
a deadline that has passed), and the deadline itself, which the rule fixes.

Everything here is pure: no database and no clock. The scheduler calls
`due_on(today, ...)` on every tick and drops what it has already done,
keyed by (kind, period, stage, recipient); because `due_on` is stateless
and returns whatever is still due, a restart after downtime catches up by
itself and never sends twice.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from mailbot.domain.workdays import WorkCalendar

_PERIOD_RE = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, order=True)
class Month:
    """A reporting month."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, got {self.month}")
        if not 1 <= self.year <= 9999:
            raise ValueError(f"year must be 1..9999, got {self.year}")

    @classmethod
    def parse(cls, s: str) -> Month:
        """Read a period key such as "2026-11"."""
        m = _PERIOD_RE.fullmatch(s.strip())
        if m is None:
            raise ValueError(f"not a reporting month: {s!r} (expected YYYY-MM, e.g. 2026-11)")
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"not a reporting month: {s!r} (month must be 01..12)")
        return cls(year, month)

    @classmethod
    def of(cls, d: date) -> Month:
        """The period a date belongs to."""
        return cls(d.year, d.month)

    @property
    def key(self) -> str:
        """Stable key for storage and the CLI: "2026-11"."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        """How mails and the bulletin name it: "2026年11月"."""
        return f"{self.year}年{self.month}月"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def day(self, n: int) -> date:
        """Day `n` of the month, clamped to its length (30 → 28 in February)."""
        return date(self.year, self.month, min(n, self.last_day.day))

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True)
class Schedule:
    """The monthly cycle's settings (config `schedule:`); days are days of the period's month."""

    # Moved to the previous working day: units need the whole window.
    request_day: int = 15
    # Reports are due by the end of this day; never moved, the rule says "before the 28th".
    deadline_day: int = 28
    # Calendar days before the deadline, each moved to the previous working day.
    reminder_offsets: tuple[int, ...] = (7, 3, 1)
    # Days after the deadline, moved to the next working day: the earliest the bulletin goes out.
    bulletin_delay_days: int = 1
    # The bulletin goes out on this working day after the deadline (config `bulletin.issue_workday`; 2 lets a
    # unit that reports a day late into the issue). 0: only `bulletin_delay_days` counts, as before it existed.
    bulletin_workday: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.request_day <= 31:
            raise ValueError(f"schedule.request_day must be 1..31, got {self.request_day}")
        if not 1 <= self.deadline_day <= 31:
            raise ValueError(f"schedule.deadline_day must be 1..31, got {self.deadline_day}")
        if self.request_day >= self.deadline_day:
            raise ValueError(
                f"schedule.request_day ({self.request_day}) must come before "
                f"schedule.deadline_day ({self.deadline_day})"
            )
        bad = [o for o in self.reminder_offsets if o < 1]
        if bad:
            raise ValueError(f"schedule.reminder_offsets must be days >= 1, got {bad}")
        if self.bulletin_delay_days < 0:
            raise ValueError(
                f"schedule.bulletin_delay_days must be >= 0, got {self.bulletin_delay_days}"
            )
        if self.bulletin_workday < 0:
            raise ValueError(f"bulletin.issue_workday must be >= 1, got {self.bulletin_workday}")


def deadline(period: Month, schedule: Schedule) -> date:
    """The last day reports for `period` are on time (clamped to the month's length)."""
    return period.day(schedule.deadline_day)


def request_date(period: Month, schedule: Schedule, cal: WorkCalendar) -> date:
    """When the monthly request for `period` goes out."""
    return cal.previous_workday(period.day(schedule.request_day))


def reminder_dates(
    period: Month, schedule: Schedule, cal: WorkCalendar
) -> list[tuple[int, date]]:
    """The reminder stages as (offset, date), earliest first.

    A holiday can push several offsets onto the same working day; one
    reminder that day is enough, and it is the nearest-to-deadline one
    (smallest offset) because that stage's wording is the most urgent.
    """
    end = deadline(period, schedule)
    sent_request = request_date(period, schedule, cal)
    by_date: dict[date, int] = {}
    for offset in sorted(set(schedule.reminder_offsets)):
        on = cal.previous_workday(end - timedelta(days=offset))
        # A reminder on or before the request's own day reminds nobody of
        # anything (Spring Festival 2026 pulls T-7 back onto the request day).
        if on <= sent_request:
            continue
        by_date.setdefault(on, offset)  # ascending offsets: the smallest wins
    return sorted(((offset, on) for on, offset in by_date.items()), key=lambda p: p[1])


def escalation_date(period: Month, schedule: Schedule, cal: WorkCalendar) -> date:
    """The last working day strictly before the deadline.

    The leader hears while the unit can still report on time; with the
    default 28th this is usually the day of the T-1 reminder.
    """
    return cal.last_workday_before(deadline(period, schedule))


def bulletin_date(period: Month, schedule: Schedule, cal: WorkCalendar) -> date:
    """When the bulletin for `period` is compiled and mailed: the `bulletin_workday`-th working day after the
    deadline, and no earlier than `bulletin_delay_days` after it (moved to the next working day)."""
    end = deadline(period, schedule)
    day = end
    for _ in range(schedule.bulletin_workday):
        day = cal.next_workday(day + timedelta(days=1))
    return max(day, cal.next_workday(end + timedelta(days=schedule.bulletin_delay_days)))


Kind = Literal["request", "reminder", "escalation", "bulletin"]

# Sorting within a day follows the cycle: the contact's reminder goes out
# before the leader's escalation that shares its date.
_KIND_ORDER: dict[str, int] = {"request": 0, "reminder": 1, "escalation": 2, "bulletin": 3}


@dataclass(frozen=True)
class Due:
    """One scheduled action that is due; (kind, period, stage) is its idempotency key."""

    kind: Kind
    period: Month
    stage: str  # "request", "T-7", "T-3", "T-1", "escalation", "bulletin"
    on: date  # the date it became due, which may be before today after downtime


def due_on(today: date, schedule: Schedule, cal: WorkCalendar) -> list[Due]:
    """Everything due on `today`, done or not, sorted by date then kind.

    Looks at the month of `today` and its neighbours: the previous one for
    its bulletin (and catching up after downtime), the next one in case a
    holiday pulled its request back into this month.
    """
    here = Month.of(today)
    found: list[Due] = []
    for period in (here.previous(), here, here.next()):
        found.extend(_due_for(period, today, schedule, cal))
    return sorted(found, key=lambda d: (d.on, _KIND_ORDER[d.kind], d.period))


def _due_for(period: Month, today: date, schedule: Schedule, cal: WorkCalendar) -> list[Due]:
    found: list[Due] = []
    end = deadline(period, schedule)
    # Requests, reminders and escalations all stop at the deadline: after it
    # the unit is late, and that is the bulletin's business.
    if today <= end:
        sent = request_date(period, schedule, cal)
        if sent <= today:
            found.append(Due("request", period, "request", sent))
        stages = reminder_dates(period, schedule, cal)
        reached = [(offset, on) for offset, on in stages if on <= today]
        if reached:
            # Only the latest stage: after downtime one reminder, not three stale ones.
            offset, on = reached[-1]
            found.append(Due("reminder", period, f"T-{offset}", on))
        escalate = escalation_date(period, schedule, cal)
        if escalate <= today:
            found.append(Due("escalation", period, "escalation", escalate))
    compile_on = bulletin_date(period, schedule, cal)
    if compile_on <= today <= period.next().last_day:
        found.append(Due("bulletin", period, "bulletin", compile_on))
    return found


def month_key(value: str | None, today: date) -> str:
    """A command's `--period YYYY-MM`, checked, or this month's."""
    return Month.parse(value).key if value else Month.of(today).key
