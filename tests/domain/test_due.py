"""due: the §8.1.4 dates of a reporting month and what is due on a given day."""

from __future__ import annotations

from datetime import date

import pytest

from mailbot.domain.due import (
    Due,
    Month,
    Schedule,
    bulletin_date,
    deadline,
    due_on,
    escalation_date,
    reminder_dates,
    request_date,
)
from mailbot.domain.workdays import WorkCalendar, YearRule

DEFAULT = Schedule()
OCT_2026 = Month(2026, 10)
NOV_2026 = Month(2026, 11)


def _cal() -> WorkCalendar:
    return WorkCalendar(warn=lambda message: None)


# --- Month -----------------------------------------------------------------


def test_period_key_label_and_neighbours() -> None:
    # 2026-11 reads back, prints as 2026年11月, and steps over year ends both ways.
    p = Month.parse("2026-11")
    assert p == NOV_2026
    assert p.key == "2026-11"
    assert p.label == "2026年11月"
    assert Month(2026, 1).previous() == Month(2025, 12)
    assert Month(2026, 12).next() == Month(2027, 1)
    assert Month.of(date(2026, 2, 28)) == Month(2026, 2)
    assert Month(2026, 3).key == "2026-03"


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "2026/11", "26-11", "2026-1", "", "11-2026"])
def test_period_parse_rejects(bad: str) -> None:
    # Anything but YYYY-MM with a real month is refused with the expected format in the message.
    with pytest.raises(ValueError, match="YYYY-MM|01..12"):
        Month.parse(bad)


# --- dates of one period ------------------------------------------------------


def test_february_deadline_clamped() -> None:
    # deadline_day 30 in February 2026 (28 days) is Sat 02-28; in leap 2028 it is Tue 02-29.
    schedule = Schedule(deadline_day=30)
    assert deadline(Month(2026, 2), schedule) == date(2026, 2, 28)
    assert deadline(Month(2028, 2), schedule) == date(2028, 2, 29)
    assert deadline(Month(2026, 4), schedule) == date(2026, 4, 30)


def test_weekend_deadline_november_2026() -> None:
    # Deadline Sat 11-28 stays put; request Sun 15 → Fri 13; T-7 Sat 21 → Fri 20; T-3 Wed 25; T-1 Fri 27;
    # escalation Fri 27 (last workday before Sat 28); bulletin Sun 29 → Mon 30.
    cal = _cal()
    assert deadline(NOV_2026, DEFAULT) == date(2026, 11, 28)
    assert request_date(NOV_2026, DEFAULT, cal) == date(2026, 11, 13)
    assert reminder_dates(NOV_2026, DEFAULT, cal) == [
        (7, date(2026, 11, 20)),
        (3, date(2026, 11, 25)),
        (1, date(2026, 11, 27)),
    ]
    assert escalation_date(NOV_2026, DEFAULT, cal) == date(2026, 11, 27)
    assert bulletin_date(NOV_2026, DEFAULT, cal) == date(2026, 11, 30)


def test_spring_festival_february_2026() -> None:
    # Holidays Sun 02-15..Mon 02-23, Sat 02-14 worked: request Sun 15 → Sat 14; T-7 Sat 21 → Sat 14 = request day,
    # dropped; T-3 Wed 25; T-1 Fri 27; escalation Fri 27; deadline Sat 28; bulletin Sun 03-01 → Mon 03-02.
    cal = _cal()
    feb = Month(2026, 2)
    assert request_date(feb, DEFAULT, cal) == date(2026, 2, 14)
    assert reminder_dates(feb, DEFAULT, cal) == [(3, date(2026, 2, 25)), (1, date(2026, 2, 27))]
    assert escalation_date(feb, DEFAULT, cal) == date(2026, 2, 27)
    assert deadline(feb, DEFAULT) == date(2026, 2, 28)
    assert bulletin_date(feb, DEFAULT, cal) == date(2026, 3, 2)


