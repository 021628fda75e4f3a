"""A whole month end to end on the embedded default (Maildir in, Maildir outbox), on SQLite and PostgreSQL.

The month is the demo's: requests, replies (on time, late, one with errors then
corrected, one urgent, a stranger, an out-of-office), reminders, escalation,
bulletin. Then every job runs again and nothing new is sent.
"""

from __future__ import annotations

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

    # Requests: 3 assigned from reports, 1 urgent; 刘洋 works SQ-2026-0001 by mail (2 acks, 1 answer to GD);
    # the other three run late: assignee reminded, then the department head (6 notices).
    # A visit to S001: the notice, four briefing reminders, the summary request; BJ's summary is filed (one
    # acknowledgement) and its two follow-up actions are sent to their owners.
    assert kinds(app) == Counter({"request": 6, "reminder": 9, "escalation": 3, "ack": 4, "error_reply": 1,
                                  "urgent_forward": 1, "urgent_ack": 1, "operator": 1, "bulletin": 1,
                                  "request_notice": 9, "request_update_ack": 2, "request_answer": 1,
                                  "visit_notice": 1, "visit_brief": 4, "visit_summary_request": 1,
                                  "visit_reply": 1, "visit_followup": 2})
    with app.sessions() as s:
        statuses = Counter(s.scalars(select(InboundMessage.status)))
        assert statuses == Counter({"processed": 8, "answered": 1, "ignored": 1, "quarantined": 1})
        sent = Counter(s.scalars(select(OutboxMail.status)))
        assert sent == Counter({"sent": 48})
    outbox_dir = app.settings.path(app.settings.outbox.path) / "new"
    assert len(list(outbox_dir.iterdir())) == 48

    # The escalations went to the leaders of the three units that had not reported by the 27th.
    with app.sessions() as s:
        esc = s.scalars(select(OutboxMail.recipients).where(OutboxMail.kind == "escalation")).all()
    assert sorted(r.split(",")[0] for r in esc) == ["fengjj@sx.example.cn", "hewb@xj.example.cn", "yanggd@sc.example.cn"]

    pdf = bulletin_path(app, "2026-11")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for expected in ("重点客户月报", "广东分公司", "按时", "逾期", "未报", "四川分公司",
                     "客户子公司拖欠气款约1.2亿元", "榆林化工项目", "北京市拟出台燃气价格联动新政"):
        assert expected in text, expected
    assert "较大" not in text  # BJ's rejected first version never reaches the bulletin
    flat = "".join(text.split())
    assert "七、诉求办理情况" in text and "本月新登记4件，本月答复1件，当前逾期未办3件。" in flat

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
