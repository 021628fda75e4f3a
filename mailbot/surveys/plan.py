"""A survey file (config/survey.example.yaml) → a validated, frozen `SurveyPlan`.

HQ staff write one YAML file per satisfaction survey (§5.3) and run `mailbot
survey launch FILE.yaml`. This module only reads (`domain.planfile`: every
mistake named at once); which customers the file's filters select is decided
by `select_customers` from plain directory facts, so both steps stay pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from parsers import surveytext
from parsers.survey import Question

from mailbot.planfile import (
    CustomerFact,
    CustomerFilter,
    PlanReader,
    load_mapping,
    matching_customers,
    read_customer_filter,
)

NUMBER = re.compile(r"MY-\d{4}-\d{2,4}")   # as the form's 编号 reader takes it (parsers.surveytext)
MAX_QUESTIONS = surveytext.MAX_QUESTIONS
_TOP_KEYS = frozenset({"number", "title", "customers", "questions", "deadline", "reminders", "note"})


@dataclass(frozen=True)
class SurveyPlan:
    source: str
    number: str
    title: str
    customers: CustomerFilter
    questions: tuple[Question, ...]
    deadline: date
    reminders: tuple[int, ...]   # days before the deadline
    note: str | None = None      # a line for the covering mail


def parse_survey_plan(text: str, source: str) -> SurveyPlan:
    """Read one survey file's text; raises PlanError naming every problem."""
    data = load_mapping(text, source, "config/survey.example.yaml")
    r = PlanReader(source)
    r.unknown_keys(data, _TOP_KEYS)
    number = r.number(data, NUMBER, "调查编号", "MY-2026-01")
    title = r.text(data, "title", "title") or ""
    deadline = r.required_day(data, "deadline", "必须填写答复截止日期（如 2026-12-20）")
    questions = _questions(r, data)
    plan = SurveyPlan(source=source, number=number, title=title,
                      customers=read_customer_filter(r, data.get("customers"), "customers"),
                      questions=tuple(questions), deadline=deadline or date.min,
                      reminders=r.day_offsets(data, "reminders", "截止日"),
                      note=r.text(data, "note", "note", required=False))
    r.done()
    return plan


def _questions(r: PlanReader, data: dict[str, object]) -> list[Question]:
    out: list[Question] = []
    for where, value in r.items(data, "questions"):
        if isinstance(value, dict):
            text = r.text(value, "text", f"{where}.text") or ""
            scored = str(value.get("scored", "true")).strip().lower()
            if scored not in ("true", "false", "yes", "no"):
                r.bad(f"{where}.scored", f"应为 true（评分题）或 false（文字题），写的是“{scored}”")
            out.append(Question(text, scored in ("true", "yes")))
        elif isinstance(value, str) and value.strip():
            out.append(Question(value.strip(), True))
        else:
            r.bad(where, "应为题目文字，或 {text: 题目, scored: false}")
    for i, q in enumerate(out):
        if any(ch in q.text for ch in ":：\t\n"):
            # The form's label ends at the first colon: the rest would read as the answer.
            r.bad(f"questions.{i}", f"题目中不能有冒号、制表符或换行，写的是“{q.text}”")
    if not out:
        r.bad("questions", "请至少列出一道题")
    elif not any(q.scored for q in out):
        r.bad("questions", "至少要有一道评分题（文字题请写 {text: 题目, scored: false}）")
    if len(out) > MAX_QUESTIONS:
        r.bad("questions", f"题目不能超过{MAX_QUESTIONS}道，现有{len(out)}道")
    return out


def select_customers(plan: SurveyPlan, known: Sequence[CustomerFact], units: frozenset[str]) -> tuple[
        list[str], list[str]]:
    """(customer codes the survey asks, in directory order; problems as ``file: key: message``)."""
    chosen, problems = matching_customers(plan.customers, known, units, plan.source, "customers")
    if not chosen and not problems:
        problems.append(f"{plan.source}: customers: 没有符合条件的客户")
    return [c.code for c in chosen], problems
