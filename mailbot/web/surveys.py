"""Satisfaction surveys on the board: each survey's response counts, and its report PDF — the figures of
`surveys.results.compute` and the PDF of `surveys.report`, never counted a second way.

A unit sees the surveys that asked customers it serves, counted over those customers only (asked, answered,
代填, late), and a report PDF of just them: no other unit's customer, comment or mean, and no comparison with the
previous survey (that mean is of every customer).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.db.models import Survey, SurveyTarget, Unit
from mailbot.surveys.report import report_filename, report_pdf
from mailbot.surveys.results import SurveyResults, answers_of, compute, survey_results
from mailbot.web.scope import Viewer

STATUS_CN = {"open": "进行中", "closed": "已结束"}


def _theirs(t: SurveyTarget, unit_id: int | None) -> bool:
    return t.unit_id == unit_id or any(u.id == unit_id for u in t.customer.units)


def results_for(s: Session, viewer: Viewer, survey: Survey) -> SurveyResults | None:
    """The survey's results as the viewer may see them; None when it asked none of their unit's customers."""
    if viewer.is_hq:
        return survey_results(s, survey)
    mine = [t for t in survey.targets if t.active and _theirs(t, viewer.unit_id)]
    unit = s.get(Unit, viewer.unit_id)
    if not mine or unit is None:
        return None
    codes = {t.customer.code for t in mine}
    answers = [replace(a, units=(unit.name,)) for a in answers_of(survey) if a.customer in codes]
    return compute(survey, answers, [(t.customer.code, t.customer.name) for t in mine])


def surveys_page(s: Session, viewer: Viewer) -> dict[str, Any]:
    rows = []
    for survey in s.scalars(select(Survey).order_by(Survey.created_at.desc(), Survey.id.desc())):
        r = results_for(s, viewer, survey)
        if r is None:
            continue
        rows.append({"number": r.number, "title": r.title, "deadline": r.deadline,
                     "status_cn": STATUS_CN.get(r.status, r.status), "asked": r.asked, "answered": r.answered,
                     "by_unit": r.by_unit, "late": r.late, "overall": r.overall, "low": len(r.low)})
    return {"surveys": rows}


def survey_report(app: App, s: Session, viewer: Viewer, number: str) -> tuple[str, bytes] | None:
    """The report PDF (file name, bytes) as the viewer may see it; None: unknown or not theirs (404)."""
    survey = s.scalar(select(Survey).where(Survey.number == number.strip().upper()))
    r = results_for(s, viewer, survey) if survey is not None else None
    if r is None:
        return None
    return report_filename(r), report_pdf(r, app.department, app.now())
