"""A survey's results and report: figures checked against hand counts, the report PDF read back and looked at,
mailed to the bulletin list when the survey closes; compared with the previous survey of the same customers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.archive.dossier import customer_archive, render_dossier_pdf, render_timeline_text
from mailbot.bulletin.compile import bulletin_path, compile_bulletin
from mailbot.bulletin.gather import gather
from mailbot.bulletin.render import render_bulletin_html
from mailbot.db.models import Survey
from mailbot.reports.store import ensure_period
from mailbot.surveys.chapter import gather_surveys
from mailbot.surveys.closing import close_survey, write_report
from mailbot.surveys.results import survey_results
from mailbot.surveys.store import launch_survey
from tests.support.mailflow import GD, Clock, answer_to, at, one, parsed, pdf_text, text
from tests.support.surveys import SURVEY, ZHAOMIN, filled, survey_file

COMMENT = "冬季高峰期调度响应慢。<b>请</b>&改进"


@pytest.fixture
def answered(make_app: Callable[..., App], tmp_path: Path, clock: Clock) -> App:
    # S001 answers itself: 5, 2, 满意(4) and a comment; GD fills in V002: 4, 不了解, 3.
    app = make_app()
    launch_survey(app, survey_file(tmp_path))
    clock.set(2026, 11, 16, 10)
    form = one(app, "survey-form:MY-2026-01-S001")
    answer_to(app, form, ZHAOMIN, filled(text(form), {"1. ": "5", "2. ": "2", "3. ": "满意", "4. ": COMMENT}))
    form = one(app, "survey-form:MY-2026-01-V002")
    answer_to(app, form, GD, filled(text(form), {"1. ": "4", "2. ": "不了解", "3. ": "3"}))
    return app


def results(app: App, number: str = "MY-2026-01"):  # type: ignore[no-untyped-def]
    with app.sessions() as s:
        survey = s.scalar(select(Survey).where(Survey.number == number))
        assert survey is not None
        return survey_results(s, survey)


def test_the_figures_are_the_hand_counted_ones(answered: App) -> None:
    r = results(answered)
    assert (r.asked, r.answered, r.by_unit, r.late, r.not_answered) == (2, 2, 1, 0, ())
    q1, q2, q3 = r.questions
    assert (q1.mean, q1.answers, q1.no_answer, q1.distribution) == (4.5, 2, 0, (0, 0, 0, 1, 1))
    assert (q2.mean, q2.answers, q2.no_answer, q2.distribution) == (2.0, 1, 1, (0, 1, 0, 0, 0))  # 不了解: no zero
    assert (q3.mean, q3.answers, q3.distribution) == (3.5, 2, (0, 0, 1, 1, 0))
    assert r.overall == 3.33                                   # (4.5 + 2.0 + 3.5) / 3
    units = {row.label: (row.responses, row.means, row.overall) for row in r.units}
    assert units == {"广东分公司": (2, (4.5, 2.0, 3.5), 3.33),     # GD serves S001 and V002
                     "北京分公司": (1, (5.0, 2.0, 4.0), 3.67), "江苏分公司": (1, (5.0, 2.0, 4.0), 3.67)}
    kinds = {row.label: (row.means, row.overall) for row in r.kinds}
    assert kinds == {"战略客户": ((5.0, 2.0, 4.0), 3.67), "VIP客户": ((4.0, None, 3.0), 3.5)}
    assert [(row.label, row.responses) for row in r.sources] == [("客户直接答复", 1), ("所属单位代填", 1)]
    assert [(x.customer, x.question, x.score) for x in r.low] == [("S001", "服务响应速度", 2)]
    assert [(c.customer, c.text) for c in r.comments] == [("S001", COMMENT)]


def test_closing_mails_the_report_to_the_bulletin_list_and_its_pdf_reads_back(answered: App, tmp_path: Path) -> None:
    close_survey(answered, "MY-2026-01")
    mail = one(answered, "survey-report:MY-2026-01")
    assert mail.recipients.split(",") == answered.directory.bulletin_addresses()
    assert "2/2家答复，总体3.33分" in mail.subject
    assert "S001 国家电网有限公司：服务响应速度 2分" in text(mail)
    (pdf,) = [p.get_content() for p in parsed(mail).iter_attachments()]
    page = pdf_text(pdf, tmp_path)
    for fact in ("2026年冬季保供客户满意度调查", "MY-2026-01", "已结束", "4.50", "3.33", "广东分公司",
                 "所属单位代填", "低分项", COMMENT):   # what a customer wrote, literally — not markup
        assert fact in page, fact
    # Closing twice mails nothing more.
    assert close_survey(answered, "MY-2026-01").plan.queued == []


def test_the_report_compares_with_the_previous_survey_of_the_same_customers(
        answered: App, tmp_path: Path, clock: Clock) -> None:
    close_survey(answered, "MY-2026-01")
    clock.set(2026, 12, 1, 9)
    second = SURVEY.replace("MY-2026-01", "MY-2026-02").replace("2026-11-20", "2026-12-20")
    launch_survey(answered, survey_file(tmp_path, second))
    form = one(answered, "survey-form:MY-2026-02-S001")
    answer_to(answered, form, ZHAOMIN, filled(text(form), {"1. ": "5", "2. ": "4", "3. ": "5"}))
    r = results(answered, "MY-2026-02")
    assert r.previous == "MY-2026-01"
    assert [(q.mean, q.previous_mean, q.change) for q in r.questions] == [(5.0, 4.5, 0.5), (4.0, 2.0, 2.0),
                                                                          (5.0, 3.5, 1.5)]
    path = write_report(answered, "MY-2026-02", tmp_path / "interim.pdf")
    page = pdf_text(path.read_bytes(), tmp_path)
    assert "进行中（中期结果）" in page and "较 MY-2026-01" in page and "↑ 2.00" in page
    assert "各题平均分（满分5分）" in page and "本次" in page    # the chart: this survey's means beside the last
    assert "S003" not in page and "V002 广州发展集团股份有限公司" in page   # not answered yet: listed


def test_the_customer_archive_shows_each_answer_in_force(answered: App, tmp_path: Path) -> None:
    s001 = render_timeline_text(customer_archive(answered, "S001"))
    assert "【满意度调查】MY-2026-01　2026年冬季保供客户满意度调查　2026年11月16日答复" in s001
    assert "2. 服务响应速度：2 不满意" in s001 and COMMENT in s001
    v002 = render_timeline_text(customer_archive(answered, "V002"))
    assert "（广东分公司代填）" in v002 and "2. 服务响应速度：未评分（不计入统计）" in v002
    page = pdf_text(render_dossier_pdf(customer_archive(answered, "S001")), tmp_path)
    assert "满意度调查" in page and "MY-2026-01" in page and COMMENT in page


def test_the_bulletin_chapter_lists_the_months_surveys_with_their_weakest_question(answered: App) -> None:
    month = (at(2026, 11, 1), at(2026, 12, 1))
    with answered.sessions() as s:
        (line,) = gather_surveys(s, *month)
    assert (line.number, line.closed, line.answered, line.asked, line.overall) == ("MY-2026-01", False, 2, 2, 3.33)
    assert line.weakest == ("服务响应速度", 2.0) and [x.customer for x in line.low] == ["S001"]
    close_survey(answered, "MY-2026-01")
    with answered.sessions() as s:
        assert [x.closed for x in gather_surveys(s, *month)] == [True]   # closed in November
        assert gather_surveys(s, at(2026, 12, 1), at(2027, 1, 1)) == ()  # nothing to say in December


def test_the_bulletin_carries_the_months_survey_and_a_quarters_evaluation(answered: App, tmp_path: Path,
                                                                          clock: Clock) -> None:
    clock.set(2026, 11, 30, 9)
    compile_bulletin(answered, "2026-11", mail=False)
    page = pdf_text(bulletin_path(answered, "2026-11").read_bytes(), tmp_path, layout=False)
    chapter = page[page.index("七、满意度调查"):page.index("八、下月工作安排")].replace("\n", "")
    assert "MY-2026-01" in chapter and "2/2" in chapter and "3.33" in chapter and "（2.00）" in chapter
    assert "S001 国家电网有限公司：服务响应速度" in chapter and "2分" in chapter
    assert "维护工作评估" not in page                                      # November closes no quarter
    # December closes the quarter: its chapter is there (read from the page's HTML; the PDF above is the same path).
    clock.set(2027, 1, 4, 9)
    with answered.sessions() as s:
        period = ensure_period(s, "2026-12", answered.schedule)
        page = render_bulletin_html(gather(s, period, department=answered.department, tz=answered.tz,
                                           now=answered.now(), schedule=answered.schedule,
                                           evaluation=answered.settings.evaluation))
        s.rollback()
    assert "维护工作评估（2026年第四季度）" in page and "广东分公司" in page
