"""The evaluation's records, read from what the database already holds: nothing is stored for it.

For each active unit and the period's months: the 月度报送通知 it was sent and its accepted reports (every version,
with the form's fields answered), the error replies to its contacts about those reports, the 诉求 it raised, the
visits' follow-up actions it owns that fell due, and the current survey answers about the customers it serves.
What belongs to the period: reports and error replies by their 报告期; 诉求 and survey answers by when they came;
follow-ups by their due date.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from mailbot.db.models import (
    FollowUp,
    InboundMessage,
    OutboxMail,
    Period,
    Person,
    ReportRequest,
    Request,
    StrategicEntry,
    Submission,
    SurveyResponse,
    SurveyTarget,
    Unit,
    Visit,
)
from mailbot.evaluation.measures import Evaluation, evaluate
from mailbot.evaluation.period import EvalPeriod
from mailbot.evaluation.records import (
    AskedMonth,
    ErrorReplyRecord,
    FollowUpRecord,
    RequestRecord,
    SubmissionRecord,
    SurveyAnswerRecord,
    UnitRecords,
)
from mailbot.settings import EvaluationSettings
from mailbot.visits.schedule import index_of
from mailbot.visits.summary_form import follow_up_ref

ITEMS_PER_STRATEGIC = 9   # FORM.md: the nine §8.1.1 items of a 【战略客户】 block
# 问题或诉求 and 本单位处理情况 of a 【VIP客户】 block (需总部协调 is a yes/no every block has, not a matter reported)
FIELDS_PER_VIP = 2
RAISED_BY_UNITS = ("strategic", "vip", "urgent")  # a survey's low score is the customer's 诉求, not the unit's
# What shows HQ took a 诉求 up (as the urgent ladder reads it): a command of HQ staff, not the bot's own entries
# and not the unit's follow-up comments.
TAKEN_UP = frozenset({"status", "transfer", "answer", "approval", "note", "close"})
_ERROR_KEY = re.compile(r"error:(\d+)(?::|$)")


def _bounds(period: EvalPeriod, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return (datetime.combine(period.first_day, time.min, tz),
            datetime.combine(period.last_day + timedelta(days=1), time.min, tz))


def evaluation_of(s: Session, period: EvalPeriod, now: datetime, tz: ZoneInfo,
                  cfg: EvaluationSettings) -> Evaluation:
    """The evaluation of `period` as of `now`, compared with the period before it."""
    return evaluate(period, load_records(s, period, tz), load_records(s, period.previous(), tz), now, tz, cfg)


def load_records(s: Session, period: EvalPeriod, tz: ZoneInfo) -> list[UnitRecords]:
    """Every active unit's records of `period`, by unit code."""
    units = list(s.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)
                           .options(selectinload(Unit.customers))))
    months = [m.key for m in period.months]
    periods = {p.id: p for p in s.scalars(select(Period).where(Period.key.in_(months)))}
    start, end = _bounds(period, tz)
    asked = _asked(s, periods)
    subs = _submissions(s, periods, units)
    errors = _errors(s, periods, months, tz)
    out = []
    for unit in units:
        addrs = list(s.scalars(select(Person.email).where(Person.unit_id == unit.id)))
        out.append(UnitRecords(
            code=unit.code, name=unit.name, asked=tuple(asked[unit.id]), submissions=tuple(subs[unit.id]),
            errors=tuple(e for e in errors if e.to in addrs),
            requests=_requests(s, unit, start, end), follow_ups=_follow_ups(s, unit, addrs, period, tz),
            survey_answers=_survey_answers(s, unit, start, end)))
    return out


def _asked(s: Session, periods: dict[int, Period]) -> dict[int, list[AskedMonth]]:
    found: dict[int, list[AskedMonth]] = defaultdict(list)
    for rr in s.scalars(select(ReportRequest).where(ReportRequest.period_id.in_(periods))):
        p = periods[rr.period_id]
        found[rr.unit_id].append(AskedMonth(p.key, p.deadline))
    return found


def _submissions(s: Session, periods: dict[int, Period], units: list[Unit]) -> dict[int, list[SubmissionRecord]]:
    customers = {u.id: [c for c in u.customers if c.active] for u in units}
    found: dict[int, list[SubmissionRecord]] = defaultdict(list)
    rows = s.scalars(select(Submission).where(Submission.period_id.in_(periods))
                     .options(selectinload(Submission.strategic).selectinload(StrategicEntry.items),
                              selectinload(Submission.vip)).order_by(Submission.id))
    for sub in rows:
        if sub.unit_id not in customers:  # a unit deactivated since: not evaluated
            continue
        strategic = {c.id for c in customers[sub.unit_id] if c.kind == "strategic"}
        vip = {c.id for c in customers[sub.unit_id] if c.kind == "vip"}
        # Only the fields the unit had to report count: a block added for a customer it does not serve is extra.
        answered = sum(1 for e in sub.strategic if e.customer_id in strategic
                       for item in e.items if 1 <= item.category <= ITEMS_PER_STRATEGIC and item.text.strip())
        answered += sum(bool(v.issue) + bool(v.handling) for v in sub.vip if v.customer_id in vip)
        found[sub.unit_id].append(SubmissionRecord(
            id=sub.id, month=periods[sub.period_id].key, version=sub.version, received_at=sub.received_at,
            on_time=sub.on_time, current=sub.superseded_by_id is None, answered=answered,
            expected=ITEMS_PER_STRATEGIC * len(strategic) + FIELDS_PER_VIP * len(vip)))
    return found


