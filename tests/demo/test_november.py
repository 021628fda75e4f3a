"""The demo's November (mailbot.demo.month.play_month), played once per database for this module: every mail
the month sends, then every job again sending nothing new; what the bulletin reads from it — page 1 names every
重大-risk customer and every 诉求 awaiting group review or overdue, the figures of 一、本月总体情况 recomputed
here from the tables, the cover mail listing page 1's decisions; and the same November with an October before it,
each risk marked 新增 / 持续 / 已解除. On SQLite and PostgreSQL.

The month: requests, replies (on time, late, one with errors then corrected, two urgent, a stranger, an
out-of-office, a bounce), reminders, escalation, a visit with its minutes, 诉求 worked by mail, the bulletin.
The tests only read it (the re-run of every job is asserted to change nothing).
"""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
from collections import Counter
from datetime import datetime, time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.bulletin.compile import bulletin_path, compile_bulletin, masthead
from mailbot.bulletin.gather import gather
from mailbot.bulletin.prose import overview
from mailbot.bulletin.render import dynamics, render_bulletin_pdf
from mailbot.daemon.scheduler import run_once
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
from mailbot.reports.schedule import escalate, remind, send_requests
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


def kinds(app: App) -> Counter[str]:
    with app.sessions() as s:
        return Counter(s.scalars(select(OutboxMail.kind)))


def test_whole_month_then_everything_again_sends_nothing_new(november: App) -> None:
    # The month as a user lives it; afterwards the calendar, the compile and the requests are re-run: no new mail.
    app = november

    # Requests: 3 assigned from reports, 2 urgent; 刘洋 works SQ-2026-0001 by mail (2 acks, 1 answer to GD).
    # Deadlines count working days: the three raised by reports fall due on 1 December, after the month; the two
    # urgent ones (one working day) run late — assignee reminded, then the department head (4 notices) — and,
    # as nobody answers them, each climbs the ladder: the 部门负责人 after 2 working hours, the duty list after 4
    # (4 notices).
    # A visit to S001: the notice, four briefing reminders, the summary request; BJ's summary is filed (one
    # acknowledgement) and its two follow-up actions are sent to their owners.
    # Mail that is not a report: GD's question and GD's thanks after its acknowledgement are handed to 刘洋.
    # Mondays 23 and 30 November: each 承办人 with open 诉求 (王芳, 陈静, 赵磊) and the 部门负责人 get the week's list.
    # The operator: XJ's request bounced (once), and three digests (eight newsletters; a handover; a stranger
    # and a handover) — not eleven mails.
    assert kinds(app) == Counter({"request": 6, "reminder": 9, "escalation": 3, "ack": 4, "error_reply": 1,
                                  "urgent_forward": 2, "urgent_ack": 2, "operator": 4, "bulletin": 1,
                                  "request_notice": 11, "request_update_ack": 2, "request_answer": 1,
                                  "visit_notice": 1, "visit_brief": 4, "visit_summary_request": 1,
                                  "visit_reply": 1, "visit_followup": 2, "handover": 2, "handover_ack": 2,
                                  "request_digest": 8})
    with app.sessions() as s:
        statuses = Counter(s.scalars(select(InboundMessage.status)))
        assert statuses == Counter({"processed": 9, "answered": 1, "handed_over": 2, "ignored": 2,
                                    "quarantined": 9})
        sent = Counter(s.scalars(select(OutboxMail.status)))
        assert sent == Counter({"sent": 67})
        rows = s.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
    outbox_dir = app.settings.path(app.settings.outbox.path) / "new"
    assert len(list(outbox_dir.iterdir())) == 67

    # What each person received.
    received = Counter(a for r in rows for a in r.recipients.split(","))
    assert received["it-ops@hq.example.cn"] == 4
    assert received["aili@xj.example.cn"] == 1  # the request that bounced, then nothing more …
    assert received["hewb@xj.example.cn"] == 4  # … XJ's three reminders and the escalation reach its leader
    assert [r.kind for r in rows if "liming@gd.example.cn" in r.recipients.split(",")] == [
        "visit_notice", "request", "visit_brief", "handover_ack", "ack", "handover_ack", "request_answer"]
    assert {r.recipients for r in rows if r.kind == "handover"} == {"liuyang@hq.example.cn"}
    assert [r.recipients for r in rows if r.kind == "urgent_forward"] == ["wangfang@hq.example.cn",
                                                                          "chenjing@hq.example.cn"]

    # The escalations went to the leaders of the three units that had not reported by the 27th.
    with app.sessions() as s:
        esc = s.scalars(select(OutboxMail.recipients).where(OutboxMail.kind == "escalation")).all()
    assert sorted(r.split(",")[0] for r in esc) == ["fengjj@sx.example.cn", "hewb@xj.example.cn", "yanggd@sc.example.cn"]

    # The cover mail says what needs the leaders before they open the PDF: the supply interruption reported by urgent
    # mail (S011) is the month's 重大 risk, and each overdue 诉求 is named with its 承办人.
    cover = next(r for r in rows if r.kind == "bulletin")
    said = email.message_from_bytes(cover.raw, policy=email.policy.default).get_body(("plain",)).get_content()
    decisions = said[said.index("需要决策和协调的事项"):said.index("本期概况")]
    # One line per row of page 1's 二: an urgent matter that is also overdue carries both marks.
    assert "重大风险、逾期诉求：S011 陕西延长石油（集团）有限责任公司（陕西分公司）SQ-2026-" in decisions
    assert "重大风险：S003" in decisions and decisions.count("逾期诉求：") == 2 and decisions.count("承办人") == 3

    pdf = bulletin_path(app, "2026-11")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for expected in ("重点客户月报", "广东分公司", "按时", "逾期", "未报", "四川分公司",
                     "客户子公司拖欠气款约1.2亿元", "榆林化工项目", "北京市拟出台燃气价格联动新政"):
        assert expected in text, expected
    assert "较大" not in text  # BJ's rejected first version never reaches the bulletin
    flat = "".join(text.split())
    assert "五、诉求办理" in text and "本月新登记5件，本月答复1件，当前逾期未办2件。" in flat

    before = kinds(app)
    app.clock.now = datetime(2026, 11, 30, 18, tzinfo=TZ)  # type: ignore[attr-defined]  # where the month ended
    run_once(app)
    send_requests(app, "2026-11")
    remind(app, "2026-11", "T-1")
    escalate(app, "2026-11")
    compile_bulletin(app, "2026-11")
    assert kinds(app) == before
    app.clock.now = COMPILED  # type: ignore[attr-defined]


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
