"""Visits (§7) after the day: the summary by reply, follow-ups chased until done — replies arrive as real mail
through the intake pipeline, on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mailbot.app import App
from mailbot.archive.dossier import customer_archive, render_dossier_pdf
from mailbot.daemon.calendar import tick
from mailbot.db.models import Unit, Visit
from mailbot.demo import replies
from mailbot.reports.schedule import send_requests
from mailbot.visits.matters import open_follow_ups
from mailbot.visits.schedule import visit_jobs
from mailbot.visits.store import plan_visit
from tests.support.mailflow import (
    HQ,
    LIUYANG,
    SUMMARY,
    SUNYUE,
    WANGJING,
    answer_to,
    arrive,
    event,
    invitation,
    one,
    parsed,
    pdf_text,
    text,
    write_plan,
)


def keys(plan: Any) -> list[str]:
    return [k for k, _, _ in plan.queued]


def visit_row(app: App) -> Visit:
    with app.sessions() as s:
        v = s.scalars(select(Visit)).one()
        _ = (v.follow_ups, v.notes)
        return v


def test_a_visit_from_plan_to_the_last_follow_up_done(app: App, clock: Any, tmp_path: Path) -> None:
    # Plan → change → briefing reminders → summary asked after the visit → BJ replies with the form → two
    # follow-ups chased before and after their due dates → progress and "done" by reply → the archive PDF.
    path = write_plan(tmp_path / "v.yaml")
    plan_visit(app, path)
    assert keys(visit_jobs(app)) == []  # 11-13: the notice itself was the first word
    write_plan(path, place="国家电网有限公司总部第一会议室")
    assert keys(plan_visit(app, path).plan) == ["visit:VIS-2026-0001:notice:seq1"]
    assert "地点由“国家电网有限公司总部（北京市西城区西长安街86号）第三会议室”改为“国家电网有限公司总部第一会议室”" \
        in text(one(app, "visit:VIS-2026-0001:notice:seq1"))
    assert str(event(invitation(one(app, "visit:VIS-2026-0001:notice:seq1")))["LOCATION"]) == "国家电网有限公司总部第一会议室"

    clock.set(2026, 11, 16, 9)  # Monday: items due 11-17 and 11-18 are reminded (the weekend moves nothing later)
    assert keys(visit_jobs(app)) == [f"visit:VIS-2026-0001:brief:{i}:2026-11-1{7 if i < 4 else 8}"
                                             for i in (1, 2, 3, 4)]
    assert keys(visit_jobs(app)) == []
    brief = one(app, "visit:VIS-2026-0001:brief:2:2026-11-17")
    assert brief.recipients == "liming@gd.example.cn,liuyang@hq.example.cn"
    assert "广东地区2026年供气执行情况及今冬保供预案" in text(brief) and "2026年11月17日前完成" in text(brief)

    clock.set(2026, 11, 20, 11, 0)  # still in the meeting: no summary request yet
    assert keys(visit_jobs(app)) == []
    clock.set(2026, 11, 20, 14, 0)
    assert keys(visit_jobs(app)) == ["visit:VIS-2026-0001:summary-request"]
    request = one(app, "visit:VIS-2026-0001:summary-request")
    assert request.recipients == "sunyue@bj.example.cn,zhoukai@bj.example.cn,liuyang@hq.example.cn"
    assert request.subject == "[拜访纪要] 11月20日拜访国家电网有限公司，请回复纪要 [VIS-2026-0001]"
    assert "【拜访纪要填报单】\n拜访编号：VIS-2026-0001" in text(request)

    clock.set(2026, 11, 23, 10)
    (o,) = answer_to(app, request, SUNYUE, SUMMARY)
    assert (o.status, o.note) == ("processed", "VIS-2026-0001: summary filed by sunyue@bj.example.cn, 2 follow-up(s)")
    v = visit_row(app)
    assert v.status == "done" and v.summary is not None and v.summary.startswith("双方就2027年度合同量")
    assert v.agreed == "1. 2027年度合同量按增长8%测算，12月底前完成续签。\n2. 今冬保供实行日调度、周通报。"
    assert [(f.text, f.owner_email, f.due) for f in v.follow_ups] == [
        ("提供北京地区2027年分月用气需求预测", "sunyue@bj.example.cn", date(2026, 12, 10)),
        ("价格机制调整方案报集团审议", "liuyang@hq.example.cn", date(2026, 12, 15))]
    f1, f2 = (f.id for f in v.follow_ups)
    ack = one(app, f"visit-reply:{o.inbound_id}")
    assert ack.recipients == "sunyue@bj.example.cn,zhoukai@bj.example.cn,liuyang@hq.example.cn"
    assert ack.subject.startswith("[拜访纪要已归档]")
    assert ("VIS-2026-0001-2　价格机制调整方案报集团审议\n      责任人：刘洋（资源与市场部）　完成时限：2026年12月15日"
            "　状态：办理中") in text(ack)
    assert one(app, f"followup:{f2}:assigned").recipients == "liuyang@hq.example.cn"
    clock.set(2026, 11, 24, 10)
    assert keys(visit_jobs(app)) == []  # summary filed: no reminder; follow-ups not due yet

    with app.sessions() as s:  # the unit's next monthly request lists its open action above the form
        bj = s.scalars(select(Unit).where(Unit.code == "BJ")).one()
        (item,) = open_follow_ups(s, bj, today=date(2026, 12, 15))
    assert item["customer_code"] == "S001" and item["status"] == "已逾期5天"
    assert item["summary"] == "VIS-2026-0001-1 拜访后续事项：提供北京地区2027年分月用气需求预测（责任人孙悦，12月10日前完成）"

    clock.set(2026, 12, 7, 9)  # Monday, T-3 of 12-10
    assert keys(visit_jobs(app)) == [f"followup:{f1}:chase:2026-12-10:T-3"]
    chase = one(app, f"followup:{f1}:chase:2026-12-10:T-3")
    assert chase.recipients == "sunyue@bj.example.cn" and chase.subject.startswith("[后续事项提醒]")
    assert "【后续事项进展】\n事项编号：VIS-2026-0001-1" in text(chase)

    clock.set(2026, 12, 8, 15)
    filled = text(chase).replace("进展情况：", "进展情况：预测初稿已完成，正在与客户核对。")
    (o,) = answer_to(app, chase, SUNYUE, filled, quote=False)
    assert o.note == "VIS-2026-0001-1: progress from sunyue@bj.example.cn"
    assert "进展已记入客户档案" in text(one(app, f"visit-reply:{o.inbound_id}"))

    clock.set(2026, 12, 11, 9)  # Friday: f1 is a day late (HQ owner in copy); f2's T-3 (12-12 is a Saturday)
    assert keys(visit_jobs(app)) == [f"followup:{f1}:chase:2026-12-10:D+1",
                                             f"followup:{f2}:chase:2026-12-15:T-3"]
    late = one(app, f"followup:{f1}:chase:2026-12-10:D+1")
    assert late.recipients == "sunyue@bj.example.cn,liuyang@hq.example.cn"
    assert late.subject.startswith("[后续事项逾期]") and "已逾期1天" in text(late)

    clock.set(2026, 12, 11, 16)
    (o,) = answer_to(app, late, SUNYUE, "已完成。\n预测表已发刘洋。")
    assert o.note == "VIS-2026-0001-1: done from sunyue@bj.example.cn"
    done_ack = one(app, f"visit-reply:{o.inbound_id}")
    assert done_ack.recipients == "sunyue@bj.example.cn,liuyang@hq.example.cn"
    assert "尚有1项后续事项在办理中" in text(done_ack)

    clock.set(2026, 12, 14, 10)
    (o,) = answer_to(app, one(app, f"followup:{f2}:assigned"), LIUYANG,
                     "【后续事项进展】\n事项编号：VIS-2026-0001-2\n进展情况：集团已审议通过。\n是否完成（是/否）：是\n【填报结束】")
    assert o.note == "VIS-2026-0001-2: done from liuyang@hq.example.cn"
    assert "本次拜访的后续事项已全部完成" in text(one(app, f"visit-reply:{o.inbound_id}"))

    v = visit_row(app)
    assert [f.status for f in v.follow_ups] == ["done", "done"]
    assert [(n.author, n.text) for n in v.notes if n.follow_up_id] == [
        ("sunyue@bj.example.cn", "预测初稿已完成，正在与客户核对。"),
        ("sunyue@bj.example.cn", "已完成。\n预测表已发刘洋。"),
        ("liuyang@hq.example.cn", "集团已审议通过。")]
    clock.set(2026, 12, 21, 9)
    assert keys(visit_jobs(app)) == []

    printed = " ".join(pdf_text(render_dossier_pdf(customer_archive(app, "S001")), tmp_path).split())
    for expected in ("客户档案", "S001 国家电网有限公司", "无未完成的后续事项和诉求。", "拜访与来访", "纪要已归档",
                     "国家电网有限公司总部第一会议室", "双方就2027年度合同量、价格机制和今冬明春保供安排进行了会谈。",
                     "VIS-2026-0001-1", "预测初稿已完成，正在与客户核对。", "VIS-2026-0001-2", "集团已审议通过。",
                     "变更：地点由"):
        assert expected in printed, expected


def test_a_summary_with_mistakes_is_answered_with_each_problem_and_the_form_back(
        app: App, clock: Any, tmp_path: Path) -> None:
    # An action with no owner and a due date nobody can read: refused, nothing filed, the answers quoted back.
    plan_visit(app, write_plan(tmp_path / "v.yaml"))
    clock.set(2026, 11, 20, 14)
    visit_jobs(app)
    request = one(app, "visit:VIS-2026-0001:summary-request")
    wrong = SUMMARY.replace("责任人：孙悦\n", "责任人：\n").replace("12月15日前", "下周")
    (o,) = answer_to(app, request, SUNYUE, wrong)
    assert o.status == "answered"
    reply = text(one(app, f"visit-reply:{o.inbound_id}"))
    assert "1. 位置：后续事项1 / 责任人 — 问题：“提供北京地区2027年分月用气需求预测”未写责任人（姓名或邮箱）" in reply
    assert "2. 位置：后续事项2 / 完成时限 — 问题：无法识别的日期“下周”，请写作2026-12-15" in reply
    assert "事项：价格机制调整方案报集团审议" in reply  # the sender's answers are kept
    v = visit_row(app)
    assert v.status == "planned" and v.summary is None and v.follow_ups == []

    clock.set(2026, 11, 25, 9)  # D+3 (11-23 is a Monday): the summary is chased in the request's thread
    assert keys(visit_jobs(app)) == ["visit:VIS-2026-0001:summary-reminder:D+3"]
    reminder = one(app, "visit:VIS-2026-0001:summary-reminder:D+3")
    assert reminder.subject.startswith("[拜访纪要提醒]") and "已结束5天" in text(reminder)
    assert parsed(reminder)["In-Reply-To"] == request.message_id


def test_the_form_filled_inside_the_quote_is_read_and_an_unknown_owner_falls_to_the_hq_owner(
        app: App, clock: Any, tmp_path: Path) -> None:
    # 刘洋 fills the quoted form (hint lines left in place) and names an owner nobody knows: filed, with a warning.
    plan_visit(app, write_plan(tmp_path / "v.yaml"))
    clock.set(2026, 11, 21, 9)
    visit_jobs(app)
    request = one(app, "visit:VIS-2026-0001:summary-request")
    form = text(request)
    form = form.replace("（会谈的主要内容，可分条填写）", "（会谈的主要内容，可分条填写）\n双方确认保供安排。")
    form = form.replace("（双方达成一致的事项；没有请填“无”）", "（双方达成一致的事项；没有请填“无”）\n无")
    form = form.replace("【后续事项1】\n事项：\n责任人：\n完成时限：",
                        "【后续事项1】\n事项：报送保供日调度表\n责任人：客户营销部王建国\n完成时限：2026年12月1日")
    quoted = "\n".join("> " + line for line in form.splitlines())
    raw = replies.build(sender=LIUYANG, to=HQ, subject=f"回复：{request.subject}", at=app.now(),
                          body=f"见下。\n\n在 2026年11月21日 08:00，总部资源与市场部 <{HQ}> 写道：\n{quoted}",
                          in_reply_to=request.message_id)
    (o,) = arrive(app, raw)
    assert o.status == "processed"
    v = visit_row(app)
    assert (v.summary, v.agreed) == ("双方确认保供安排。", None)
    (fu,) = v.follow_ups
    assert (fu.owner, fu.owner_email, fu.unit_id, fu.due) == ("客户营销部王建国", None, None, date(2026, 12, 1))
    ack = text(one(app, f"visit-reply:{o.inbound_id}"))
    assert "后续事项1的责任人“客户营销部王建国”不在名录中，提醒将发给总部对接人刘洋" in ack
    assert one(app, f"followup:{fu.id}:assigned").recipients == "liuyang@hq.example.cn"


def test_strangers_and_calendar_answers_are_not_taken_as_visit_mail(app: App, clock: Any, tmp_path: Path) -> None:
    # SC's contact writes about BJ's visit: quarantined. Outlook's "已接受:" answer to the invitation: ignored.
    plan_visit(app, write_plan(tmp_path / "v.yaml"))
    notice = one(app, "visit:VIS-2026-0001:notice:seq0")
    (o,) = arrive(app, replies.build(sender=WANGJING, to=HQ, at=app.now(), subject="关于 VIS-2026-0001 的意见",
                                       body="我单位也想参加。"))
    assert o.status == "quarantined"
    (o,) = answer_to(app, notice, ("李明", "liming@gd.example.cn"), "", subject=f"已接受: {notice.subject}")
    assert (o.status, o.note) == ("ignored", "VIS-2026-0001: calendar response")
    (o,) = answer_to(app, notice, ("李明", "liming@gd.example.cn"), "收到，广东分公司材料将按时报送。")
    assert (o.status, o.note) == ("processed", "VIS-2026-0001: comment from liming@gd.example.cn")
    assert [n.text for n in visit_row(app).notes] == ["收到，广东分公司材料将按时报送。"]


def test_a_summary_sent_as_an_attachment_is_answered_with_how_to_fill_the_form(
        app: App, clock: Any, tmp_path: Path) -> None:
    # "纪要见附件" quoting the blank form: kept as a comment, and the sender is told to fill the form in the mail.
    plan_visit(app, write_plan(tmp_path / "v.yaml"))
    clock.set(2026, 11, 20, 14)
    visit_jobs(app)
    (o,) = answer_to(app, one(app, "visit:VIS-2026-0001:summary-request"), SUNYUE, "纪要见附件。")
    assert (o.status, o.note) == ("answered", "VIS-2026-0001: summary form left blank; told how to fill it")
    reply = one(app, f"visit-reply:{o.inbound_id}")
    assert reply.subject.startswith("[拜访纪要请修改]") and "纪要填报单中没有填写内容" in text(reply)
    assert "【拜访纪要填报单】" in text(reply)
    v = visit_row(app)
    assert v.status == "planned" and [n.text for n in v.notes] == ["纪要见附件。"]

def test_once_wired_the_daemon_chases_visits_and_the_monthly_request_lists_open_actions(
        app: App, clock: Any, tmp_path: Path) -> None:
    # The daemon's tick asks for the summary; December's request to BJ lists 孙悦's open action above the form.
    plan_visit(app, write_plan(tmp_path / "v.yaml"))
    clock.set(2026, 11, 20, 14)
    assert "visit:VIS-2026-0001:summary-request" in keys(tick(app))
    clock.set(2026, 11, 23, 10)
    answer_to(app, one(app, "visit:VIS-2026-0001:summary-request"), SUNYUE, SUMMARY)
    send_requests(app, "2026-12")
    said = text(one(app, "request:2026-12:BJ"))
    line = "· S001 国家电网有限公司：VIS-2026-0001-1 拜访后续事项：提供北京地区2027年分月用气需求预测（责任人孙悦，12月10日前完成）（办理中）"
    assert line in said and said.index(line) < said.index("【重点客户月报填报单】")
    assert "VIS-2026-0001-2" not in said  # 刘洋's action is HQ's, not BJ's


def test_an_attendees_calendar_answer_is_noted_on_the_visit(app: App, tmp_path: Path) -> None:
    # Outlook answers the invitation with an iTIP REPLY (text/calendar; method=REPLY): 李明 accepted, 吴昊 declined.
    plan_visit(app, write_plan(tmp_path / "v.yaml"))
    notice = one(app, "visit:VIS-2026-0001:notice:seq0")
    uid = str(event(invitation(notice))["UID"])
    for (name, addr), status, subject in ((("李明", "liming@gd.example.cn"), "ACCEPTED", "已接受"),
                                          (("吴昊", "wuhao@js.example.cn"), "DECLINED", "已拒绝")):
        reply = email.message_from_bytes(replies.build(sender=(name, addr), to=HQ, at=app.now(),
                                                       subject=f"{subject}: {notice.subject}", body=""),
                                         policy=email.policy.SMTP)
        ics = (f"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nPRODID:Microsoft Exchange Server 2010\r\nVERSION:2.0\r\n"
               f"BEGIN:VEVENT\r\nATTENDEE;PARTSTAT={status};CN={name}:mailto:{addr.upper()}\r\nUID:{uid}\r\n"
               f"SEQUENCE:0\r\nDTSTAMP:20261114T010000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        reply.set_content(ics, subtype="calendar", params={"method": "REPLY"})
        (o,) = arrive(app, reply.as_bytes())
        assert (o.status, o.note) == ("processed", f"VIS-2026-0001: {addr} {status}")
    assert [(n.author, n.text) for n in visit_row(app).notes] == [
        ("liming@gd.example.cn", "日程答复：已接受"), ("wuhao@js.example.cn", "日程答复：已拒绝")]
