"""Satisfaction surveys (§5.3) end to end on the embedded default: launched from a file, one form per customer,
answers by real mail through the intake pipeline — counted, corrected, refused — on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from mailbot.app import App
from mailbot.db.models import Request, SurveyResponse, SurveyTarget
from mailbot.planfile import PlanError
from mailbot.surveys.closing import close_survey
from mailbot.surveys.plan import parse_survey_plan
from mailbot.surveys.schedule import survey_jobs
from mailbot.surveys.store import launch_survey
from tests.support.mailflow import (
    GD,
    LIUYANG,
    WANGJING,
    Clock,
    answer_to,
    arrive,
    count,
    one,
    outbox,
    parsed,
    quarantine_reasons,
    text,
)
from tests.support.surveys import SURVEY, ZHAOMIN, filled, survey_file


@pytest.fixture
def app(make_app: Callable[..., App], tmp_path: Path) -> App:
    app = make_app()
    launch_survey(app, survey_file(tmp_path))
    return app


def responses(app: App, token: str) -> list[SurveyResponse]:
    with app.sessions() as s:
        target = s.scalar(select(SurveyTarget).where(SurveyTarget.token == token))
        assert target is not None
        return list(target.responses)


def test_a_dry_run_shows_who_gets_what_and_sends_nothing(make_app: Callable[..., App], tmp_path: Path) -> None:
    app = make_app()
    change = launch_survey(app, survey_file(tmp_path), dry_run=True)
    lines = "\n".join(change.lines())
    assert "survey-form:MY-2026-01-S001" in lines and "zhaomin@sgcc.example.com" in lines
    assert "survey-form:MY-2026-01-V002" in lines and GD[1] in lines
    assert outbox(app, "survey-") == [] and count(app, SurveyTarget) == 0


def test_each_customer_gets_its_own_form_from_its_contact_or_through_its_unit(app: App, tmp_path: Path) -> None:
    direct = one(app, "survey-form:MY-2026-01-S001")
    assert direct.recipients == ZHAOMIN[1]                 # the customer alone: no other customer on the mail
    assert "国家电网有限公司" in text(direct) and "【满意度调查】编号：MY-2026-01-S001" in text(direct)
    assert "评分（第1–3题）" in text(direct) and "4. 意见与建议：" in text(direct)
    assert "[MY-2026-01-S001]" in direct.subject
    through_unit = one(app, "survey-form:MY-2026-01-V002")
    assert through_unit.recipients == GD[1]
    assert "代为填写" in text(through_unit) and "广州发展集团股份有限公司" in text(through_unit)
    # Running the file again sends nothing new; adding a customer sends that customer's form only.
    again = launch_survey(app, survey_file(tmp_path))
    assert again.plan.queued == [] and "未发送任何邮件" in again.lines()[0]
    more = launch_survey(app, survey_file(tmp_path, SURVEY.replace("[S001, V002]", "[S001, V002, V001]")))
    assert [k for k, _, _ in more.plan.queued] == ["survey-form:MY-2026-01-V001"]
    # The questions are out: changing them is refused, naming the key.
    with pytest.raises(PlanError, match="questions"):
        launch_survey(app, survey_file(tmp_path, SURVEY.replace("服务响应速度", "服务态度")))


def test_an_answer_is_counted_acknowledged_and_a_low_score_becomes_a_request(app: App, clock: Clock) -> None:
    form = one(app, "survey-form:MY-2026-01-S001")
    clock.set(2026, 11, 16, 10)
    answer_to(app, form, ZHAOMIN, filled(text(form), {"1. ": "5", "2. ": "2分", "3. ": "满意",
                                                      "4. ": "冬季高峰期调度响应慢。", "填报人：": "赵敏"}))
    (response,) = responses(app, "MY-2026-01-S001")
    assert json.loads(response.scores) == {"1": 5, "2": 2, "3": 4}
    assert json.loads(response.texts) == {"4": "冬季高峰期调度响应慢。"}
    assert (response.version, response.late, response.by_unit) == (1, False, False)
    ack = outbox(app, "survey-ack:MY-2026-01-S001")[-1]
    assert ack.recipients == ZHAOMIN[1]
    assert "2. 服务响应速度：2 不满意" in text(ack) and "已转交我方总部对接人跟进" in text(ack)
    assert parsed(ack)["In-Reply-To"]
    with app.sessions() as s:
        (req,) = s.scalars(select(Request).where(Request.source == "survey"))
        assert req.customer.code == "S001" and req.assignee.email == LIUYANG[1]
        assert "服务响应速度：2分" in req.text and "冬季高峰期调度响应慢" in req.text
    assert outbox(app, "req-notice:")[-1].recipients == LIUYANG[1]

    # A later answer replaces it (versions kept); after the deadline it is marked late and still counted.
    clock.set(2026, 11, 23, 9)
    answer_to(app, form, ZHAOMIN, filled(text(form), {"1. ": "5", "2. ": "4", "3. ": "5"}))
    first, second = responses(app, "MY-2026-01-S001")
    assert first.superseded_by_id == second.id and (second.version, second.late) == (2, True)
    assert "第2版" in text(outbox(app, "survey-ack:MY-2026-01-S001")[-1])


def test_an_unreadable_score_is_answered_with_what_to_fix_and_not_counted(app: App) -> None:
    form = one(app, "survey-form:MY-2026-01-S001")
    answer_to(app, form, ZHAOMIN, filled(text(form), {"1. ": "6", "2. ": "还行吧", "3. ": "4"}))
    assert responses(app, "MY-2026-01-S001") == []
    error = outbox(app, "survey-error:MY-2026-01-S001")[-1]
    body = text(error)
    assert error.recipients == ZHAOMIN[1] and "“6”" in body and "还行吧" in body
    assert "1. 资源供应保障：6" in body   # the respondent's own form back, answers kept


def test_the_unit_fills_in_for_a_customer_without_contacts(app: App) -> None:
    form = one(app, "survey-form:MY-2026-01-V002")
    answer_to(app, form, GD, filled(text(form), {"1. ": "4", "2. ": "4", "3. ": "4"}))
    (response,) = responses(app, "MY-2026-01-V002")
    assert response.by_unit and "（广东分公司代填）" in text(outbox(app, "survey-ack:MY-2026-01-V002")[-1])


def test_an_answer_from_anyone_but_that_customers_contact_is_quarantined_not_counted(app: App) -> None:
    form = one(app, "survey-form:MY-2026-01-S001")
    answer_to(app, form, WANGJING, filled(text(form), {"1. ": "1", "2. ": "1", "3. ": "1"}))
    answer_to(app, form, ("冒名者", "someone@elsewhere.example.com"), filled(text(form), {"1. ": "1"}))
    assert responses(app, "MY-2026-01-S001") == []
    reasons = quarantine_reasons(app)
    assert any("wangjing@sc.example.cn 不是客户 S001 的登记联系人" in r for r in reasons)
    assert any("someone@elsewhere.example.com 不是登记的联系人" in r for r in reasons)
    assert outbox(app, "survey-ack:") == [] and outbox(app, "req-notice:") == []


def test_a_closed_survey_counts_nothing_more(app: App) -> None:
    assert "已结束：0/2" in close_survey(app, "MY-2026-01").lines()[0]
    form = one(app, "survey-form:MY-2026-01-S001")
    answer_to(app, form, ZHAOMIN, filled(text(form), {"1. ": "5", "2. ": "5", "3. ": "5"}))
    assert responses(app, "MY-2026-01-S001") == []
    assert "此前已结束" in close_survey(app, "MY-2026-01").lines()[0]


@pytest.mark.parametrize(("change", "said"), [
    (("  - 总体满意度\n", "  - 总体满意度：请打分\n"), "questions.2: 题目中不能有冒号"),
    (("deadline: 2026-11-20", "deadline: 2026-11-31"), "deadline: 日期应写作"),
    (("customers: [S001, V002]", "customers: [S001, S999]"), "customers.1: 客户 S999 不在客户名录中"),
    (("number: MY-2026-01", "number: 2026-01"), "number: 调查编号应形如 MY-2026-01"),
])
def test_a_wrong_survey_file_names_every_mistake_and_sends_nothing(
        make_app: Callable[..., App], tmp_path: Path, change: tuple[str, str], said: str) -> None:
    app = make_app()
    with pytest.raises(PlanError, match=said):
        launch_survey(app, survey_file(tmp_path, SURVEY.replace(*change)))
    assert outbox(app, "survey-") == []


def test_only_text_questions_are_refused(tmp_path: Path) -> None:
    text = SURVEY.replace("  - 资源供应保障\n  - 服务响应速度\n  - 总体满意度\n", "")
    with pytest.raises(PlanError, match="至少要有一道评分题"):
        parse_survey_plan(text, "survey.yaml")


def test_reminders_go_to_who_has_not_answered_once_per_stage_and_units_hear_of_their_customers(
        app: App, clock: Clock) -> None:
    clock.set(2026, 11, 16, 9)      # T-4: no stage has come yet
    assert survey_jobs(app).queued == []
    clock.set(2026, 11, 17, 9)      # T-3 (Tuesday)
    first = {k for k, _, _ in survey_jobs(app).queued}
    assert first == {"survey-reminder:MY-2026-01-S001:T-3",      # S001 is asked directly: reminded itself
                     "survey-pending:MY-2026-01:GD:T-3",         # GD serves S001 and fills in V002
                     "survey-pending:MY-2026-01:BJ:T-3", "survey-pending:MY-2026-01:JS:T-3"}
    assert survey_jobs(app).queued == []                          # the same day again: nothing twice
    reminder = one(app, "survey-reminder:MY-2026-01-S001:T-3")
    assert reminder.recipients == ZHAOMIN[1] and "【满意度调查】编号：MY-2026-01-S001" in text(reminder)
    assert parsed(reminder)["In-Reply-To"] == one(app, "survey-form:MY-2026-01-S001").message_id
    gd = text(one(app, "survey-pending:MY-2026-01:GD:T-3"))
    assert "S001 国家电网有限公司（客户直接答复" in gd and "V002 广州发展集团股份有限公司（由贵单位代填" in gd

    form = one(app, "survey-form:MY-2026-01-S001")
    answer_to(app, form, ZHAOMIN, filled(text(form), {"1. ": "5", "2. ": "5", "3. ": "5"}))
    clock.set(2026, 11, 19, 9)      # T-1: only V002 is still to answer, and only GD fills it in
    assert [k for k, _, _ in survey_jobs(app).queued] == ["survey-pending:MY-2026-01:GD:T-1"]
    assert "S001" not in text(one(app, "survey-pending:MY-2026-01:GD:T-1"))
    clock.set(2026, 11, 21, 9)      # after the deadline: no more reminders
    assert survey_jobs(app).queued == []


def test_a_closed_survey_reminds_nobody(app: App, clock: Clock) -> None:
    close_survey(app, "MY-2026-01")
    clock.set(2026, 11, 19, 9)
    assert survey_jobs(app).queued == []


def test_the_form_comes_as_a_workbook_too_and_a_returned_workbook_is_counted(app: App) -> None:
    form = one(app, "survey-form:MY-2026-01-S001")
    (attachment,) = list(parsed(form).iter_attachments())
    assert attachment.get_filename() == "满意度调查表_MY-2026-01-S001.xlsx"
    book = load_workbook(io.BytesIO(attachment.get_content()))
    sheet = book.active
    labels = {sheet.cell(r, 1).value: r for r in range(1, sheet.max_row + 1)}
    assert "【满意度调查】编号：MY-2026-01-S001" in labels and "【填报结束】" in labels
    assert sheet.protection.sheet and sheet.cell(labels["1. 资源供应保障"], 2).protection.locked is False
    # The customer fills the workbook (a score from the list, 不了解, a comment) and replies with it alone.
    for label, value in (("1. 资源供应保障", "4"), ("2. 服务响应速度", "不了解"), ("3. 总体满意度", 5),
                         ("4. 意见与建议", "管网检修提前通知。"), ("填报人", "赵敏")):
        sheet.cell(labels[label], 2).value = value
    filled_book = io.BytesIO()
    book.save(filled_book)
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = f"{ZHAOMIN[0]} <{ZHAOMIN[1]}>", form.recipients, "回复：" + form.subject
    reply["Message-ID"], reply["In-Reply-To"] = "<xlsx-reply@sgcc.example.com>", form.message_id
    reply.set_content("调查表已填写，见附件。")
    reply.add_attachment(filled_book.getvalue(), maintype="application",
                         subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                         filename="满意度调查表_MY-2026-01-S001.xlsx")
    arrive(app, reply.as_bytes())
    (response,) = responses(app, "MY-2026-01-S001")
    assert json.loads(response.scores) == {"1": 4, "2": None, "3": 5}
    assert json.loads(response.texts) == {"4": "管网检修提前通知。"} and response.respondent_name == "赵敏"


def test_a_comment_the_unit_marks_as_a_complaint_becomes_a_request(app: App) -> None:
    # GD fills in V002 with good scores but the customer's complaint marked "投诉：": followed up, not only counted.
    form = one(app, "survey-form:MY-2026-01-V002")
    answer_to(app, form, GD, filled(text(form), {"1. ": "4", "2. ": "4", "3. ": "4",
                                                 "4. ": "投诉：十一月两次未提前通知即降压供气。"}))
    with app.sessions() as s:
        (req,) = s.scalars(select(Request).where(Request.source == "survey"))
        assert req.customer.code == "V002" and "提出投诉" in req.text
        assert req.assignee is not None and req.assignee.email == "zhaolei@hq.example.cn"   # no 总部对接人: duty
        assert "投诉：十一月两次未提前通知即降压供气。" in req.text and "投诉：投诉" not in req.text
    assert "已转交我方总部对接人跟进" in text(outbox(app, "survey-ack:MY-2026-01-V002")[-1])
    # The same words from the customer itself are its comment: it is not the unit's mark.
    s001 = one(app, "survey-form:MY-2026-01-S001")
    answer_to(app, s001, ZHAOMIN, filled(text(s001), {"1. ": "4", "2. ": "4", "3. ": "4", "4. ": "投诉：无"}))
    with app.sessions() as s:
        assert [r.customer.code for r in s.scalars(select(Request).where(Request.source == "survey"))] == ["V002"]
