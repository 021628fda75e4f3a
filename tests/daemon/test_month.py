"""A whole month end to end on the embedded default (Maildir in, Maildir outbox), on SQLite and PostgreSQL.

The month is the demo's: requests, replies (on time, late, one with errors then
corrected, one urgent, a stranger, an out-of-office), reminders, escalation,
bulletin. Then every job runs again and nothing new is sent.
"""

from __future__ import annotations

import email
import email.policy
import subprocess
from collections import Counter

from sqlalchemy import select

from mailbot.app import App
from mailbot.bulletin.compile import bulletin_path, compile_bulletin
from mailbot.daemon.calendar import tick
from mailbot.daemon.scheduler import run_once
from mailbot.db.models import InboundMessage, OutboxMail
from mailbot.demo.month import SimClock, play_month
from mailbot.reports.schedule import escalate, remind, send_requests


def kinds(app: App) -> Counter[str]:
    with app.sessions() as s:
        return Counter(s.scalars(select(OutboxMail.kind)))


def test_whole_month_then_everything_again_sends_nothing_new(make_app) -> None:  # type: ignore[no-untyped-def]
    # The month as a user lives it; afterwards the calendar, the compile and the requests are re-run: no new mail.
    clock = SimClock()
    app = make_app()
    app.clock = clock
    play_month(app, clock, "2026-11", lambda _: None)

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
    run_once(app)
    send_requests(app, "2026-11")
    remind(app, "2026-11", "T-1")
    escalate(app, "2026-11")
    compile_bulletin(app, "2026-11")
    assert kinds(app) == before


def test_dry_run_shows_the_plan_and_changes_nothing(app: App) -> None:
    # `send-requests --dry-run` lists six requests; afterwards the outbox is still empty.
    plan = send_requests(app, "2026-11", dry_run=True)
    assert len(plan.queued) == 6 and all(k.startswith("request:2026-11:") for k, _, _ in plan.queued)
    assert kinds(app) == Counter()


def test_an_undescribed_year_warns_the_operator_once(app: App) -> None:
    # In December the calendar looks at January 2027, which chinese-calendar does not know: one mail, not one per tick.
    from datetime import datetime
    from zoneinfo import ZoneInfo

    app.clock = lambda: datetime(2026, 12, 20, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    tick(app)
    tick(app)
    with app.sessions() as s:
        keys = s.scalars(select(OutboxMail.idem_key).where(OutboxMail.kind == "operator")).all()
    assert keys == ["operator:calendar:2027"]
