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

from mailbot.planfile import PlanReader, load_mapping

NUMBER = re.compile(r"MY-\d{4}-\d{2,4}")   # as the form's 编号 reader takes it (parsers.surveytext)
MAX_QUESTIONS = surveytext.MAX_QUESTIONS
_TOP_KEYS = frozenset({"number", "title", "customers", "questions", "deadline", "reminders", "note"})
_FILTER_KEYS = frozenset({"codes", "kind", "units"})
_KINDS = ("strategic", "vip")


@dataclass(frozen=True)
class CustomerFilter:
    """Which customers a survey asks: listed codes, or every customer of the kinds and units given."""

    codes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = _KINDS
    units: tuple[str, ...] = ()   # empty: every unit


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


@dataclass(frozen=True)
class CustomerFact:
    """What the directory says of one customer, as plain values."""

    code: str
    kind: str
    units: tuple[str, ...]


def parse_survey_plan(text: str, source: str) -> SurveyPlan:
    """Read one survey file's text; raises PlanError naming every problem."""
    data = load_mapping(text, source, "config/survey.example.yaml")
    r = PlanReader(source)
    r.unknown_keys(data, _TOP_KEYS)
    number = (r.text(data, "number", "number") or "").upper()
    if number and not NUMBER.fullmatch(number):
        r.bad("number", f"调查编号应形如 MY-2026-01，写的是“{number}”")
    title = r.text(data, "title", "title") or ""
    deadline = r.day(data.get("deadline"), "deadline") if data.get("deadline") is not None else None
    if data.get("deadline") is None:
        r.bad("deadline", "必须填写答复截止日期（如 2026-12-20）")
    questions = _questions(r, data)
    reminders: list[int] = []
    for where, value in r.items(data, "reminders"):
        if not str(value).strip().isdigit():
            r.bad(where, f"应为截止日前的天数（如 3），写的是“{value}”")
        else:
            reminders.append(int(str(value)))
    plan = SurveyPlan(source=source, number=number, title=title, customers=_filter(r, data.get("customers")),
                      questions=tuple(questions), deadline=deadline or date.min,
                      reminders=tuple(sorted(set(reminders), reverse=True)),
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


def _filter(r: PlanReader, value: object) -> CustomerFilter:
    if isinstance(value, list):
        return CustomerFilter(codes=tuple(str(v).strip().upper() for v in value))
    if not isinstance(value, dict):
        r.bad("customers", "应为客户代码列表，或 {kind: strategic/vip, units: [GD, …]}")
        return CustomerFilter()
    r.unknown_keys({f"customers.{k}": v for k, v in value.items()}, frozenset(f"customers.{k}" for k in _FILTER_KEYS))
    codes = tuple(str(v).strip().upper() for _, v in r.items(value, "codes"))
    kind = str(value.get("kind", "all")).strip().lower()
    if kind not in (*_KINDS, "all"):
        r.bad("customers.kind", f"应为 strategic、vip 或 all，写的是“{kind}”")
    units = tuple(str(v).strip().upper() for _, v in r.items(value, "units"))
    return CustomerFilter(codes=codes, kinds=_KINDS if kind == "all" else (kind,), units=units)


def select_customers(plan: SurveyPlan, known: Sequence[CustomerFact], units: frozenset[str]) -> tuple[
        list[str], list[str]]:
    """(customer codes the survey asks, in directory order; problems as ``file: key: message``)."""
    problems: list[str] = []
    by_code = {c.code: c for c in known}
    f = plan.customers
    for i, code in enumerate(f.codes):
        if code not in by_code:
            problems.append(f"{plan.source}: customers.{i}: 客户 {code} 不在客户名录中（config/directory.yaml）")
    for i, u in enumerate(f.units):
        if u not in units:
            problems.append(f"{plan.source}: customers.units.{i}: 单位代码 {u} 不在名录中")
    if f.codes:
        chosen = [c.code for c in known if c.code in f.codes]
    else:
        chosen = [c.code for c in known if c.kind in f.kinds and (not f.units or set(c.units) & set(f.units))]
    if not chosen and not problems:
        problems.append(f"{plan.source}: customers: 没有符合条件的客户")
    return chosen, problems
