"""`mailbot demo`, after the month: a small satisfaction survey (config/survey.example.yaml) answered, closed and
reported, then the quarter's evaluation of the units — on the same embedded default and simulated clock.

广东分公司's customers are surveyed: 国家电网 (S001) and 深圳燃气 (V001) answer themselves — 国家电网 with one low
score, which becomes a 诉求 — and 广东分公司 fills in 中石化 (S002) on its customer's behalf; the rest do not answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select

from mailbot.app import App, deliver_now
from mailbot.db.models import OutboxMail, Survey
from mailbot.demo import replies
from mailbot.evaluation.period import EvalPeriod
from mailbot.evaluation.report import render_table
from mailbot.evaluation.store import evaluation_of
from mailbot.mailboxes.maildir import deliver
from mailbot.pipeline import intake
from mailbot.surveys.closing import close_survey, write_report
from mailbot.surveys.store import launch_survey

TZ = ZoneInfo("Asia/Shanghai")
SURVEY_FILE = Path(__file__).resolve().parents[2] / "config" / "survey.example.yaml"
NUMBER = "MY-2026-01"
# (customer, who answers, their phone, their answers); question 7 is the free-text 意见与建议.
ANSWERS = (
    ("S001", ("赵敏", "zhaomin@sgcc.example.com"), "010-66668888",
     {"1": "5", "2": "4", "3": "2", "4": "4", "5": "满意", "6": "4", "7": "冬季高峰期调度响应偏慢，希望提前通报检修安排。"}),
    ("V001", ("孙丽", "sunli@szgas.example.com"), "0755-83338888",
     {"1": "5", "2": "5", "3": "4", "4": "不了解", "5": "5", "6": "5", "7": "无"}),
    ("S002", ("李明", "liming@gd.example.cn"), "020-38886666",
     {"1": "4", "2": "3", "3": "4", "4": "4", "5": "4", "6": "4", "7": "客户希望签订长期框架协议。"}),
)


class Clock(Protocol):
    now: datetime


def play_survey(app: App, clock: Clock, start: date, out: Callable[[str], None]) -> Path:
    """Launch on `start`, the answers the next day, the close the day after the deadline; returns the report."""
    def at(d: date, hour: int) -> datetime:
        return datetime.combine(d, time(hour), TZ)

    clock.now = at(start, 9)
    for line in launch_survey(app, SURVEY_FILE).lines():
        out(f"  {start} {line}")
    deliver_now(app)
    answered = start + timedelta(days=1)
    inbox = app.settings.path(app.settings.mailbox.path)
    for code, sender, phone, answers in ANSWERS:
        form, text = replies.text_of(_sent(app, f"survey-form:{NUMBER}-{code}"))
        raw = replies.build(sender=sender, to=app.identity.address, subject=f"答复: {form['Subject']}", at=at(answered, 10),
                            body=replies.fill_survey(text, answers, respondent=(sender[0], phone)),
                            in_reply_to=str(form["Message-ID"]))
        deliver(inbox, raw, received_at=at(answered, 10))
    clock.now = at(answered, 18)
    for o in intake.run_pass(app):
        out(f"  {answered} inbound #{o.inbound_id}: {o.status} — {o.note}")
    deliver_now(app)
    with app.sessions() as s:
        closing = s.scalars(select(Survey.deadline).where(Survey.number == NUMBER)).one() + timedelta(days=1)
    clock.now = at(closing, 9)
    for line in close_survey(app, NUMBER).lines():
        out(f"  {closing} {line}")
    deliver_now(app)
    return write_report(app, NUMBER)


def evaluation_table(app: App, quarter: str) -> str:
    """`mailbot evaluate --period <quarter>` as the demo prints it."""
    with app.sessions() as s:
        return render_table(evaluation_of(s, EvalPeriod.parse(quarter), app.now(), app.tz, app.settings.evaluation))


def _sent(app: App, key: str) -> bytes:
    with app.sessions() as s:
        return s.scalars(select(OutboxMail.raw).where(OutboxMail.idem_key == key)).one()
