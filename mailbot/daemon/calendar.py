"""The calendar: what is due today, asked of each capability, computed from the database.

Safe to call every few minutes; a restart catches up and repeats nothing, because
every job queues its mail under an idempotency key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mailbot.app import App
from mailbot.bulletin import compile as bulletin
from mailbot.campaigns import schedule as campaigns
from mailbot.db.session import transaction
from mailbot.evaluation import schedule as evaluation
from mailbot.outbox.operator import operator_mail
from mailbot.outbox.queue import Plan
from mailbot.pipeline import digest, retention
from mailbot.reports import schedule as reports
from mailbot.requests import schedule as requests
from mailbot.surveys import schedule as surveys
from mailbot.visits import schedule as visits

log = logging.getLogger(__name__)

# Each capability's answer to "what is due now?", asked in this order on every tick. A new capability with
# something to schedule adds one line.
DUE: tuple[Callable[[App], Plan], ...] = (
    reports.run_due,           # the monthly request, reminders, the escalation
    bulletin.run_due,          # the bulletin once the month's deadline has passed
    requests.climb_ladder,     # urgent 诉求 nobody answered: the 部门负责人, then the duty list
    requests.chase_overdue,    # 催办 of overdue requests
    requests.weekly_digest,    # the week's open 诉求 to each 承办人, the board to the 部门负责人
    visits.visit_jobs,         # briefings, summaries, follow-ups
    surveys.survey_jobs,       # survey reminders, and each unit's customers still to answer
    digest.operator_digest,    # quarantines that waited for the operator's digest
    retention.prune_raw,       # raw mail older than limits.keep_raw_months: bytes deleted, records kept
    evaluation.run_due,        # the closed quarter's (and year's) 维护工作评估, when evaluation.schedule is on
    campaigns.run_due,         # campaign feedback due: reminders, then the 单位负责人
)


def tick(app: App) -> Plan:
    """What the calendar says is due today, computed from the database; safe to call every few minutes."""
    plan = Plan()
    for run_due in DUE:
        plan.extend(run_due(app))
    _warn_unknown_years(app, plan)
    return plan


def _warn_unknown_years(app: App, plan: Plan) -> None:
    """A year nobody described falls back to weekends: the operator hears it once per year, by mail."""
    for year in sorted(app.calendar.guessed_years):
        with transaction(app.sessions, dry_run=False) as s:
            draft = operator_mail(
                app.department, app.settings.operator, f"{year}年节假日未配置",
                f"{year}年的法定节假日和调休上班日未知，提醒日期暂按周末推算。"
                f"请在 config/mailbot.yaml 的 calendar.years.{year} 下填写国务院公布的安排。")
            plan.queue(s, f"operator:calendar:{year}", "operator", draft, sender=app.identity, now=app.now())
