"""A survey's results (SURVEY.md "Results"), computed from plain records so the figures are checkable by hand.

Per question: the mean, the distribution of 1–5 and the number of answers ("no answer" is counted apart, never
as a zero); the same means by unit, by customer kind and by who answered (the customer itself or its unit on its
behalf); the change from the previous survey of the same customers, question by question where the wording is
the same; every comment by customer; every score of 2 or less.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from parsers.survey import Question

from mailbot.db.models import Survey, SurveyResponse, SurveyTarget

KIND_CN = {"strategic": "战略客户", "vip": "VIP客户"}
LOW_SCORE = 2
SCORE_WORDS = {5: "5 非常满意", 4: "4 满意", 3: "3 一般", 2: "2 不满意", 1: "1 非常不满意"}


@dataclass(frozen=True)
class Answer:
    """One customer's answer in force."""

    customer: str
    name: str
    kind: str                     # strategic | vip
    units: tuple[str, ...]        # the units serving it, by name
    by_unit: bool
    late: bool
    scores: Mapping[str, int | None]
    texts: Mapping[str, str | None]


@dataclass(frozen=True)
class QuestionResult:
    number: int
    text: str
    answers: int                  # scores given (no answer not counted)
    no_answer: int
    mean: float | None
    distribution: tuple[int, ...]  # how many gave 1, 2, 3, 4, 5
    previous_mean: float | None = None

    @property
    def change(self) -> float | None:
        return None if self.mean is None or self.previous_mean is None else round(self.mean - self.previous_mean, 2)


@dataclass(frozen=True)
class GroupRow:
    label: str
    responses: int
    means: tuple[float | None, ...]   # per scored question, in order
    overall: float | None


@dataclass(frozen=True)
class Comment:
    customer: str
    name: str
    question: str
    text: str
    by_unit: bool


@dataclass(frozen=True)
class LowScore:
    customer: str
    name: str
    question: str
    score: int


@dataclass(frozen=True)
class SurveyResults:
    number: str
    title: str
    deadline: date
    status: str
    asked: int
    answered: int
    by_unit: int
    late: int
    questions: tuple[QuestionResult, ...]     # the scored ones
    units: tuple[GroupRow, ...]
    kinds: tuple[GroupRow, ...]
    sources: tuple[GroupRow, ...]
    comments: tuple[Comment, ...]
    low: tuple[LowScore, ...]
    previous: str | None                       # the survey compared against
    not_answered: tuple[str, ...]               # "S003 华润燃气控股有限公司"

    @property
    def overall(self) -> float | None:
        return _mean([q.mean for q in self.questions if q.mean is not None])


def questions_of(survey: Survey) -> tuple[Question, ...]:
    return tuple(Question(q["text"], q["scored"]) for q in json.loads(survey.questions))


def current_response(target: SurveyTarget) -> SurveyResponse | None:
    return next((r for r in reversed(target.responses) if r.superseded_by_id is None), None)


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _scored(questions: Sequence[Question]) -> list[tuple[int, Question]]:
    return [(n, q) for n, q in enumerate(questions, 1) if q.scored]


def question_results(questions: Sequence[Question], answers: Sequence[Answer],
                     previous: Mapping[str, float] | None = None) -> tuple[QuestionResult, ...]:
    """Each scored question's figures; `previous` maps a question's wording to the previous survey's mean."""
    out = []
    for n, q in _scored(questions):
        given = [a.scores.get(str(n)) for a in answers]
        scores = [s for s in given if s is not None]
        out.append(QuestionResult(number=n, text=q.text, answers=len(scores), no_answer=len(given) - len(scores),
                                  mean=_mean(scores), distribution=tuple(scores.count(v) for v in range(1, 6)),
                                  previous_mean=(previous or {}).get(q.text)))
    return tuple(out)


def group_rows(questions: Sequence[Question], answers: Sequence[Answer],
               key: str) -> tuple[GroupRow, ...]:
    """Means per question for each group: "unit" (a customer served by two units counts in both), "kind",
    "source" (the customer itself, or its unit on its behalf)."""
    groups: dict[str, list[Answer]] = {}
    for a in answers:
        labels = (a.units if key == "unit" else (KIND_CN.get(a.kind, a.kind),) if key == "kind"
                  else ("所属单位代填" if a.by_unit else "客户直接答复",))
        for label in labels:
            groups.setdefault(label, []).append(a)
    rows = []
    for label in sorted(groups):
        members = groups[label]
        means = tuple(q.mean for q in question_results(questions, members))
        rows.append(GroupRow(label, len(members), means, _mean([m for m in means if m is not None])))
    return tuple(rows)


