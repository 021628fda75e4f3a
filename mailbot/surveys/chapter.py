"""The surveys' part of the bulletin (满意度调查): every survey closed in the month, or still running then, with
the figures a reader needs — who answered, the overall mean and its change, the weakest question, low scores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.db.models import Survey
from mailbot.surveys.results import LowScore, SurveyResults, survey_results


@dataclass(frozen=True)
class SurveyLine:
    number: str
    title: str
    closed: bool
    deadline: date
    asked: int
    answered: int
    by_unit: int
    overall: float | None
    previous: str | None
    change: float | None                 # overall mean against the previous survey's, same questions only
    weakest: tuple[str, float] | None    # the scored question with the lowest mean
    low: tuple[LowScore, ...]


def _line(r: SurveyResults) -> SurveyLine:
    scored = [q for q in r.questions if q.mean is not None]
    weakest = min(scored, key=lambda q: q.mean or 0.0) if scored else None
    changes = [q.change for q in r.questions if q.change is not None]
    return SurveyLine(number=r.number, title=r.title, closed=r.status == "closed", deadline=r.deadline,
                      asked=r.asked, answered=r.answered, by_unit=r.by_unit, overall=r.overall,
                      previous=r.previous, change=round(sum(changes) / len(changes), 2) if changes else None,
                      weakest=(weakest.text, weakest.mean or 0.0) if weakest else None, low=r.low)


def gather_surveys(s: Session, first: datetime, nxt: datetime) -> tuple[SurveyLine, ...]:
    """Surveys closed in [first, nxt), and those open at its end that were launched before it."""
    surveys = s.scalars(select(Survey).where(Survey.created_at < nxt).order_by(Survey.number))
    return tuple(_line(survey_results(s, sv)) for sv in surveys
                 if (sv.closed_at is not None and first <= sv.closed_at < nxt) or sv.status == "open")