def test_golden_week_moves_reminders() -> None:
    # Request day 1, deadline Mon 10-12: request Thu 10-01 → Wed 09-30; T-7 Mon 10-05 → Wed 09-30 (request day,
    # dropped); T-3 Fri 10-09; T-1 Sun 10-11 → make-up Sat 10-10; escalation also Sat 10-10.
    cal = _cal()
    schedule = Schedule(request_day=1, deadline_day=12)
    assert request_date(OCT_2026, schedule, cal) == date(2026, 9, 30)
    assert reminder_dates(OCT_2026, schedule, cal) == [(3, date(2026, 10, 9)), (1, date(2026, 10, 10))]
    assert escalation_date(OCT_2026, schedule, cal) == date(2026, 10, 10)


def test_golden_week_moves_bulletin_forward() -> None:
    # Deadline Wed 09-30 (deadline_day 30): bulletin Thu 10-01 is in golden week → Thu 10-08.
    assert bulletin_date(Month(2026, 9), Schedule(deadline_day=30), _cal()) == date(2026, 10, 8)


def test_mid_autumn_collapses_two_reminders() -> None:
    # Sept 2026, deadline Mon 28: T-3 Fri 25 (Mid-Autumn) → Thu 24; T-1 Sun 27 → Thu 24 too: keep T-1 only.
    cal = _cal()
    sept = Month(2026, 9)
    assert reminder_dates(sept, DEFAULT, cal) == [(7, date(2026, 9, 21)), (1, date(2026, 9, 24))]
    assert escalation_date(sept, DEFAULT, cal) == date(2026, 9, 24)


def test_reminders_before_request_are_dropped() -> None:
    # Request day 20, deadline 28, offsets 14/10/3 in Nov 2026: T-14 Sat 14 → Fri 13 and T-10 Wed 18 precede
    # request Fri 20; only T-3 Wed 25 is left.
    schedule = Schedule(request_day=20, reminder_offsets=(14, 10, 3))
    assert reminder_dates(NOV_2026, schedule, _cal()) == [(3, date(2026, 11, 25))]


def test_configured_2027_rule_used() -> None:
    # Jan 2027 with Fri 01-15 configured as a holiday: request → Thu 01-14; no guess, no warning.
    warnings: list[str] = []
    rule = YearRule(holidays=frozenset({date(2027, 1, 1), date(2027, 1, 15)}), workdays=frozenset())
    cal = WorkCalendar({2027: rule}, warn=warnings.append)
    assert request_date(Month(2027, 1), DEFAULT, cal) == date(2027, 1, 14)
    assert warnings == []
    assert cal.guessed_years == frozenset()


def test_unconfigured_2027_guessed_once() -> None:
    # Jan 2027 unknown: request Fri 01-15 kept, bulletin Fri 01-29; the whole month warns exactly once.
    warnings: list[str] = []
    cal = WorkCalendar(warn=warnings.append)
    jan = Month(2027, 1)
    assert request_date(jan, DEFAULT, cal) == date(2027, 1, 15)
    assert bulletin_date(jan, DEFAULT, cal) == date(2027, 1, 29)
    for day in range(1, 32):
        due_on(date(2027, 1, day), DEFAULT, cal)
    assert len(warnings) == 1
    assert "calendar.years.2027" in warnings[0]
    assert cal.guessed_years == frozenset({2027})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"request_day": 0},
        {"deadline_day": 32},
        {"request_day": 28, "deadline_day": 28},
        {"reminder_offsets": (7, 0)},
        {"bulletin_delay_days": -1},
    ],
)
def test_schedule_rejects_nonsense(kwargs: dict[str, object]) -> None:
    # Out-of-range days, a request not before the deadline, zero offsets and negative delays are config errors.
    with pytest.raises(ValueError, match="schedule"):
        Schedule(**kwargs)  # type: ignore[arg-type]


# --- due_on ---------------------------------------------------------------------

OCT_BULLETIN = Due("bulletin", OCT_2026, "bulletin", date(2026, 10, 29))


def test_nothing_for_the_month_before_request_day() -> None:
    # Thu 2026-11-12, the day before Nov's request (Fri 13): only October's bulletin (Thu 10-29) is still due.
    assert due_on(date(2026, 11, 12), DEFAULT, _cal()) == [OCT_BULLETIN]


