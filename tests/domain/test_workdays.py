"""WorkCalendar: configured years, chinese_calendar's years, and the weekends-only guess."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailbot.domain.workdays import WorkCalendar, YearRule, add_working_hours


def _collecting_calendar(
    rules: dict[int, YearRule] | None = None,
) -> tuple[WorkCalendar, list[str]]:
    warnings: list[str] = []
    return WorkCalendar(rules, warn=warnings.append), warnings


def test_golden_week_2026_days() -> None:
    # National Day 2026: Thu 10-01..Wed 10-07 off, Sat 10-10 worked (调休), Thu 10-08 a normal workday.
    cal, warnings = _collecting_calendar()
    for day in range(1, 8):
        assert not cal.is_workday(date(2026, 10, day)), day
    assert cal.is_workday(date(2026, 9, 30))
    assert cal.is_workday(date(2026, 10, 8))
    assert cal.is_workday(date(2026, 10, 10))
    assert not cal.is_workday(date(2026, 10, 11))
    assert warnings == []
    assert cal.guessed_years == frozenset()


def test_golden_week_2026_moves() -> None:
    # Anything in 10-01..10-07 moves back to Wed 09-30 or forward to Thu 10-08; Sun 10-11 back to make-up Sat 10-10.
    cal, _ = _collecting_calendar()
    assert cal.previous_workday(date(2026, 10, 5)) == date(2026, 9, 30)
    assert cal.next_workday(date(2026, 10, 1)) == date(2026, 10, 8)
    assert cal.last_workday_before(date(2026, 10, 8)) == date(2026, 9, 30)
    assert cal.previous_workday(date(2026, 10, 11)) == date(2026, 10, 10)


def test_spring_festival_2026() -> None:
    # Spring Festival 2026: Sun 02-15..Mon 02-23 off; Sat 02-14 and Sat 02-28 worked.
    cal, _ = _collecting_calendar()
    assert cal.is_workday(date(2026, 2, 14))
    assert not cal.is_workday(date(2026, 2, 16))
    assert not cal.is_workday(date(2026, 2, 23))
    assert cal.is_workday(date(2026, 2, 28))
    assert cal.previous_workday(date(2026, 2, 22)) == date(2026, 2, 14)
    assert cal.next_workday(date(2026, 2, 15)) == date(2026, 2, 24)


def test_ordinary_weekend() -> None:
    # Sun 2026-11-29 goes back to Fri 11-27 and forward to Mon 11-30; a workday maps to itself.
    cal, _ = _collecting_calendar()
    assert cal.previous_workday(date(2026, 11, 29)) == date(2026, 11, 27)
    assert cal.next_workday(date(2026, 11, 29)) == date(2026, 11, 30)
    assert cal.previous_workday(date(2026, 11, 27)) == date(2026, 11, 27)
    assert cal.last_workday_before(date(2026, 11, 27)) == date(2026, 11, 26)


def test_configured_2027_rule_is_used_without_warning() -> None:
    # The operator configured 2027: Fri 01-01 off, Sat 01-09 worked; Mon 01-04 is a plain weekday.
    rule = YearRule(holidays=frozenset({date(2027, 1, 1)}), workdays=frozenset({date(2027, 1, 9)}))
    cal, warnings = _collecting_calendar({2027: rule})
    assert not cal.is_workday(date(2027, 1, 1))
    assert cal.is_workday(date(2027, 1, 9))
    assert cal.is_workday(date(2027, 1, 4))
    assert not cal.is_workday(date(2027, 1, 10))
    assert warnings == []
    assert cal.guessed_years == frozenset()


def test_configured_rule_crosses_into_library_year() -> None:
    # 2027 configured with Fri 01-01 off: Sun 2027-01-03 goes back over the weekend and holiday to Thu 2026-12-31.
    rule = YearRule(holidays=frozenset({date(2027, 1, 1)}), workdays=frozenset())
    cal, warnings = _collecting_calendar({2027: rule})
    assert cal.previous_workday(date(2027, 1, 3)) == date(2026, 12, 31)
    assert warnings == []


def test_configured_rule_overrides_library() -> None:
    # A 2026 rule replaces chinese_calendar for 2026: Thu 10-01 becomes a weekday, Thu 10-08 a holiday.
    rule = YearRule(holidays=frozenset({date(2026, 10, 8)}), workdays=frozenset())
    cal, _ = _collecting_calendar({2026: rule})
    assert cal.is_workday(date(2026, 10, 1))
    assert not cal.is_workday(date(2026, 10, 8))
    assert not cal.is_workday(date(2026, 10, 10))  # the library's make-up Saturday is not in the rule


def test_unconfigured_2027_falls_back_with_one_warning() -> None:
    # No rule and no library data for 2027: weekends only, one warning naming calendar.years.2027.
    cal, warnings = _collecting_calendar()
    assert cal.is_workday(date(2027, 1, 1))  # really New Year's Day, but unknown: Friday
    assert not cal.is_workday(date(2027, 1, 2))  # Saturday
    assert cal.is_workday(date(2027, 1, 4))  # Monday
    day = date(2027, 2, 1)
    for _ in range(60):
        cal.is_workday(day)
        day += timedelta(days=1)
    assert len(warnings) == 1
    assert "2027" in warnings[0]
    assert "calendar.years.2027" in warnings[0]
    assert cal.guessed_years == frozenset({2027})


def test_each_unknown_year_warns_once() -> None:
    # 2027 and 2028 both unknown: one warning each, both listed; 2026 (known) is not.
    cal, warnings = _collecting_calendar()
    cal.is_workday(date(2026, 12, 31))
    cal.is_workday(date(2027, 6, 1))
    cal.is_workday(date(2028, 6, 1))
    cal.is_workday(date(2027, 6, 2))
    assert len(warnings) == 2
    assert "calendar.years.2027" in warnings[0]
    assert "calendar.years.2028" in warnings[1]
    assert cal.guessed_years == frozenset({2027, 2028})


def test_default_warning_goes_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    # Without a warn callback the fallback is logged at WARNING by mailbot.domain.workdays.
    cal = WorkCalendar()
    with caplog.at_level(logging.WARNING, logger="mailbot.domain.workdays"):
        cal.is_workday(date(2027, 3, 1))
        cal.is_workday(date(2027, 3, 2))
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "calendar.years.2027" in caplog.records[0].getMessage()


def test_year_rule_rejects_a_date_in_both_lists() -> None:
    # Fri 2027-01-01 both off and worked is a config mistake.
    with pytest.raises(ValueError, match="2027-01-01"):
        YearRule(holidays=frozenset({date(2027, 1, 1)}), workdays=frozenset({date(2027, 1, 1)}))


def test_calendar_rejects_a_rule_with_another_years_dates() -> None:
    # A 2028 date under calendar.years.2027 is a typo the operator should see at start-up.
    rule = YearRule(holidays=frozenset({date(2028, 1, 1)}), workdays=frozenset())
    with pytest.raises(ValueError, match="calendar.years.2027"):
        WorkCalendar({2027: rule})


def test_rule_without_workdays_fails_instead_of_looping() -> None:
    # A 2027 rule marking every day a holiday: searching for a workday gives up with a clear error.
    every_day = frozenset(date(2027, 1, 1) + timedelta(days=i) for i in range(365))
    cal = WorkCalendar({2027: YearRule(holidays=every_day, workdays=frozenset())})
    with pytest.raises(ValueError, match="calendar.years.2027"):
        cal.next_workday(date(2027, 3, 1))


@pytest.mark.parametrize("start, hours, expected", [
    ((2026, 11, 27, 16, 30), 2, (2026, 11, 30, 9, 30)),   # Friday afternoon → Monday morning
    ((2026, 11, 27, 7, 0), 2, (2026, 11, 27, 10, 30)),    # before the day opens: counted from 08:30
    ((2026, 11, 28, 10, 0), 4, (2026, 11, 30, 12, 30)),   # a Saturday counts nothing
    ((2026, 9, 30, 17, 0), 2, (2026, 10, 8, 10, 0)),      # National Day: 1–7 October are off
    ((2026, 11, 30, 9, 0), 9, (2026, 12, 1, 9, 0)),       # a whole working day and then some
])
def test_working_hours_skip_nights_weekends_and_holidays(start: tuple[int, ...], hours: float,
                                                         expected: tuple[int, ...]) -> None:
    tz = ZoneInfo("Asia/Shanghai")
    day = (time(8, 30), time(17, 30))
    assert add_working_hours(datetime(*start, tzinfo=tz), hours, WorkCalendar(), day) == datetime(*expected, tzinfo=tz)
