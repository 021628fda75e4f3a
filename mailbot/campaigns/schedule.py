"""A campaign's feedback chase: reminders before each feedback date, then the 单位负责人 — as for the monthly report.

For every open campaign with a fixed cadence (`rounds`), the calendar asks on each tick what is due today:
the latest reminder stage reached before the coming feedback date (`campaign-reminder:TG-2026-01-GD:r2:T-3`), and
the escalation on the working day after a date a unit let pass (`campaign-escalation:TG-2026-01-GD:r1`). A unit
is chased for round k when it has no accepted feedback counted for round k or later. Everything is computed from
the database, keyed for idempotency: a restart catches up with one mail, never three stale ones.
Campaigns whose feedback rides with the monthly request have no dates of their own.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.campaigns import mails
from mailbot.campaigns.store import dates_of, token_of, unit_targets
from mailbot.db.models import Campaign, CampaignFeedback, OutboxMail, Unit
from mailbot.db.session import transaction
from mailbot.domain.workdays import WorkCalendar
from mailbot.outbox.compose import Draft, Thread
from mailbot.outbox.queue import Plan


def run_due(app: App, *, dry_run: bool = False) -> Plan:
    """The calendar's call: each open campaign's reminders and escalations due today."""
    plan = Plan()
    today = app.today()
    with transaction(app.sessions, dry_run=dry_run) as s:
        for campaign in s.scalars(select(Campaign).where(Campaign.status == "open", Campaign.every_days.is_not(None))
                                  .order_by(Campaign.id)):
            dates = dates_of(campaign, app.calendar)
            _remind(app, s, plan, campaign, dates, today)
            _escalate(app, s, plan, campaign, dates, today)
    return plan


def reminder_due(dates: list[date], start: date, offsets: list[int], today: date,
                 cal: WorkCalendar) -> tuple[int, date, int] | None:
    """(round, its feedback date, the offset) of the latest reminder stage reached today, if any: the stages of
    the next feedback date that fall after the previous one (else they would remind of a round just answered)."""
    for k, on in enumerate(dates, 1):
        if on < today:
            continue
        opened = dates[k - 2] if k > 1 else start
        reached = [(offset, day) for offset in sorted(set(offsets), reverse=True)
                   if opened < (day := cal.previous_workday(on - timedelta(days=offset))) <= today]
        return (k, on, reached[-1][0]) if reached else None
    return None


def escalation_due(dates: list[date], today: date, cal: WorkCalendar) -> tuple[int, date] | None:
    """(round, its feedback date) when today is on or after the working day following the last date passed."""
    passed = [(k, on) for k, on in enumerate(dates, 1) if on < today]
    if not passed:
        return None
    k, on = passed[-1]
    return (k, on) if cal.next_workday(on + timedelta(days=1)) <= today else None


def _silent_units(s: Session, campaign: Campaign, round_: int) -> list[Unit]:
    """The units with active targets and no accepted feedback counted for this round or a later one."""
    answered = set(s.scalars(select(CampaignFeedback.unit_id).where(CampaignFeedback.campaign_id == campaign.id,
                                                                   CampaignFeedback.round >= round_)))
    units = {t.unit.id: t.unit for t in campaign.targets if t.active and t.unit.active}
    return sorted((u for uid, u in units.items() if uid not in answered), key=lambda u: u.code)


def _notice_thread(s: Session, token: str) -> Thread | None:
    mid = s.scalar(select(OutboxMail.message_id).where(OutboxMail.idem_key == f"campaign-notice:{token}"))
    return Thread(mid) if mid else None


def _remind(app: App, s: Session, plan: Plan, campaign: Campaign, dates: list[date], today: date) -> None:
    due = reminder_due(dates, campaign.start_date, json.loads(campaign.reminders), today, app.calendar)
    if due is None:
        return
    round_, on, offset = due
    for unit in _silent_units(s, campaign, round_):
        token = token_of(campaign, unit)

        def draft(unit: Unit = unit, token: str = token) -> Draft:
            return mails.reminder_mail(app.department, campaign, unit, token, unit_targets(campaign, unit.id), on,
                                       (on - today).days, _notice_thread(s, token))

        plan.queue(s, f"campaign-reminder:{token}:r{round_}:T-{offset}", "reminder", draft, sender=app.identity,
                   now=app.now())


def _escalate(app: App, s: Session, plan: Plan, campaign: Campaign, dates: list[date], today: date) -> None:
    due = escalation_due(dates, today, app.calendar)
    if due is None:
        return
    round_, on = due
    for unit in _silent_units(s, campaign, round_):
        if not unit.leader_email:
            continue
        token = token_of(campaign, unit)

        def draft(unit: Unit = unit, token: str = token) -> Draft:
            reminded = s.scalar(select(func.count()).select_from(OutboxMail).where(
                OutboxMail.idem_key.like(f"campaign-reminder:{token}:r{round_}:%"))) or 0
            return mails.escalation_mail(app.department, campaign, unit, token, on, reminded)

        plan.queue(s, f"campaign-escalation:{token}:r{round_}", "escalation", draft, sender=app.identity,
                   now=app.now())
