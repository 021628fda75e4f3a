"""What a survey mails: the form (one customer per mail), the acknowledgement, the reply asking for a correction.

Survey mail may go outside the group: every mail names one customer only and goes to that customer's own
contacts (or to the one unit filling in for it), never to a list another customer could read.
"""

from __future__ import annotations

from collections.abc import Sequence

from parsers import ParsedMessage
from parsers.survey import Question, render_survey_form
from parsers.surveytext import NO_IDEA, survey_rows

from mailbot.db.models import Survey, SurveyTarget, Unit
from mailbot.directory.lookup import unit_recipients
from mailbot.outbox.compose import Attachment, Draft, Thread
from mailbot.outbox.drafts import draft, echoed_subject, thread_of
from mailbot.render.workbook import CONTENT_TYPE, Choice, build_form_workbook
from mailbot.surveys.results import SurveyResults, answers_view

SCORE_CHOICES = ("5", "4", "3", "2", "1", NO_IDEA)
WORKBOOK_INSTRUCTIONS = ("填写说明：请在右侧白色单元格中填写，评分题可从下拉列表选择（5分为非常满意，不了解的可选“不了解”）；"
                         "填好后保存，作为附件回复调查邮件即可，无需再在邮件正文中填写。")


def workbook_filename(target: SurveyTarget) -> str:
    return f"满意度调查表_{target.token}.xlsx"


def survey_workbook(target: SurveyTarget, questions: Sequence[Question]) -> Attachment:
    """The same form as an .xlsx a respondent may fill and return instead of the mail body."""
    customer = target.customer
    rows = survey_rows(token=target.token, customer_code=customer.code, customer_name=customer.name,
                       questions=questions)
    scored = [str(n) for n, q in enumerate(questions, 1) if q.scored]
    data = build_form_workbook(rows, sheet_title="满意度调查表", instructions=WORKBOOK_INSTRUCTIONS,
                               doc_title=f"满意度调查 {target.token}",
                               choices={key: Choice(SCORE_CHOICES, "评分只能填写") for key in scored},
                               short_keys=frozenset({"name", "phone"}))
    return Attachment(workbook_filename(target), data, *CONTENT_TYPE)


def form_text(survey: Survey, target: SurveyTarget, questions: Sequence[Question]) -> str:
    customer = target.customer
    return render_survey_form(token=target.token, customer_code=customer.code, customer_name=customer.name,
                              questions=questions)


def form_mail(department: str, survey: Survey, target: SurveyTarget, questions: Sequence[Question],
              direct: Sequence[str], note: str | None = None) -> Draft:
    by_unit = not direct
    to = list(direct) if direct else unit_recipients(target.unit) if target.unit else []
    customer = target.customer
    return draft("survey_form", to, attachments=[survey_workbook(target, questions)], department=department,
                 survey=survey, token=target.token, by_unit=by_unit, workbook=workbook_filename(target),
                 unit_name=target.unit.name if target.unit else "",
                 customer={"code": customer.code, "name": customer.name}, note=note,
                 form_text=form_text(survey, target, questions))


def ack_mail(department: str, p: ParsedMessage, survey: Survey, target: SurveyTarget,
             questions: Sequence[Question], *, version: int, late: bool, by_unit: bool, followed: bool) -> Draft:
    answer = p.survey
    assert answer is not None
    return draft("survey_ack", [p.envelope.from_addr], thread=thread_of(p), department=department, survey=survey,
                 token=target.token, original_subject=echoed_subject(p),
                 customer={"code": target.customer.code, "name": target.customer.name}, by_unit=by_unit,
                 unit_name=target.unit.name if target.unit else "", version=version, late=late,
                 answers=answers_view(questions, answer.scores, answer.texts),
                 warnings=[w.message for w in answer.warnings], followed=followed)


def error_mail(department: str, p: ParsedMessage, survey: Survey, target: SurveyTarget,
               problems: Sequence[str], form: str) -> Draft:
    """`form`: the sender's own copy with the answers kept, or the blank form when the mail held none."""
    return draft("survey_error", [p.envelope.from_addr], thread=thread_of(p), department=department,
                 survey=survey, token=target.token, original_subject=echoed_subject(p),
                 problems=list(problems), form_text=form)


def reminder_mail(department: str, survey: Survey, target: SurveyTarget, questions: Sequence[Question],
                  direct: Sequence[str], thread: Thread | None) -> Draft:
    """The form again, in the customer's thread, for a customer who has not answered."""
    customer = target.customer
    return draft("survey_reminder", list(direct), thread=thread, attachments=[survey_workbook(target, questions)],
                 department=department, survey=survey, token=target.token, workbook=workbook_filename(target),
                 customer={"code": customer.code, "name": customer.name},
                 form_text=form_text(survey, target, questions))


def pending_mail(department: str, survey: Survey, unit: Unit, targets: Sequence[SurveyTarget]) -> Draft:
    """A unit's customers that have not answered yet: those asked directly (the unit may remind them) and those
    the unit fills in for."""
    rows = [{"code": t.customer.code, "name": t.customer.name, "by_unit": t.unit_id == unit.id} for t in targets]
    return draft("survey_pending", unit_recipients(unit), department=department, survey=survey,
                 unit={"code": unit.code, "name": unit.name}, customers=rows)


def report_mail(department: str, to: Sequence[str], r: SurveyResults, pdf: bytes, filename: str) -> Draft:
    """The closed survey's report to the bulletin list: the key figures above the attached PDF."""
    return draft("survey_report", list(to), attachments=[Attachment(filename, pdf, "application", "pdf")],
                 department=department, r=r, filename=filename)