def _errors(s: Session, periods: dict[int, Period], months: list[str], tz: ZoneInfo) -> list[ErrorReplyRecord]:
    """Error replies about reports: `error:<inbound id>` carries the report's month through its message; another
    (an oversized mail's) counts in the month it was sent. A survey's error replies are not about reports."""
    rows = list(s.scalars(select(OutboxMail).where(OutboxMail.kind == "error_reply",
                                                   OutboxMail.answers_addr.is_not(None),
                                                   OutboxMail.idem_key.not_like("survey-%"))
                          .order_by(OutboxMail.id)))
    inbound_ids = {int(m.group(1)) for r in rows if (m := _ERROR_KEY.match(r.idem_key))}
    month_of_inbound = {i: periods[p].key if p in periods else None for i, p in s.execute(
        select(InboundMessage.id, InboundMessage.period_id).where(InboundMessage.id.in_(inbound_ids)))}
    found = []
    for r in rows:
        m = _ERROR_KEY.match(r.idem_key)
        if m and int(m.group(1)) in month_of_inbound:
            month = month_of_inbound[int(m.group(1))]
            if month is None:  # about a report of a month outside the period
                continue
        else:
            month = r.created_at.astimezone(tz).strftime("%Y-%m")
        if month in months:
            found.append(ErrorReplyRecord(r.id, r.idem_key, month, r.created_at, r.answers_addr or ""))
    return found


def _requests(s: Session, unit: Unit, start: datetime, end: datetime) -> tuple[RequestRecord, ...]:
    rows = s.scalars(select(Request).where(Request.unit_id == unit.id, Request.source.in_(RAISED_BY_UNITS),
                                           Request.created_at >= start, Request.created_at < end)
                     .options(selectinload(Request.events)).order_by(Request.created_at, Request.id))
    out = []
    for q in rows:
        ends = [t for t in (q.answered_at, q.closed_at) if t is not None]
        first = next((e.at for e in q.events if e.action in TAKEN_UP and e.actor != "mailbot"), None)
        out.append(RequestRecord(number=q.number, source=q.source, created_at=q.created_at, due_at=q.due_at,
                                 answered_at=min(ends) if ends else None, closed_at=q.closed_at,
                                 awaiting_approval=q.status == "awaiting_approval", first_response_at=first))
    return tuple(out)


def _follow_ups(s: Session, unit: Unit, addrs: list[str], period: EvalPeriod,
                tz: ZoneInfo) -> tuple[FollowUpRecord, ...]:
    """The unit's follow-ups (it, or one of its contacts, owns them — as the monthly request lists them) due in
    the period, of visits not cancelled."""
    rows = s.scalars(select(FollowUp).join(FollowUp.visit).where(
        Visit.status != "cancelled", FollowUp.due >= period.first_day, FollowUp.due <= period.last_day,
        or_(FollowUp.unit_id == unit.id, FollowUp.owner_email.in_(addrs))).order_by(FollowUp.due, FollowUp.id))
    # `due` is never NULL here: the query asked for a due date within the period.
    return tuple(FollowUpRecord(id=f.id, ref=follow_up_ref(f.visit.number, index_of(f)), due=f.due or period.last_day,
                                done_on=f.done_at.astimezone(tz).date() if f.done_at else None) for f in rows)


def _survey_answers(s: Session, unit: Unit, start: datetime, end: datetime) -> tuple[SurveyAnswerRecord, ...]:
    served = [c.id for c in unit.customers if c.active]
    rows = s.execute(select(SurveyResponse, SurveyTarget.token).join(SurveyTarget, SurveyResponse.target_id ==
                                                                     SurveyTarget.id)
                     .where(SurveyTarget.customer_id.in_(served), SurveyResponse.superseded_by_id.is_(None),
                            SurveyResponse.received_at >= start, SurveyResponse.received_at < end)
                     .order_by(SurveyTarget.token))
    return tuple(SurveyAnswerRecord(token=token, version=r.version, received_at=r.received_at,
                                    scores=tuple(int(v) for v in json.loads(r.scores).values() if v is not None),
                                    by_unit=r.by_unit) for r, token in rows)
