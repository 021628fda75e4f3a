"""Requests (诉求) from report to answer, by e-mail only, on the embedded default (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from mailbot.app import App
from mailbot.db.models import OutboxMail
from mailbot.demo import replies
from mailbot.requests.schedule import chase_overdue, weekly_digest
from mailbot.requests.store import list_requests
from tests.support.mailflow import (
    CHENJING,
    GD,
    HQ,
    LIUYANG,
    NEEDS_HQ,
    answer_to,
    arrive,
    latest,
    outbox,
    report,
    request,
    text,
)


def test_a_request_lives_its_whole_life_by_email(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # Raised in GD's report → assigned to S001's HQ staff → in progress → transferred → answered to GD → closed.
    clock.set(2026, 11, 18, 10)
    report(app, NEEDS_HQ)
    (row,) = list_requests(app)
    number = str(row["number"])
    assert (row["assignee"], row["customer"], row["status"]) == ("liuyang@hq.example.cn", "S001", "new")
    notice = latest(app, f"req-notice:{number}:assigned")
    assert notice.recipients == "liuyang@hq.example.cn" and number in notice.subject
    assert "请总部协调2027年冬季保供气量。" in text(notice) and "状态：处理中" in text(notice)

    clock.set(2026, 11, 19, 9)
    assert [o.status for o in answer_to(app, notice, LIUYANG, "状态：处理中")] == ["processed"]
    assert request(app, number).status == "in_progress"
    assert "状态改为“处理中”" in text(latest(app, "req-ack:"))

    clock.set(2026, 11, 19, 10)
    answer_to(app, notice, LIUYANG, "转交：chenjing@hq.example.cn\n请陈静跟进。")
    assert request(app, number).assignee.email == "chenjing@hq.example.cn"  # type: ignore[union-attr]
    handed = latest(app, f"req-notice:{number}:transfer:")
    assert handed.recipients == "chenjing@hq.example.cn"

    clock.set(2026, 11, 20, 15)
    answer_to(app, handed, CHENJING, "答复：已与国家电网总部沟通，冬季保供气量增加2000万方。")
    answered = latest(app, f"req-answer:{number}:")
    assert answered.recipients == "liming@gd.example.cn"
    assert "已与国家电网总部沟通，冬季保供气量增加2000万方。" in text(answered)
    r = request(app, number)
    assert r.status == "answered" and r.answer == "已与国家电网总部沟通，冬季保供气量增加2000万方。"

    clock.set(2026, 11, 21, 9)
    answer_to(app, handed, CHENJING, "关闭")
    r = request(app, number)
    assert r.status == "closed"
    assert [e.action for e in r.events] == ["created", "status", "transfer", "answer", "close"]
    assert [e.actor for e in r.events][1:] == ["liuyang@hq.example.cn"] * 2 + ["chenjing@hq.example.cn"] * 2


def test_overdue_chain_reminds_assignee_then_head_once_each(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # Ten working days pass unanswered: the assignee is reminded; three more days and the department head; never
    # twice. Working days: raised Wednesday 11-18 10:00, due Wednesday 12-02 10:00 (two weekends do not count).
    clock.set(2026, 11, 18, 10)
    report(app, NEEDS_HQ)
    number = str(list_requests(app)[0]["number"])
    assert list_requests(app)[0]["due_at"] == "2026-12-02T10:00+08:00"
    clock.set(2026, 12, 3, 11)  # one day and an hour late
    chase_overdue(app)
    chase_overdue(app)
    assert latest(app, f"req-overdue:{number}:assignee").recipients == "liuyang@hq.example.cn"
    assert list_requests(app, overdue_only=True)[0]["overdue_days"] == 1
    clock.set(2026, 12, 7, 9)
    chase_overdue(app)
    chase_overdue(app)
    head = latest(app, f"req-overdue:{number}:head")
    assert head.recipients == "zhangwei@hq.example.cn" and "督办" in text(head)
    with app.sessions() as s:
        keys = s.scalars(select(OutboxMail.idem_key).where(OutboxMail.idem_key.like("req-overdue:%"))).all()
    assert sorted(keys) == [f"req-overdue:{number}:assignee", f"req-overdue:{number}:head"]


def test_a_unit_cannot_command_a_request(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # GD's contact replies "关闭" to HQ's answer: politely refused, the operator told, the text kept as a comment.
    clock.set(2026, 11, 18, 10)
    report(app, NEEDS_HQ)
    number = str(list_requests(app)[0]["number"])
    answer_to(app, latest(app, f"req-notice:{number}:assigned"), LIUYANG, "答复：已安排。")
    outcome = answer_to(app, latest(app, f"req-answer:{number}:"), GD, "好的，谢谢。\n关闭")
    assert [o.status for o in outcome] == ["answered"]
    assert request(app, number).status == "answered"
    assert "只能由总部承办人员使用" in text(latest(app, "req-refused:"))
    assert latest(app, "operator:req-refused:").recipients == app.settings.operator
    assert request(app, number).events[-1].action == "comment"


def test_the_same_matter_reported_again_is_merged(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # December's report asks HQ about S001 again while November's request is open: one request, two reports.
    clock.set(2026, 11, 18, 10)
    report(app, NEEDS_HQ)
    clock.set(2026, 12, 16, 10)
    report(app, {"S001": {"4": "保供气量仍未落实，请总部尽快协调。", "需总部协调": "是"}})
    (row,) = list_requests(app)
    r = request(app, str(row["number"]))
    assert [e.action for e in r.events] == ["created", "reported_again"]
    assert r.events[-1].detail == "保供气量仍未落实，请总部尽快协调。"


def test_a_follow_up_to_an_urgent_matter_is_a_comment_not_a_new_alarm(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # GD replies to its urgent acknowledgement with news: added to the request and passed to the assignee.
    clock.set(2026, 11, 19, 8)
    arrive(app, replies.build(sender=GD, to=HQ, at=app.now(), subject="【紧急】S001 支线泄漏",
                                body="今晨S001供气支线泄漏，已关阀抢修。"))
    (row,) = list_requests(app)
    number = str(row["number"])
    clock.set(2026, 11, 19, 11)
    outcome = answer_to(app, latest(app, "urgent-ack:"), GD, "抢修完成，已恢复供气。")
    assert [o.status for o in outcome] == ["processed"]
    assert len(list_requests(app)) == 1
    note = latest(app, f"req-notice:{number}:comment:")
    assert note.recipients == "liuyang@hq.example.cn" and "抢修完成，已恢复供气。" in text(note)


def test_hq_mail_about_no_request_is_quarantined(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # An HQ staff member writes to the bot about nothing it knows: set aside for the operator.
    clock.set(2026, 11, 19, 8)
    (o,) = arrive(app, replies.build(sender=LIUYANG, to=HQ, at=app.now(), subject="测试", body="你好"))
    assert o.status == "quarantined"


def test_requests_listing_filters(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # `mailbot requests --unit GD --customer S001 --assignee liuyang` finds it; another unit does not.
    clock.set(2026, 11, 18, 10)
    report(app, NEEDS_HQ)
    assert len(list_requests(app, unit="GD", customer="S001", assignee="liuyang")) == 1
    assert list_requests(app, unit="BJ") == []
    clock.now += timedelta(days=30)
    assert list_requests(app, overdue_only=True)[0]["overdue_days"] > 0


def test_urgent_forward_carries_the_customers_open_requests_and_last_report(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # An urgent mail about S001 reaches 刘洋 with S001's open request and what units reported on it last.
    clock.set(2026, 11, 18, 10)
    report(app, NEEDS_HQ)
    clock.set(2026, 11, 19, 8)
    arrive(app, replies.build(sender=GD, to=HQ, at=app.now(), subject="【紧急】国家电网支线泄漏",
                                body="S001 供气支线泄漏，已关阀。"))
    body = text(latest(app, "urgent:"))
    assert "该客户尚未办结的诉求" in body and "请总部协调2027年冬季保供气量。" in body
    assert "该客户最近一期月报（2026-11）" in body and "广东分公司 风险等级：一般" in body


def test_a_unit_asks_where_its_request_stands_and_sees_no_internal_note(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # 刘洋 starts work and writes an internal note; GD's contact replies "查询" to the acknowledgement's 诉求 number:
    # the answer shows the status, the 承办人, the due date and the history — without the note — and bothers no one.
    clock.set(2026, 11, 18, 10)
    report(app, NEEDS_HQ)
    notice = latest(app, "req-notice:SQ-2026-0001:assigned")
    clock.set(2026, 11, 19, 9)
    answer_to(app, notice, LIUYANG, "状态：处理中\n备注：内部：客户总部态度消极，暂不告知单位。")
    clock.set(2026, 11, 20, 9)
    answer_to(app, latest(app, "ack:"), GD, "查询 SQ-2026-0001", subject="回复：SQ-2026-0001 办理情况")
    (status,) = outbox(app, kind="request_status")
    said = text(status)
    assert status.recipients == GD[1] and "SQ-2026-0001" in status.subject and "处理中" in status.subject
    assert "承办：刘洋" in said and "状态变更" in said and "客户总部态度消极" not in said
    assert len(outbox(app, "req-notice:SQ-2026-0001:comment")) == 0


def test_the_weeks_first_working_day_brings_each_assignee_their_open_requests_and_the_head_the_board(
        app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # Two 诉求 for 刘洋 and one for 陈静, all overdue by 7 December. Friday: nothing. Monday 08:00: nothing yet; 09:00:
    # one mail each, overdue first, and the board to 张伟 (部门负责人); again at 10:00: nothing new.
    clock.set(2026, 11, 18, 10)
    report(app, {**NEEDS_HQ, "S003": {"4": "请总部与华润燃气总部沟通欠款。", "风险等级": "重大", "需总部协调": "是"},
                 "S002": {"4": "请协调LNG接收站窗口期。", "风险等级": "一般", "需总部协调": "是"}})
    clock.set(2026, 12, 4, 9)  # a Friday
    weekly_digest(app)
    assert outbox(app, kind="request_digest") == []
    clock.set(2026, 12, 7, 8)  # Monday, before the hour
    weekly_digest(app)
    assert outbox(app, kind="request_digest") == []
    clock.set(2026, 12, 7, 9)
    weekly_digest(app)
    clock.set(2026, 12, 7, 10)
    weekly_digest(app)
    mails = {m.recipients: m for m in outbox(app, kind="request_digest")}
    assert set(mails) == {"liuyang@hq.example.cn", "chenjing@hq.example.cn", "zhangwei@hq.example.cn"}
    assert "您待办诉求 2 件，其中逾期 2 件" in mails["liuyang@hq.example.cn"].subject
    board = text(mails["zhangwei@hq.example.cn"])
    assert "全部待办诉求 3 件" in mails["zhangwei@hq.example.cn"].subject and "承办人：陈静" in board
