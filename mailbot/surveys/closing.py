"""Ending a survey, and its report: `survey close` stops the counting and the reminders and mails the report PDF
to the bulletin list (once: its key is the survey's number); `survey report` writes the PDF at any time, as
interim results while the survey runs."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.db.models import Survey
from mailbot.db.session import transaction
from mailbot.errors import MailbotError
from mailbot.outbox.compose import Draft
from mailbot.surveys import mails, report
from mailbot.surveys.results import current_response, survey_results
from mailbot.surveys.store import SurveyChange


def _survey(s: Session, number: str) -> Survey:
    survey = s.scalar(select(Survey).where(Survey.number == number.strip().upper()))
    if survey is None:
        raise MailbotError(f"没有编号为 {number} 的满意度调查")
    return survey


def close_survey(app: App, number: str, *, dry_run: bool = False) -> SurveyChange:
    """`mailbot survey close MY-…`: no more answers are counted, no more reminders go; the report goes out."""
    with transaction(app.sessions, dry_run=dry_run) as s:
        survey = _survey(s, number)
        change = SurveyChange(survey.number)
        if survey.status == "closed":
            change.said.append("此前已结束")
            return change
        survey.status, survey.closed_at = "closed", app.now()
        answered = sum(1 for t in survey.targets if t.active and current_response(t) is not None)
        change.said.append(f"已结束：{answered}/{sum(t.active for t in survey.targets)} 位客户已答复")
        results = survey_results(s, survey)

        def report_mail() -> Draft:
            pdf = report.report_pdf(results, app.department, app.now())
            return mails.report_mail(app.department, app.directory.bulletin_addresses(), results, pdf,
                                     report.report_filename(results))

        change.plan.queue(s, f"survey-report:{survey.number}", "survey_report", report_mail,
                          sender=app.identity, now=app.now())
        return change


def write_report(app: App, number: str, out: Path | None = None) -> Path:
    """`mailbot survey report MY-… [--out FILE]`: the report PDF as things stand."""
    with app.sessions() as s:
        results = survey_results(s, _survey(s, number))
    path = out or report.default_path(app.settings.path(app.settings.data_dir), results)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(report.report_pdf(results, app.department, app.now()))
    return path
