"""Cut-off and 补报: each issue counts what was accepted by its cut-off, and a report accepted later is printed in
the next issue's 补报. On SQLite and PostgreSQL.

The issue goes out on the second working day after the deadline (`bulletin.issue_workday: 2`): November's
deadline is Saturday the 28th, so the issue is Tuesday 1 December and counts to Monday 30 November 18:00. GD
reports on time on the 20th, then corrects itself at 20:00 on the 30th — a 重大 risk and a call for HQ with item
4 left empty. November's issue does not know the correction; December's prints it under 补报, with the 诉求
opened for it named by its title. The cover mail and every chapter state the same figures and decisions.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.bulletin.asks import UNWRITTEN
from mailbot.bulletin.compile import bulletin_path, compile_bulletin, cutoffs_of
from mailbot.bulletin.cutoff import label
from mailbot.bulletin.gather import gather
from mailbot.db.models import OutboxMail, Period, Request
from mailbot.demo import replies
from mailbot.domain import due
from mailbot.pipeline import intake
from mailbot.reports.schedule import send_requests
from mailbot.reports.store import ensure_period
from tests.support.mailflow import GD, ROUTINE, TZ, arrive, at, drop, gd_report, pdf_text

CORRECTION = {"S001": {"1": "已签订2027年度框架协议。", "5": "客户拟将2027年合同气量压减三成，影响冬季保供。",
                       "风险等级": "重大", "需总部协调": "是"}}
NO_ITEM_4 = {"S001": {"5": "客户拟将2027年合同气量压减三成，影响冬季保供。", "风险等级": "重大", "需总部协调": "是"}}


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app(bulletin={"issue_workday": 2})


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def correct_after_cutoff(app: App) -> None:
    """GD's on-time report, then its correction at 20:00 on 30 November, after the cut-off."""
    app.clock.now = at(2026, 11, 20, 10)  # type: ignore[attr-defined]
    arrive(app, gd_report(app, ROUTINE))
    with app.sessions() as s:
        raw = s.scalar(select(OutboxMail.raw).where(OutboxMail.idem_key == "request:2026-11:GD"))
    assert raw is not None
    when = at(2026, 11, 30, 20)
    app.clock.now = when  # type: ignore[attr-defined]
    drop(app, replies.reply(raw, sender=GD, at=when, answers=CORRECTION, reporter=("李明", "020-38886666")), when)
    intake.run_pass(app)


def cover_text(app: App, period: str) -> str:
    with app.sessions() as s:
        raw = s.scalar(select(OutboxMail.raw).where(OutboxMail.idem_key == f"bulletin:{period}"))
    assert raw is not None
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_issue_day_and_cutoff_follow_the_bulletin_settings(app: App) -> None:
    cutoffs = cutoffs_of(app)
    assert due.bulletin_date(due.Month(2026, 11), cutoffs.schedule, cutoffs.calendar) == datetime(2026, 12, 1).date()
    assert cutoffs.of(due.Month(2026, 11)) == at(2026, 11, 30, 18)
    assert label(cutoffs.of(due.Month(2026, 11)), TZ) == "截至11月30日18:00"


