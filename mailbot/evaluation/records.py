"""What an evaluation is computed from: one unit's records of one period, as plain values.

`store.py` reads them from the database; `measures.py` turns them into figures without touching it, so every
figure can be checked by hand against the records `--explain` lists. Times are aware datetimes; the store has
already kept only what belongs to the period (see each record).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class AskedMonth:
    """A month of the period whose 月度报送通知 went to the unit: it owed a report by `deadline`."""

    month: str
    deadline: date


@dataclass(frozen=True)
class SubmissionRecord:
    """An accepted report of a month of the period (every version; the first decides on time, the current one
    counts for completeness)."""

    id: int
    month: str
    version: int
    received_at: datetime
    on_time: bool
    current: bool
    answered: int   # fields of the form this version answered, among those the unit had to report
    expected: int   # fields the unit had to report: 9 per strategic customer it serves, 2 per VIP customer


@dataclass(frozen=True)
class ErrorReplyRecord:
    """An error reply (请修改后重发) to one of the unit's contacts about a report of a month of the period."""

    outbox_id: int
    key: str
    month: str
    at: datetime
    to: str


@dataclass(frozen=True)
class RequestRecord:
    """A 诉求 the unit raised in the period (from its report, a VIP block or an urgent matter)."""

    number: str
    source: str
    created_at: datetime
    due_at: datetime | None
    answered_at: datetime | None   # answered to the unit — or closed without an answer, whichever came first
    closed_at: datetime | None
    awaiting_approval: bool        # with the group (需集团审议): the clock is not HQ's
    first_response_at: datetime | None  # HQ's first action on it (the urgent matters' response time)


@dataclass(frozen=True)
class FollowUpRecord:
    """A visit's follow-up action owned by the unit (or one of its contacts), due in the period."""

    id: int
    ref: str        # VIS-2026-0001-1
    due: date
    done_on: date | None


@dataclass(frozen=True)
class SurveyAnswerRecord:
    """The current answer to a satisfaction survey about a customer the unit serves, received in the period."""

    token: str
    version: int
    received_at: datetime
    scores: tuple[int, ...]   # the scored questions answered (1–5)
    by_unit: bool             # filled in by a unit's contact on the customer's behalf (代填)


@dataclass(frozen=True)
class UnitRecords:
    code: str
    name: str
    asked: tuple[AskedMonth, ...] = ()
    submissions: tuple[SubmissionRecord, ...] = ()
    errors: tuple[ErrorReplyRecord, ...] = ()
    requests: tuple[RequestRecord, ...] = ()
    follow_ups: tuple[FollowUpRecord, ...] = ()
    survey_answers: tuple[SurveyAnswerRecord, ...] = ()
