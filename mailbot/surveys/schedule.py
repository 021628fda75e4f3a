"""What a survey asks of the calendar: reminders at the file's offsets before the deadline, to the customers who
have not answered, and to each unit a list of its customers still to answer — each under its own key, so a second
tick, a restart or a catch-up after downtime sends nothing twice.

Only the latest stage that has come is sent: a daemon that was down over two stages sends the nearer one, not
both. Nothing is sent after the deadline, nor for a closed survey.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.db.models import OutboxMail, Survey, SurveyTarget, Unit
from mailbot.db.session import transaction
from mailbot.domain.workdays import WorkCalendar
from mailbot.outbox.compose import Thread
from mailbot.outbox.queue import Plan
from mailbot.surveys import mails
from mailbot.surveys.results import current_response, questions_of


def stage_due(survey: Survey, today: date, cal: WorkCalendar) -> int | None:
    """The reminder offset (days before the deadline) whose day has come, nearest the deadline; None when none
    has, or the deadline has passed. A stage that falls on a holiday moves to the working day before."""
    if today > survey.deadline:
        return None
    come = [days for days in json.loads(survey.reminders)
            if cal.previous_workday(survey.deadline - timedelta(days=days)) <= today]
    return min(come) if come else None


def survey_jobs(app: App, *, dry_run: bool = False) -> Plan:
    """The calendar's call: today's reminder stage of every open survey."""
    plan = Plan()
    with transaction(app.sessions, dry_run=dry_run) as s:
        for survey in s.scalars(select(Survey).where(Survey.status == "open").order_by(Survey.id)):
            days = stage_due(survey, app.today(), app.calendar)
            if days is not None:
                _remind(app, s, plan, survey, days)
    return plan


def _remind(app: App, s: Session, plan: Plan, survey: Survey, days: int) -> None:
    questions = questions_of(survey)
    pending = [t for t in survey.targets if t.active and current_response(t) is None]
    by_unit: dict[Unit, list[SurveyTarget]] = defaultdict(list)
    for target in pending:
        direct = [p.email for p in target.customer.contacts if p.active and p.bounced_at is None]
        if direct and target.unit is None:
            thread = _thread(s, f"survey-form:{target.token}")
            plan.queue(s, f"survey-reminder:{target.token}:T-{days}", "survey_reminder",
                       partial(mails.reminder_mail, app.department, survey, target, questions, direct, thread),
                       sender=app.identity, now=app.now())
        for unit in ([target.unit] if target.unit else [u for u in target.customer.units if u.active]):
            by_unit[unit].append(target)
    for unit, targets in sorted(by_unit.items(), key=lambda item: item[0].code):
        plan.queue(s, f"survey-pending:{survey.number}:{unit.code}:T-{days}", "survey_pending",
                   partial(mails.pending_mail, app.department, survey, unit, targets),
                   sender=app.identity, now=app.now())


def _thread(s: Session, key: str) -> Thread | None:
    """The form mail a reminder answers, so it lands in the customer's own thread."""
    row = s.scalar(select(OutboxMail).where(OutboxMail.idem_key == key))
    return Thread(message_id=row.message_id, references=()) if row is not None else None