def test_a_report_after_the_cutoff_is_in_the_next_issue_and_cover_and_chapters_agree(
        app: App, tmp_path: Path) -> None:
    correct_after_cutoff(app)
    app.clock.now = at(2026, 12, 1, 9)  # type: ignore[attr-defined]
    compile_bulletin(app, "2026-11")

    # November's issue counts to 30 November 18:00: GD's first report is in force, its correction is not.
    with app.sessions() as s:
        period = s.scalar(select(Period).where(Period.key == "2026-11"))
        assert period is not None
        nov = gather(s, period, department=app.department, tz=app.tz, now=app.now(), cutoffs=cutoffs_of(app))
        late_request = s.scalar(select(Request).where(Request.created_at >= at(2026, 11, 30, 18)))
        assert late_request is not None  # the correction's call for HQ became a 诉求 at 20:00
        late_number, late_title = late_request.number, late_request.title or ""
    assert nov.cutoff == at(2026, 11, 30, 18)
    gd = next(u for u in nov.units if u.code == "GD")
    assert (gd.status, gd.version) == ("on_time", 1)
    assert {(r.customer_code, r.level) for r in nov.risks if r.unit_name == "广东分公司"} == {("S001", "一般")}
    assert late_number not in {x.number for x in nov.requests.opened} if nov.requests else True
    assert nov.late == ()

    # The cover and the PDF state the same cut-off, figures and decisions.
    cover = cover_text(app, "2026-11")
    pdf = squash(pdf_text(bulletin_path(app, "2026-11").read_bytes(), tmp_path, layout=False))
    assert nov.requests is not None
    opened, answered, overdue = len(nov.requests.opened), len(nov.requests.answered), len(nov.requests.overdue)
    assert "本期概况（截至11月30日18:00" in cover and "本期数据截至11月30日18:00" in pdf
    said = f"诉求：本月新登记{opened}件，答复{answered}件，当前逾期未办{overdue}件"
    assert said in cover
    assert f"本月新登记诉求{opened}件" in pdf and f"答复{answered}件，当前逾期未办{overdue}件" in pdf
    assert f"截至11月30日18:00：本月新登记{opened}件，本月答复{answered}件，当前逾期未办{overdue}件。" in pdf
    stated = squash(cover[cover.index("本期概况"):])
    units = len(nov.units)
    assert f"应报单位{units}家，按时报送1家，逾期报送0家，未报送{units - 1}家" in stated
    assert f"本月应报单位{units}家，按时报送1家、逾期报送0家、未报送{units - 1}家" in pdf

    # December's issue prints the correction under 补报: unit, month, when, the new 重大 risk and the call for HQ,
    # which reads as the title of its 诉求 (item 4 was empty), not as 未写明事项.
    with app.sessions() as s:
        dec_period = ensure_period(s, "2026-12", app.schedule)
        dec = gather(s, dec_period, department=app.department, tz=app.tz, now=at(2027, 1, 5, 9),
                     cutoffs=cutoffs_of(app))
        s.rollback()
    (late,) = dec.late
    assert (late.unit_code, late.period, late.version, late.received_at) == ("GD", "2026-11", 2, at(2026, 11, 30, 20))
    assert [(r.customer_code, r.level) for r in late.risks] == [("S001", "重大")]
    (ask,) = late.asks
    assert (ask.customer_code, ask.number, ask.text) == ("S001", late_number, late_title)
    assert late_title and UNWRITTEN not in ask.text
    assert dec.requests is not None and late_number in {x.number for x in dec.requests.opened}

    from mailbot.bulletin.render import render_bulletin_pdf  # the PDF layer, only where a PDF is wanted

    text = squash(pdf_text(render_bulletin_pdf(dec), tmp_path, layout=False))
    for part in ("补报（上期月报截止后受理，1份）", "上期月报截止后补报1份", "广东分公司", "2026年11月",
                 "第2版（更正）", "11月30日20:00", "S001", late_number):
        assert part in text, part


def test_needs_hq_without_item_4_reads_as_the_title_of_its_request(app: App) -> None:
    # GD asks HQ for help on S001 but leaves item 4 empty: the 诉求 carries the block's other items, and 附件4
    # shows its one-line title and number instead of "（未写明事项）".
    app.clock.now = at(2026, 11, 20, 10)  # type: ignore[attr-defined]
    send_requests(app, "2026-11")
    arrive(app, gd_report(app, NO_ITEM_4))
    with app.sessions() as s:
        q = s.scalar(select(Request).where(Request.source == "strategic"))
        assert q is not None and q.category is None
        period = s.scalar(select(Period).where(Period.key == "2026-11"))
        assert period is not None
        b = gather(s, period, department=app.department, tz=app.tz, now=at(2026, 12, 1, 9), cutoffs=cutoffs_of(app))
        number, title = q.number, q.title
    (row,) = [c for c in b.coordination if c.source == "战略客户"]
    assert (row.customer_code, row.number, row.text) == ("S001", number, title)
    assert title and "压减" in title