def test_request_due_from_its_day() -> None:
    # Fri 2026-11-13: Nov's request (moved from Sun 15) is due, after October's bulletin.
    assert due_on(date(2026, 11, 13), DEFAULT, _cal()) == [
        OCT_BULLETIN,
        Due("request", NOV_2026, "request", date(2026, 11, 13)),
    ]


def test_only_latest_reminder_stage() -> None:
    # Thu 2026-11-26, after T-7 (Fri 20) and T-3 (Wed 25): only T-3 is returned, not the stale T-7.
    assert due_on(date(2026, 11, 26), DEFAULT, _cal()) == [
        OCT_BULLETIN,
        Due("request", NOV_2026, "request", date(2026, 11, 13)),
        Due("reminder", NOV_2026, "T-3", date(2026, 11, 25)),
    ]


def test_escalation_and_last_reminder_same_day() -> None:
    # Fri 2026-11-27: T-1 and the escalation both fall on it (deadline Sat 28); reminder sorts before escalation.
    assert due_on(date(2026, 11, 27), DEFAULT, _cal()) == [
        OCT_BULLETIN,
        Due("request", NOV_2026, "request", date(2026, 11, 13)),
        Due("reminder", NOV_2026, "T-1", date(2026, 11, 27)),
        Due("escalation", NOV_2026, "escalation", date(2026, 11, 27)),
    ]


def test_deadline_day_still_chases_and_next_day_does_not() -> None:
    # Sat 11-28 (deadline) keeps request/T-1/escalation due; Sun 11-29 has only October's bulletin left.
    cal = _cal()
    kinds_28 = [(d.kind, d.period) for d in due_on(date(2026, 11, 28), DEFAULT, cal)]
    assert kinds_28 == [
        ("bulletin", OCT_2026),
        ("request", NOV_2026),
        ("reminder", NOV_2026),
        ("escalation", NOV_2026),
    ]
    assert due_on(date(2026, 11, 29), DEFAULT, cal) == [OCT_BULLETIN]


def test_bulletin_for_previous_period_on_the_first() -> None:
    # deadline_day 30: June 2026's deadline is Tue 06-30, its bulletin Wed 07-01; on 07-01 that is all that is due.
    assert due_on(date(2026, 7, 1), Schedule(deadline_day=30), _cal()) == [
        Due("bulletin", Month(2026, 6), "bulletin", date(2026, 7, 1)),
    ]


def test_bulletin_window_ends_with_next_period() -> None:
    # Nov 2026's bulletin (Mon 11-30) is due through Thu 12-31 and gone on Fri 2027-01-01.
    cal = _cal()
    nov_bulletin = Due("bulletin", NOV_2026, "bulletin", date(2026, 11, 30))
    assert due_on(date(2026, 12, 1), DEFAULT, cal) == [nov_bulletin]
    assert nov_bulletin in due_on(date(2026, 12, 31), DEFAULT, cal)
    assert nov_bulletin not in due_on(date(2027, 1, 1), DEFAULT, cal)


def test_catch_up_after_downtime_across_month_end() -> None:
    # Down from 11-26 to Tue 12-01: Nov's stale reminders and escalation are not sent; its bulletin is.
    assert due_on(date(2026, 12, 1), DEFAULT, _cal()) == [
        Due("bulletin", NOV_2026, "bulletin", date(2026, 11, 30)),
    ]


def test_request_pulled_into_previous_month() -> None:
    # Request day 1 for Oct 2026 moves to Wed 09-30, so on 09-30 October's request is already due.
    schedule = Schedule(request_day=1, deadline_day=12)
    due = due_on(date(2026, 9, 30), schedule, _cal())
    assert Due("request", OCT_2026, "request", date(2026, 9, 30)) in due


def test_spring_festival_request_day_has_no_reminder() -> None:
    # Sat 2026-02-14 (make-up workday): Feb's request goes out alone, T-7 having collapsed onto it;
    # January's bulletin (Thu 01-29) is still due.
    assert due_on(date(2026, 2, 14), DEFAULT, _cal()) == [
        Due("bulletin", Month(2026, 1), "bulletin", date(2026, 1, 29)),
        Due("request", Month(2026, 2), "request", date(2026, 2, 14)),
    ]
