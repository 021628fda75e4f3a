"""The evaluation's mail: each 单位负责人 its own unit's, the 部门负责人 the whole table — by hand
(`mailbot evaluate --mail`) or, with `evaluation.schedule` on, on the first working day after a quarter closes
(and after the year, with Q4). Keys `evaluation:<period>:unit:<code>` and `evaluation:<period>:board`: each goes
once, whoever asks again.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from functools import partial

from sqlalchemy import select

from mailbot.app import App
from mailbot.db.models import OutboxMail, Person, Unit
from mailbot.db.session import transaction
from mailbot.directory.lookup import unit_recipients
from mailbot.evaluation.mails import board_mail, unit_mail
from mailbot.evaluation.period import EvalPeriod
from mailbot.evaluation.store import evaluation_of
from mailbot.outbox.queue import Plan

log = logging.getLogger(__name__)

# After this many days past its mailing day a period's evaluation is no longer sent by the calendar (a fresh
# install must not mail last year's quarters); `mailbot evaluate --mail` still can.
CATCH_UP_DAYS = 31


def mail_evaluation(app: App, period: EvalPeriod, *, dry_run: bool = False) -> Plan:
    """Queue each unit's mail (To its 单位负责人, cc its 联系人) and the board (To the 部门负责人)."""
    plan = Plan()
    with transaction(app.sessions, dry_run=dry_run) as s:
        ev = evaluation_of(s, period, app.now(), app.tz, app.settings.evaluation)
        units = {u.code: u for u in s.scalars(select(Unit).where(Unit.active.is_(True)))}
        for result in ev.units:
            unit = units[result.code]
            if not unit.leader_email:
                log.warning("unit %s has no leader address: its evaluation for %s is not mailed", unit.code,
                            period.key)
                continue
            cc = [a for a in unit_recipients(unit) if a != unit.leader_email]
            plan.queue(s, f"evaluation:{period.key}:unit:{unit.code}", "evaluation",
                       partial(unit_mail, app.department, ev, result, unit.leader_name or unit.name,
                               [unit.leader_email], cc), sender=app.identity, now=app.now())
        head = app.directory.head_address()
        person = s.scalar(select(Person).where(Person.email == head))
        plan.queue(s, f"evaluation:{period.key}:board", "evaluation",
                   partial(board_mail, app.department, ev, person.name if person else head, [head]),
                   sender=app.identity, now=app.now())
    return plan


def mailing_day(period: EvalPeriod, app: App) -> date:
    """The first working day after the period closes."""
    return app.calendar.next_workday(period.last_day + timedelta(days=1))


def due_periods(today: date, app: App) -> list[EvalPeriod]:
    """The quarter that closed last — and its year, when it was Q4 — if its mailing day has come and not long
    passed."""
    quarter = EvalPeriod.quarter_of(EvalPeriod.quarter_of(today).first_day - timedelta(days=1))
    on = mailing_day(quarter, app)
    if not on <= today <= on + timedelta(days=CATCH_UP_DAYS):
        return []
    return [quarter, EvalPeriod("year", quarter.year, 0)] if quarter.number == 4 else [quarter]


def run_due(app: App) -> Plan:
    """The calendar's call: the closed quarter's (and year's) evaluation, when `evaluation.schedule` is on."""
    plan = Plan()
    if not app.settings.evaluation.schedule:
        return plan
    for period in due_periods(app.today(), app):
        with app.sessions() as s:  # the calendar asks every few minutes: once the board went, the period is done
            if s.scalar(select(OutboxMail.id).where(OutboxMail.idem_key == f"evaluation:{period.key}:board")):
                continue
        plan.extend(mail_evaluation(app, period))
    return plan
