"""Surveys in the database: launched (or changed) from their file, closed, and each customer's answers kept.

A survey asks each chosen customer once, in one mail of its own: to the customer's own contacts when the
directory lists them, else to the contacts of the unit serving it, who fill in on the customer's behalf (代填).
Running `launch` again after an edit sends only what changed: a customer added to the file gets its form, one
dropped is no longer reminded; the questions cannot change once forms are out (the answers would not compare).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from parsers.survey import Question
from parsers.survey import SurveyResponse as ParsedResponse

from mailbot.app import App
from mailbot.db.models import InboundMessage, Survey, SurveyResponse, SurveyTarget, Unit
from mailbot.db.session import transaction
from mailbot.directory.lookup import customers_by_code
from mailbot.outbox.queue import Change, Plan
from mailbot.planfile import CustomerFact, PlanError
from mailbot.surveys import mails
from mailbot.surveys.plan import SurveyPlan, parse_survey_plan, select_customers
from mailbot.surveys.results import current_response, questions_of

log = logging.getLogger(__name__)


class SurveyChange(Change):
    """What `survey launch` or `survey close` did."""

    UNCHANGED = "与已发出的调查相同，未发送任何邮件"


def _questions_json(questions: Sequence[Question]) -> str:
    return json.dumps([{"text": q.text, "scored": q.scored} for q in questions], ensure_ascii=False)


def load_survey_plan(path: Path) -> SurveyPlan:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PlanError([f"{path}: 无法读取：{e.strerror}"]) from None
    return parse_survey_plan(text, str(path))


def launch_survey(app: App, path: Path, *, dry_run: bool = False) -> SurveyChange:
    """`mailbot survey launch FILE.yaml`: record the survey (or its change) and queue each new customer's form."""
    plan = load_survey_plan(path)
    with transaction(app.sessions, dry_run=dry_run) as s:
        return record_survey(app, s, plan, str(path.resolve()))


def record_survey(app: App, s: Session, plan: SurveyPlan, source: str) -> SurveyChange:
    now = app.now()
    customers = [c for c in customers_by_code(s).values() if c.active]
    facts = [CustomerFact(c.code, c.kind, tuple(u.code for u in c.units if u.active)) for c in customers]
    units = frozenset(u.code for u in s.scalars(select(Unit).where(Unit.active.is_(True))))
    chosen, problems = select_customers(plan, facts, units)
    if problems:
        raise PlanError(problems)
    change = SurveyChange(plan.number)
    survey = s.scalar(select(Survey).where(Survey.number == plan.number))
    if survey is None:
        if plan.deadline < now.astimezone(app.tz).date():
            raise PlanError([f"{plan.source}: deadline: 截止日期 {plan.deadline.isoformat()} 已过"])
        survey = Survey(number=plan.number, title=plan.title, questions=_questions_json(plan.questions),
                        deadline=plan.deadline, reminders=json.dumps(list(plan.reminders)), note=plan.note,
                        status="open",
                        source_file=source, created_at=now, updated_at=now)
        s.add(survey)
        s.flush()
        change.said.append(f"已发起（{len(chosen)} 位客户）")
    else:
        if survey.status == "closed":
            raise PlanError([f"{plan.source}: number: 调查 {survey.number} 已结束，不能再变更"])
        if questions_of(survey) != plan.questions:
            raise PlanError([f"{plan.source}: questions: 调查表已发出，题目不能再修改（答案将无法比较）；"
                             "如需改题，请另编号发起一次调查"])
        _update(survey, plan, change)
    survey.source_file, survey.updated_at = source, now
    by_code = {c.code: c for c in customers}
    targets = {t.customer.code: t for t in survey.targets}
    for code in chosen:
        target = targets.get(code)
        if target is None:
            target = SurveyTarget(survey=survey, customer=by_code[code], token=f"{survey.number}-{code}",
                                  created_at=now)
            s.add(target)
            if targets:
                change.said.append(f"新增客户 {code}")
        target.active = True
        _ask(app, s, change.plan, survey, target, plan.customers.units)
    for code, target in targets.items():
        if code not in chosen and target.active:
            target.active = False
            change.said.append(f"客户 {code} 已移出本次调查，不再提醒")
    return change


def _update(survey: Survey, plan: SurveyPlan, change: SurveyChange) -> None:
    if survey.title != plan.title:
        survey.title = plan.title
        change.said.append("标题已更新")
    if survey.deadline != plan.deadline:
        change.said.append(f"截止日期改为 {plan.deadline.isoformat()}")
        survey.deadline = plan.deadline
    survey.note = plan.note
    if json.loads(survey.reminders) != list(plan.reminders):
        survey.reminders = json.dumps(list(plan.reminders))
        change.said.append("提醒安排已更新")


def _ask(app: App, s: Session, out: Plan, survey: Survey, target: SurveyTarget, units: Sequence[str]) -> None:
    """Queue the target's form (once: the key is the token), to the customer's contacts or, failing them, to its
    unit's contacts on the customer's behalf — a unit the survey's file names, when it names any."""
    s.flush()
    customer = target.customer
    direct = [p.email for p in customer.contacts if p.active and p.bounced_at is None]
    serving = sorted((u for u in customer.units if u.active), key=lambda u: (u.code not in units, u.code))
    unit = None if direct or not serving else target.unit or serving[0]
    target.unit = unit
    if not direct and unit is None:
        log.warning("survey %s: customer %s has no contact and no unit", survey.number, customer.code)
        return
    out.queue(s, f"survey-form:{target.token}", "survey_form",
              lambda: mails.form_mail(app.department, survey, target, questions_of(survey), direct,
                                      survey.note),
              sender=app.identity, now=app.now())


def find_target(s: Session, token: str) -> SurveyTarget | None:
    return s.scalar(select(SurveyTarget).where(SurveyTarget.token == token))


def record_response(s: Session, target: SurveyTarget, msg: InboundMessage, answer: ParsedResponse, *,
                    by_unit: bool, deadline_passed: bool) -> SurveyResponse:
    """Keep an accepted answer as the target's newest version; the one before points at it."""
    previous = current_response(target)
    response = SurveyResponse(target=target, inbound_id=msg.id, version=(previous.version + 1) if previous else 1,
                        received_at=msg.received_at, late=deadline_passed, by_unit=by_unit,
                        respondent_name=answer.respondent_name, respondent_phone=answer.respondent_phone,
                        scores=json.dumps(answer.scores), texts=json.dumps(answer.texts, ensure_ascii=False))
    s.add(response)
    s.flush()
    if previous is not None:
        previous.superseded_by_id = response.id
    return response


def deadline_passed(survey: Survey, received: datetime, tz: ZoneInfo) -> bool:
    return received.astimezone(tz).date() > survey.deadline