def compute(survey: Survey, answers: Sequence[Answer], asked: Sequence[tuple[str, str]],
            previous: tuple[str, Mapping[str, float]] | None = None) -> SurveyResults:
    """The whole result; `asked` is every surveyed customer as (code, name)."""
    questions = questions_of(survey)
    answered = {a.customer for a in answers}
    comments = tuple(Comment(a.customer, a.name, questions[int(n) - 1].text, text, a.by_unit)
                     for a in sorted(answers, key=lambda a: a.customer)
                     for n, text in a.texts.items() if text)
    low = tuple(LowScore(a.customer, a.name, questions[int(n) - 1].text, score)
                for a in sorted(answers, key=lambda a: a.customer)
                for n, score in a.scores.items() if score is not None and score <= LOW_SCORE)
    return SurveyResults(
        number=survey.number, title=survey.title, deadline=survey.deadline, status=survey.status,
        asked=len(asked), answered=len(answered), by_unit=sum(a.by_unit for a in answers),
        late=sum(a.late for a in answers),
        questions=question_results(questions, answers, previous[1] if previous else None),
        units=group_rows(questions, answers, "unit"), kinds=group_rows(questions, answers, "kind"),
        sources=group_rows(questions, answers, "source"), comments=comments, low=low,
        previous=previous[0] if previous else None,
        not_answered=tuple(f"{code} {name}" for code, name in asked if code not in answered))


def answers_of(survey: Survey) -> list[Answer]:
    """The answers in force of a survey's active customers."""
    out = []
    for t in survey.targets:
        r = current_response(t) if t.active else None
        if r is None:
            continue
        out.append(Answer(customer=t.customer.code, name=t.customer.name, kind=t.customer.kind,
                          units=tuple(u.name for u in t.customer.units if u.active), by_unit=r.by_unit, late=r.late,
                          scores=json.loads(r.scores), texts=json.loads(r.texts)))
    return out


def previous_means(s: Session, survey: Survey) -> tuple[str, dict[str, float]] | None:
    """The latest earlier survey that asked any of the same customers, as (number, mean per question wording)."""
    customers = {t.customer_id for t in survey.targets}
    for earlier in s.scalars(select(Survey).where(Survey.created_at < survey.created_at)
                             .order_by(Survey.created_at.desc())):
        if customers & {t.customer_id for t in earlier.targets}:
            results = question_results(questions_of(earlier), answers_of(earlier))
            return earlier.number, {q.text: q.mean for q in results if q.mean is not None}
    return None


def survey_results(s: Session, survey: Survey) -> SurveyResults:
    asked = [(t.customer.code, t.customer.name) for t in survey.targets if t.active]
    return compute(survey, answers_of(survey), asked, previous_means(s, survey))


def answers_view(questions: Sequence[Question], scores: Mapping[str, int | None],
                 texts: Mapping[str, str | None]) -> list[dict[str, object]]:
    """Every question with the answer as counted (a score as its word, no answer as 未作答)."""
    out: list[dict[str, object]] = []
    for n, q in enumerate(questions, 1):
        key = str(n)
        if key in scores:
            score = scores[key]
            answer = SCORE_WORDS[score] if score is not None else "未评分（不计入统计）"
        else:
            answer = texts.get(key) or "（未填写）"
        out.append({"number": n, "question": q.text, "answer": answer})
    return out


@dataclass(frozen=True)
class CustomerAnswer:
    """One customer's answer in force to one survey, as its archive shows it."""

    number: str
    title: str
    received_at: datetime
    version: int
    filled_by: str | None        # the unit that filled it in on the customer's behalf
    late: bool
    answers: tuple[dict[str, object], ...]


def customer_answers(s: Session, customer_id: int) -> list[CustomerAnswer]:
    """Every survey answer in force of one customer, oldest first (for the customer archive)."""
    out = []
    for t in s.scalars(select(SurveyTarget).where(SurveyTarget.customer_id == customer_id).order_by(SurveyTarget.id)):
        r = current_response(t)
        if r is None:
            continue
        out.append(CustomerAnswer(
            number=t.survey.number, title=t.survey.title, received_at=r.received_at, version=r.version,
            filled_by=t.unit.name if r.by_unit and t.unit else None, late=r.late,
            answers=tuple(answers_view(questions_of(t.survey), json.loads(r.scores), json.loads(r.texts)))))
    return sorted(out, key=lambda a: a.received_at)
