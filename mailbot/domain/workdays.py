"""The Chinese working-day calendar the scheduler moves its dates on.

§8.1.4 moves reminders off weekends and public holidays, and China also
works some weekends (调休上班) to bridge long holidays, so "is this a
working day?" needs the State Council's yearly notice, not just the weekday.
Three sources answer it, in order of trust:

1. a `YearRule` the operator wrote in the config (`calendar.years.<year>`),
   which replaces everything else for that year — the fix when the library
   is wrong or late;
2. the `chinese_calendar` package, which ships the published notices but
   only for the years it knows (it raises for the others);
3. weekends only — a guess, logged once per year and listed by
   `guessed_years` so `mailbot status` can tell the operator to configure it.

The calendar never raises for an unknown year: a reminder a day off is
better than a scheduler that stops on the 1st of January.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import chinese_calendar  # type: ignore[import-untyped]  # ships no type hints

logger = logging.getLogger(__name__)

# A gap longer than this between two working days can only be a broken
# YearRule (the longest real break, Spring Festival, is nine days).
_MAX_SEARCH_DAYS = 60


@dataclass(frozen=True)
class YearRule:
    """One year as the operator describes it: public holidays and make-up working days."""

    holidays: frozenset[date]
    workdays: frozenset[date]

    def __post_init__(self) -> None:
        both = self.holidays & self.workdays
        if both:
            days = ", ".join(d.isoformat() for d in sorted(both))
            raise ValueError(f"dates listed both as holiday and as working day: {days}")


class WorkCalendar:
    """Answers whether a date is a working day in mainland China, and finds the nearest ones."""

    def __init__(
        self,
        rules: Mapping[int, YearRule] | None = None,
        *,
        warn: Callable[[str], None] = logger.warning,
    ) -> None:
        self._rules: dict[int, YearRule] = dict(rules or {})
        for year, rule in self._rules.items():
            stray = sorted(d for d in rule.holidays | rule.workdays if d.year != year)
            if stray:
                days = ", ".join(d.isoformat() for d in stray)
                raise ValueError(f"calendar.years.{year} lists dates of another year: {days}")
        self._warn = warn
        # Per year: does chinese_calendar know it? Asked once, so an unknown
        # year costs one exception and one warning, not one per lookup.
        self._library_knows: dict[int, bool] = {}
        self._guessed: set[int] = set()

    def is_workday(self, d: date) -> bool:
        """True if `d` is a working day; never raises."""
        rule = self._rules.get(d.year)
        if rule is not None:
            if d in rule.holidays:
                return False
            if d in rule.workdays:
                return True
            return _is_weekday(d)
        if self._library_knows.get(d.year, True):
            try:
                answer = bool(chinese_calendar.is_workday(d))
            except (NotImplementedError, KeyError, ValueError):
                self._library_knows[d.year] = False
            else:
                self._library_knows[d.year] = True
                return answer
        self._note_guess(d.year)
        return _is_weekday(d)

    def previous_workday(self, d: date) -> date:
        """`d` itself if it is a working day, else the closest earlier one."""
        return self._walk(d, -1)

    def last_workday_before(self, d: date) -> date:
        """The closest working day strictly before `d`."""
        return self._walk(d - timedelta(days=1), -1)

    def next_workday(self, d: date) -> date:
        """`d` itself if it is a working day, else the closest later one."""
        return self._walk(d, +1)

    @property
    def guessed_years(self) -> frozenset[int]:
        """Years looked up so far that had neither a YearRule nor library data."""
        return frozenset(self._guessed)

    def _walk(self, start: date, step: int) -> date:
        d = start
        for _ in range(_MAX_SEARCH_DAYS):
            if self.is_workday(d):
                return d
            d += timedelta(days=step)
        raise ValueError(
            f"no working day within {_MAX_SEARCH_DAYS} days of {start.isoformat()}; "
            f"check calendar.years.{start.year} in the config"
        )

    def _note_guess(self, year: int) -> None:
        if year in self._guessed:
            return
        self._guessed.add(year)
        self._warn(
            f"no Chinese public-holiday data for {year}: treating only Saturdays and "
            f"Sundays as days off; set calendar.years.{year} (holidays and make-up "
            f"working days) in the config"
        )


def _is_weekday(d: date) -> bool:
    return d.weekday() < 5


def add_working_hours(start: datetime, hours: float, cal: WorkCalendar, day: tuple[time, time]) -> datetime:
    """The moment `hours` of working time after `start` (aware, in the zone working hours are meant in): only the
    hours between `day[0]` and `day[1]` of working days count, so 2 working hours after Friday 16:30 with an
    08:30–17:30 day is Monday 09:30, or later when Monday is a holiday."""
    begin, end = day
    left = timedelta(hours=hours)
    t = start
    for _ in range(_MAX_SEARCH_DAYS * 2):
        opening = t.replace(hour=begin.hour, minute=begin.minute, second=0, microsecond=0)
        closing = t.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        if not cal.is_workday(t.date()) or t >= closing:
            t = opening + timedelta(days=1)
            continue
        t = max(t, opening)
        if t + left <= closing:
            return t + left
        left -= closing - t
        t = opening + timedelta(days=1)
    raise ValueError(f"no working time within {_MAX_SEARCH_DAYS * 2} days of {start.isoformat()}")
