"""The bulletin read from the database: the demo's November (the first month), then the same November with an
October before it. On SQLite and PostgreSQL.

What a department head reads first must be true and complete: page 1 names every 重大-risk customer and every
诉求 awaiting group review or overdue; the figures in 一、本月总体情况 are recomputed here from the tables,
not from the bulletin; risks are marked 新增 / 持续 / 已解除 against last month.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime, time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.bulletin.compile import bulletin_path, issue_numbers, masthead
from mailbot.bulletin.gather import gather
from mailbot.bulletin.prose import overview
from mailbot.bulletin.render import dynamics, render_bulletin_pdf
from mailbot.db.models import (
    Customer,
    InboundMessage,
    OutboxMail,
    Period,
    ReportRequest,
    Request,
    StrategicEntry,
    Submission,
    Unit,
)
from mailbot.demo.month import SimClock, play_month
from mailbot.domain.due import Schedule
from mailbot.reports.store import ensure_period
from mailbot.settings import BulletinSettings
from tests.support.mailflow import TZ, pdf_text

NOV_FIRST = datetime(2026, 11, 1, tzinfo=TZ)
DEC_FIRST = datetime(2026, 12, 1, tzinfo=TZ)
COMPILED = datetime(2026, 11, 30, 9, 5, tzinfo=TZ)


@pytest.fixture(scope="module")
def november(module_app: App) -> App:
    """The demo's November, played once per database for the module's tests, which only read it."""
    clock = SimClock()
    module_app.clock = clock
    play_month(module_app, clock, "2026-11", lambda _: None)
    clock.now = COMPILED
    return module_app


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_page_one_names_every_decision_and_the_prose_matches_the_tables(november: App, tmp_path: Path) -> None:
    # The bulletin the calendar mailed: page 1 carries the masthead, 一 and 二 with every 重大-risk customer and
    # every 诉求 for group review or overdue; each figure 一 states is counted again here from the tables.
    pdf = bulletin_path(november, "2026-11").read_bytes()
    text = pdf_text(pdf, tmp_path)
    # Reading order, not layout: a name wrapped inside a table cell must read as one name.
    page1 = squash(pdf_text(pdf, tmp_path, layout=False).split("\f")[0])
    with november.sessions() as s:
        period = s.scalar(select(Period).where(Period.key == "2026-11"))
        assert period is not None
        current = [x for x in s.scalars(select(Submission).where(Submission.period_id == period.id))
                   if x.superseded_by_id is None]
        major_customers = set(s.scalars(
            select(Customer.name).join(StrategicEntry.customer).where(
                StrategicEntry.submission_id.in_([x.id for x in current]), StrategicEntry.risk == "重大")))
        urgent = s.scalars(select(Request).where(Request.urgent.is_(True), Request.created_at >= NOV_FIRST,
                                                 Request.created_at < DEC_FIRST)).all()
        major_customers |= {r.customer.name for r in urgent if r.customer}
        pressing = {r.number for r in s.scalars(select(Request)) if r.status == "awaiting_approval"
                    or (r.status in ("new", "in_progress") and r.due_at is not None and r.due_at < COMPILED)}
        units = s.scalar(select(func.count(Unit.id)).where(Unit.active.is_(True)))
        risk_rows = s.execute(select(StrategicEntry.risk, func.count()).where(
            StrategicEntry.submission_id.in_([x.id for x in current])).group_by(StrategicEntry.risk)).all()
        levels = dict(risk_rows)
        opened = s.scalar(select(func.count(Request.id)).where(Request.created_at >= NOV_FIRST,
                                                                Request.created_at < DEC_FIRST))
        answered = s.scalar(select(func.count(Request.id)).where(Request.answered_at >= NOV_FIRST,
                                                                  Request.answered_at < DEC_FIRST))
    assert major_customers and pressing  # the demo has both: S003, S007, S011; two overdue urgent 诉求
    for name in major_customers:
        assert squash(name) in page1, name
    for number in pressing:
        assert number in page1, number
    for part in ("内部资料注意保密", "气电集团重点客户月报", "2026年第11期", "一、本月总体情况",
                 "二、需决策与协调事项"):
        assert part in page1, part

    on_time = sum(x.on_time for x in current)
    stated = squash(text[text.index("一、本月总体情况"):text.index("二、需决策与协调事项")])
    assert (f"本月应报单位{units}家，按时报送{on_time}家、逾期报送{len(current) - on_time}家、"
            f"未报送{units - len(current)}家，报送及时率{100 * on_time / units:.0f}%。") in stated
    assert "上月无可比数据，本期不作环比。" in stated
    major, minor = levels.get("重大", 0) + len(urgent), levels.get("一般", 0)
    assert (f"本月风险提示{major + minor}项，其中重大风险{major}项、一般风险{minor}项；"
            f"收到紧急事项{len(urgent)}件。") in stated
    assert f"本月新登记诉求{opened}件，答复{answered}件，当前逾期未办{len(pressing)}件。" in stated


def _seed_october(s: Session) -> None:
    """October as the units reported it: four of six on time, SC late, XJ missing; risks S001 重大 (GD), S003
    一般 (JS), S002 一般 (GD), S005 一般 (SX)."""
    period = ensure_period(s, "2026-10", Schedule())
    units = {u.code: u for u in s.scalars(select(Unit))}
    customers = {c.code: c for c in s.scalars(select(Customer))}
    reports = {"BJ": (True, {}), "GD": (True, {"S001": "重大", "S002": "一般"}), "JS": (True, {"S003": "一般"}),
               "SX": (True, {"S005": "一般"}), "SC": (False, {})}
    at = datetime.combine(period.deadline, time(10), TZ)
    for code, unit in units.items():
        s.add(ReportRequest(period=period, unit=unit, token=f"KCR-202610-{code}", message_id=f"<r10{code}@t>",
                            created_at=at))
        if code not in reports:
            continue
        on_time, risks = reports[code]
        msg = InboundMessage(mailbox="t", sha256=f"{code:0>64}", raw=b"", size=0, received_at=at, recorded_at=at)
        s.add(msg)
        s.flush()
        sub = Submission(period=period, unit=unit, inbound_id=msg.id, version=1, received_at=at, on_time=on_time)
        s.add(sub)
        for cust, level in risks.items():
            s.add(StrategicEntry(submission=sub, customer=customers[cust], risk=level, needs_hq=False))
    s.flush()


def test_second_month_compares_with_the_first_and_marks_each_risk(november: App, tmp_path: Path) -> None:
    # With October in the database, November's bulletin says how each figure moved and marks every risk.
    with november.sessions() as s:
        _seed_october(s)
        period = s.scalar(select(Period).where(Period.key == "2026-11"))
        assert period is not None
        b = gather(s, period, department="资源与市场部", tz=TZ, now=COMPILED, schedule=november.schedule,
                   masthead=masthead("2026-11", BulletinSettings(first_issue="2026-10", issuer="张伟"),
                                     "资源与市场部", COMPILED.date()))
        s.rollback()
    assert b.previous is not None and b.previous.period == "2026-10"
    assert (b.previous.units, b.previous.on_time, b.previous.late, b.previous.missing) == (6, 4, 1, 1)
    assert [f.period for f in b.history] == ["2026-10", "2026-11"]
    marks = {(r.customer_code, r.level): (r.change, r.trend) for r in b.risks}
    assert marks[("S003", "重大")] == ("持续", "↑")      # 一般 in October
    assert marks[("S001", "一般")] == ("持续", "↓")      # 重大 in October
    assert marks[("S007", "重大")] == ("新增", "")       # by urgent mail
    cleared = {r.customer_code: r.change for r in b.cleared}
    assert cleared == {"S002": "已解除", "S005": "未再报告"}  # GD reported S002 as 无; nobody reported S005

    prose = "".join(overview(b))
    assert "报送及时率50%（上月66.7%，下降16.7个百分点）。" in prose
    # October: 重大 S001; 一般 S002, S003, S005. November: 重大 S003, S007 and S011 (urgent); 一般 S001 twice, S007.
    assert "其中重大风险3项（较上月增加2项）、一般风险3项（与上月持平）；与上月相比新增3项、持续3项、已解除1项" in prose
    assert "本月新登记诉求5件（较上月增加5件）" in prose

    text = squash(pdf_text(render_bulletin_pdf(b), tmp_path, layout=False))
    assert "2026年第2期（总第2期）" in text and "签发：张伟" in text
    assert "持续↑" in text and "已解除" in text and "未再报告" in text
    # S001 is served by three units; 四 lists it once, with what each unit said beyond item 1.
    s001 = [x for x in dynamics(b).briefs if x.section.code == "S001"]
    assert len(s001) == 1 and {m.unit_name for m in s001[0].lines} == {"广东分公司", "北京分公司"}


def test_issue_numbers_restart_each_january_from_the_first_issue() -> None:
    # 第N期 within the year, 总第M期 since go-live; no first issue configured: the month's number.
    assert issue_numbers("2026-11", "2026-10") == (2026, 2, 2)
    assert issue_numbers("2027-01", "2026-10") == (2027, 1, 4)
    assert issue_numbers("2027-03", "2026-10") == (2027, 3, 6)
    assert issue_numbers("2026-11", None) == (2026, 11, 0)
    assert issue_numbers("2026-09", "2026-10") == (2026, 1, 1)


def test_cover_mail_lists_the_decisions_of_page_one(november: App, tmp_path: Path) -> None:
    # One source for both: every row of 二 on page 1 is a numbered line of the cover mail, in the same order.
    with november.sessions() as s:
        period = s.scalar(select(Period).where(Period.key == "2026-11"))
        assert period is not None
        b = gather(s, period, department="资源与市场部", tz=TZ, now=COMPILED, schedule=november.schedule)
        raw = s.scalar(select(OutboxMail.raw).where(OutboxMail.idem_key == "bulletin:2026-11"))
    assert raw is not None and b.decisions
    said = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",)).get_content()
    listed = said[said.index("需要决策和协调的事项"):said.index("本期概况")]
    lines = [x.strip() for x in listed.splitlines() if re.match(r"\s*\d+\. ", x)]
    assert len(lines) == len(b.decisions) == int(re.search(r"（(\d+)项）", listed).group(1))  # type: ignore[union-attr]
    page1 = squash(pdf_text(bulletin_path(november, "2026-11").read_bytes(), tmp_path, layout=False).split("\f")[0])
    for i, (line, d) in enumerate(zip(lines, b.decisions), 1):
        assert line.startswith(f"{i}. {'、'.join(d.kinds)}：{d.customer}（{d.unit_name}）"), line
        assert d.number in line and squash(d.customer) in page1 and d.number in page1
