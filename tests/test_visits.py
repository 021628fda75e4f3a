"""Visits (§7): plan → notice with calendar invitation → change → cancel; summary by reply → follow-ups chased.

Everything runs on the embedded default (Maildir + SQLite, and PostgreSQL), through the same functions the
CLI and the daemon call; replies arrive as real mail through the intake pipeline.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from icalendar import Calendar
from sqlalchemy import select

from mailbot.app import App
from mailbot.db.models import OutboxMail, Visit
from mailbot.visits.plan import PlanError, Refs, check_references, parse_plan
from mailbot.visits.store import cancel_visit, plan_visit

TZ = ZoneInfo("Asia/Shanghai")
EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "visit.example.yaml"


def at(*a: int) -> datetime:
    return datetime(*a, tzinfo=TZ)  # type: ignore[misc]


def write_plan(path: Path, **changes: Any) -> Path:
    """The example plan with some keys changed (None removes a key)."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def mails(app: App, prefix: str) -> list[OutboxMail]:
    with app.sessions() as s:
        return list(s.scalars(select(OutboxMail).where(OutboxMail.idem_key.like(prefix + "%")).order_by(OutboxMail.id)))


def one(app: App, key: str) -> OutboxMail:
    """The mail queued under exactly this key."""
    rows = [r for r in mails(app, key) if r.idem_key == key]
    assert len(rows) == 1, f"no mail {key}; queued: {[r.idem_key for r in mails(app, '')]}"
    return rows[0]


def parsed(row: OutboxMail) -> EmailMessage:
    return email.message_from_bytes(row.raw, policy=email.policy.default)  # type: ignore[return-value]


def body(row: OutboxMail) -> str:
    return parsed(row).get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]


def invitation(row: OutboxMail) -> Calendar:
    (part,) = [p for p in parsed(row).iter_attachments() if p.get_content_type() == "text/calendar"]
    raw = part.get_payload(decode=True)
    assert isinstance(raw, bytes)
    cal = Calendar.from_ical(raw)
    assert part.get_param("method") == cal["METHOD"]  # clients offer accept/decline only when the part says it
    return cal


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """A PDF's text as pdftotext reads it (layout kept)."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def event(cal: Calendar) -> Any:
    (ev,) = cal.walk("VEVENT")
    return ev


# --- the plan file -------------------------------------------------------------------------------


def test_the_example_plan_reads_as_a_visit_to_s001() -> None:
    # The shipped example is a valid plan: outgoing, S001, 09:30–11:30 Beijing time, three units, four briefing items.
    plan = parse_plan(EXAMPLE.read_text(encoding="utf-8"), "config/visit.example.yaml", TZ)
    assert (plan.kind, plan.customer, plan.units, plan.responsible_unit) == (
        "outgoing", "S001", ("BJ", "GD", "JS"), "BJ")
    assert (plan.starts, plan.ends) == (at(2026, 11, 20, 9, 30), at(2026, 11, 20, 11, 30))
    assert [c.preparer for c in plan.briefing] == ["BJ", "GD", "JS", "liuyang"]
    assert check_references(plan, Refs(customers=frozenset({"S001"}), units=frozenset({"BJ", "GD", "JS"}),
                                       staff=frozenset({"liuyang", "zhangwei"}))) == []


def test_every_mistake_in_a_plan_is_named_by_file_and_key() -> None:
    # An unquoted time, a bad date, a misspelt key and a missing place: one run lists all four.
    text = "kind: outgoing\ncustomer: S001\ntopic: 会谈\ndate: 2026-13-01\ntime: 14:00\nhq_owner: liuyang\n" \
           "units: [GD]\nplce: 北京\nbriefing:\n  - {item: 材料, preparer: GD, due: 11/17}\n"
    with pytest.raises(PlanError) as e:
        parse_plan(text, "v.yaml", TZ)
    problems = "\n".join(e.value.problems)
    assert "v.yaml: plce: 未知的键" in problems
    assert "v.yaml: place: 必须填写" in problems
    assert "v.yaml: date: 日期应写作 2026-11-20，写的是“2026-13-01”" in problems
    assert "v.yaml: time: 应写作 \"09:30-11:30\"，写的是“14:00”" in problems
    assert "v.yaml: briefing.0.due: 日期应写作" in problems


def test_names_the_directory_does_not_know_are_refused() -> None:
    # Customer S999, unit HN and preparer "nobody" are not in the directory; a briefing due after the visit is wrong.
    plan = parse_plan(EXAMPLE.read_text(encoding="utf-8").replace("customer: S001", "customer: S999")
                      .replace("units: [BJ, GD, JS]", "units: [BJ, HN]").replace("preparer: JS", "preparer: nobody")
                      .replace("due: 2026-11-18", "due: 2026-11-21"), "v.yaml", TZ)
    refs = Refs(customers=frozenset({"S001"}), units=frozenset({"BJ", "GD", "JS"}), staff=frozenset({"liuyang"}))
    problems = check_references(plan, refs)
    assert "v.yaml: customer: 客户 S999 不在客户名录中（config/directory.yaml）" in problems
    assert "v.yaml: units.1: 单位代码 HN 不在名录中" in problems
    assert any(p.startswith("v.yaml: briefing.2.preparer: “nobody”") for p in problems)
    assert "v.yaml: briefing.3.due: 完成日期 2026-11-21 晚于拜访日期" in problems


# --- notice, change, cancel ----------------------------------------------------------------------


def test_plan_sends_a_notice_with_an_invitation_and_the_checklist(app: App, tmp_path: Path) -> None:
    # `mailbot visit plan` records VIS-2026-0001 and mails the three units, HQ attendees and preparers with an .ics.
    outcome = plan_visit(app, write_plan(tmp_path / "v.yaml"))
    assert (outcome.number, outcome.action) == ("VIS-2026-0001", "created")
    row = one(app, "visit:VIS-2026-0001:notice:seq0")
    msg = parsed(row)
    assert msg["To"] == "sunyue@bj.example.cn, zhoukai@bj.example.cn, liming@gd.example.cn, wuhao@js.example.cn"
    assert msg["Cc"] == "liuyang@hq.example.cn, zhangwei@hq.example.cn, zhenght@bj.example.cn"
    assert row.subject == "[拜访通知] 11月20日 S001 国家电网有限公司：2027年度天然气购销合同续签及今冬明春保供工作会谈 [VIS-2026-0001]"
    text = body(row)
    assert "时间：2026年11月20日（星期五）09:30—11:30" in text
    assert "1. 国家电网系统近三年购气量及2026年合同执行情况（北京分公司，11月17日前完成）" in text
    assert "· 张伟（资源与市场部 大客户处处长）" in text

    cal = invitation(row)
    ev = event(cal)
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(ev["UID"]) == "VIS-2026-0001@hq.example.cn" and int(ev["SEQUENCE"]) == 0
    assert ev.decoded("DTSTART") == at(2026, 11, 20, 9, 30) and ev.decoded("DTEND") == at(2026, 11, 20, 11, 30)
    assert ev["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    assert str(ev["ORGANIZER"]) == "mailto:kcr@hq.example.cn"
    attendees = {str(a) for a in ev["ATTENDEE"]}
    assert {"mailto:liming@gd.example.cn", "mailto:liuyang@hq.example.cn", "mailto:zhenght@bj.example.cn"} <= attendees
    assert "国家电网有限公司" in str(ev["SUMMARY"]) and "第三会议室" in str(ev["LOCATION"])

    # The same file again: nothing new is sent.
    assert plan_visit(app, tmp_path / "v.yaml").action == "unchanged"
    assert len(mails(app, "visit:")) == 1


def test_a_change_updates_the_same_calendar_entry_and_a_cancel_removes_it(app: App, tmp_path: Path) -> None:
    # The time moves and JS drops out: SEQUENCE 1 for everyone, a CANCEL for JS; then the visit is cancelled.
    path = write_plan(tmp_path / "v.yaml")
    plan_visit(app, path)
    briefing = [b for b in yaml.safe_load(path.read_text(encoding="utf-8"))["briefing"] if b["preparer"] != "JS"]
    write_plan(path, time="14:00-16:00", units=["BJ", "GD"], briefing=briefing)
    assert plan_visit(app, path).action == "changed"
    changed = one(app, "visit:VIS-2026-0001:notice:seq1")
    assert changed.subject.startswith("[拜访变更] 11月20日 S001")
    assert "时间由2026年11月20日（星期五）09:30—11:30改为2026年11月20日（星期五）14:00—16:00" in body(changed)
    assert "所属单位有调整" in body(changed) and "汇报材料有调整" in body(changed)
    ev = event(invitation(changed))
    assert (str(ev["UID"]), int(ev["SEQUENCE"])) == ("VIS-2026-0001@hq.example.cn", 1)
    assert ev.decoded("DTSTART") == at(2026, 11, 20, 14, 0)
    assert "wuhao@js.example.cn" not in changed.recipients

    removed = one(app, "visit:VIS-2026-0001:notice:seq1:removed")
    assert removed.recipients == "wuhao@js.example.cn"
    assert str(invitation(removed)["METHOD"]) == "CANCEL" and int(event(invitation(removed))["SEQUENCE"]) == 1

    outcome = cancel_visit(app, "VIS-2026-0001", reason="客户临时调整日程")
    assert outcome.action == "cancelled"
    cancel = one(app, "visit:VIS-2026-0001:cancel")
    cal = invitation(cancel)
    assert str(cal["METHOD"]) == "CANCEL"
    assert (str(event(cal)["STATUS"]), int(event(cal)["SEQUENCE"])) == ("CANCELLED", 2)
    assert str(event(cal)["UID"]) == "VIS-2026-0001@hq.example.cn"
    assert cancel.subject.startswith("[拜访取消]") and "原因：客户临时调整日程" in body(cancel)
    assert cancel_visit(app, "VIS-2026-0001").action == "already_cancelled"
    with pytest.raises(PlanError, match="已取消"):
        plan_visit(app, write_plan(path, number="VIS-2026-0001"))


def test_a_dry_run_records_and_sends_nothing(app: App, tmp_path: Path) -> None:
    # --dry-run shows the notice it would queue and leaves no visit and no mail behind.
    outcome = plan_visit(app, write_plan(tmp_path / "v.yaml"), dry_run=True)
    assert [k for k, _, _ in outcome.plan.queued] == ["visit:VIS-2026-0001:notice:seq0"]
    with app.sessions() as s:
        assert s.scalars(select(Visit)).all() == []
    assert mails(app, "") == []


def test_a_customer_visit_to_hq_goes_to_the_reception_list_too(app: App, tmp_path: Path) -> None:
    # 华润燃气 (S003) visits HQ: GD and JS get the notice, and so does the directory's reception list.
    path = write_plan(tmp_path / "in.yaml", kind="incoming", customer="S003", units=["GD", "JS"], responsible_unit=None,
                      place="总部大楼12层第一会议室", hq_owner="chenjing", briefing=None,
                      arrangements=[{"item": "预订第一会议室并布置席卡", "preparer": "zhaolei", "due": date(2026, 11, 19)}])
    plan_visit(app, path)
    row = one(app, "visit:VIS-2026-0001:notice:seq0")
    assert row.subject.startswith("[来访通知] 11月20日 S003 华润燃气控股有限公司")
    assert parsed(row)["To"] == ("liming@gd.example.cn, wuhao@js.example.cn, "
                                 "zhaolei@hq.example.cn, wangfang@hq.example.cn")
    text = body(row)
    assert "华润燃气控股有限公司定于2026年11月20日（星期五）09:30—11:30来总部访问" in text
    assert "会务安排：\n  1. 预订第一会议室并布置席卡（赵磊，11月19日前完成）" in text
    assert "会谈议程：" in text


# --- after the visit: summary by reply, follow-ups chased until done ---------------------------


from mailbot.archive.dossier import customer_archive, render_dossier_pdf
from mailbot.db.models import Unit
from mailbot.demo import replies
from mailbot.mailboxes.maildir import deliver
from mailbot.pipeline import intake

HQ = "kcr@hq.example.cn"
SUNYUE = ("孙悦", "sunyue@bj.example.cn")
LIUYANG = ("刘洋", "liuyang@hq.example.cn")
WANGJING = ("王静", "wangjing@sc.example.cn")

SUMMARY = """【拜访纪要填报单】
拜访编号：VIS-2026-0001
【会谈纪要】
双方就2027年度合同量、价格机制和今冬明春保供安排进行了会谈。
国家电网表示2027年度需求量预计增长8%。
【达成事项】
1. 2027年度合同量按增长8%测算，12月底前完成续签。
2. 今冬保供实行日调度、周通报。
【后续事项1】
事项：提供北京地区2027年分月用气需求预测
责任人：孙悦
完成时限：2026-12-10
【后续事项2】
事项：价格机制调整方案报集团审议
责任人：刘洋（资源与市场部）
完成时限：12月15日前
【后续事项3】
事项：
责任人：
完成时限：
【填报结束】"""


def arrive(app: App, raw: bytes) -> list[intake.Outcome]:
    deliver(app.settings.path(app.settings.mailbox.path), raw, received_at=app.now())
    return intake.run_pass(app)


def answer_to(app: App, row: OutboxMail, sender: tuple[str, str], text: str, *, subject: str | None = None,
              quote: bool = True) -> list[intake.Outcome]:
    """A person replies to one of our mails, Outlook-style: their text on top, our mail quoted below."""
    quoted = "\n".join("> " + line for line in body(row).splitlines()) if quote else ""
    raw = replies.build(sender=sender, to=HQ, subject=subject or f"答复: {row.subject}", at=app.now(),
                          body=f"{text}\n\n-----邮件原件-----\n发件人: 总部资源与市场部 <{HQ}>\n主题: {row.subject}\n\n{quoted}",
                          in_reply_to=row.message_id)
    return arrive(app, raw)


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
        in body(one(app, "visit:VIS-2026-0001:notice:seq1"))
    assert str(event(invitation(one(app, "visit:VIS-2026-0001:notice:seq1")))["LOCATION"]) == "国家电网有限公司总部第一会议室"

    clock.set(2026, 11, 16, 9)  # Monday: items due 11-17 and 11-18 are reminded (the weekend moves nothing later)
    assert keys(visit_jobs(app)) == [f"visit:VIS-2026-0001:brief:{i}:2026-11-1{7 if i < 4 else 8}"
                                             for i in (1, 2, 3, 4)]
    assert keys(visit_jobs(app)) == []
    brief = one(app, "visit:VIS-2026-0001:brief:2:2026-11-17")
    assert brief.recipients == "liming@gd.example.cn,liuyang@hq.example.cn"
    assert "广东地区2026年供气执行情况及今冬保供预案" in body(brief) and "2026年11月17日前完成" in body(brief)

    clock.set(2026, 11, 20, 11, 0)  # still in the meeting: no summary request yet
    assert keys(visit_jobs(app)) == []
    clock.set(2026, 11, 20, 14, 0)
    assert keys(visit_jobs(app)) == ["visit:VIS-2026-0001:summary-request"]
    request = one(app, "visit:VIS-2026-0001:summary-request")
    assert request.recipients == "sunyue@bj.example.cn,zhoukai@bj.example.cn,liuyang@hq.example.cn"
    assert request.subject == "[拜访纪要] 11月20日拜访国家电网有限公司，请回复纪要 [VIS-2026-0001]"
    assert "【拜访纪要填报单】\n拜访编号：VIS-2026-0001" in body(request)

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
            "　状态：办理中") in body(ack)
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
    assert "【后续事项进展】\n事项编号：VIS-2026-0001-1" in body(chase)

    clock.set(2026, 12, 8, 15)
    filled = body(chase).replace("进展情况：", "进展情况：预测初稿已完成，正在与客户核对。")
    (o,) = answer_to(app, chase, SUNYUE, filled, quote=False)
    assert o.note == "VIS-2026-0001-1: progress from sunyue@bj.example.cn"
    assert "进展已记入客户档案" in body(one(app, f"visit-reply:{o.inbound_id}"))

    clock.set(2026, 12, 11, 9)  # Friday: f1 is a day late (HQ owner in copy); f2's T-3 (12-12 is a Saturday)
    assert keys(visit_jobs(app)) == [f"followup:{f1}:chase:2026-12-10:D+1",
                                             f"followup:{f2}:chase:2026-12-15:T-3"]
    late = one(app, f"followup:{f1}:chase:2026-12-10:D+1")
    assert late.recipients == "sunyue@bj.example.cn,liuyang@hq.example.cn"
    assert late.subject.startswith("[后续事项逾期]") and "已逾期1天" in body(late)

    clock.set(2026, 12, 11, 16)
    (o,) = answer_to(app, late, SUNYUE, "已完成。\n预测表已发刘洋。")
    assert o.note == "VIS-2026-0001-1: done from sunyue@bj.example.cn"
    done_ack = one(app, f"visit-reply:{o.inbound_id}")
    assert done_ack.recipients == "sunyue@bj.example.cn,liuyang@hq.example.cn"
    assert "尚有1项后续事项在办理中" in body(done_ack)

    clock.set(2026, 12, 14, 10)
    (o,) = answer_to(app, one(app, f"followup:{f2}:assigned"), LIUYANG,
                     "【后续事项进展】\n事项编号：VIS-2026-0001-2\n进展情况：集团已审议通过。\n是否完成（是/否）：是\n【填报结束】")
    assert o.note == "VIS-2026-0001-2: done from liuyang@hq.example.cn"
    assert "本次拜访的后续事项已全部完成" in body(one(app, f"visit-reply:{o.inbound_id}"))

    v = visit_row(app)
    assert [f.status for f in v.follow_ups] == ["done", "done"]
    assert [(n.author, n.text) for n in v.notes if n.follow_up_id] == [
        ("sunyue@bj.example.cn", "预测初稿已完成，正在与客户核对。"),
        ("sunyue@bj.example.cn", "已完成。\n预测表已发刘洋。"),
        ("liuyang@hq.example.cn", "集团已审议通过。")]
    clock.set(2026, 12, 21, 9)
    assert keys(visit_jobs(app)) == []

    text = " ".join(pdf_text(render_dossier_pdf(customer_archive(app, "S001")), tmp_path).split())
    for expected in ("客户档案", "S001 国家电网有限公司", "无未完成的后续事项和诉求。", "拜访与来访", "纪要已归档",
                     "国家电网有限公司总部第一会议室", "双方就2027年度合同量、价格机制和今冬明春保供安排进行了会谈。",
                     "VIS-2026-0001-1", "预测初稿已完成，正在与客户核对。", "VIS-2026-0001-2", "集团已审议通过。",
                     "变更：地点由"):
        assert expected in text, expected


def test_a_summary_with_mistakes_is_answered_with_each_problem_and_the_form_back(
        app: App, clock: Any, tmp_path: Path) -> None:
    # An action with no owner and a due date nobody can read: refused, nothing filed, the answers quoted back.
    plan_visit(app, write_plan(tmp_path / "v.yaml"))
    clock.set(2026, 11, 20, 14)
    visit_jobs(app)
    request = one(app, "visit:VIS-2026-0001:summary-request")
    text = SUMMARY.replace("责任人：孙悦\n", "责任人：\n").replace("12月15日前", "下周")
    (o,) = answer_to(app, request, SUNYUE, text)
    assert o.status == "answered"
    reply = body(one(app, f"visit-reply:{o.inbound_id}"))
    assert "1. 位置：后续事项1 / 责任人 — 问题：“提供北京地区2027年分月用气需求预测”未写责任人（姓名或邮箱）" in reply
    assert "2. 位置：后续事项2 / 完成时限 — 问题：无法识别的日期“下周”，请写作2026-12-15" in reply
    assert "事项：价格机制调整方案报集团审议" in reply  # the sender's answers are kept
    v = visit_row(app)
    assert v.status == "planned" and v.summary is None and v.follow_ups == []

    clock.set(2026, 11, 25, 9)  # D+3 (11-23 is a Monday): the summary is chased in the request's thread
    assert keys(visit_jobs(app)) == ["visit:VIS-2026-0001:summary-reminder:D+3"]
    reminder = one(app, "visit:VIS-2026-0001:summary-reminder:D+3")
    assert reminder.subject.startswith("[拜访纪要提醒]") and "已结束5天" in body(reminder)
    assert parsed(reminder)["In-Reply-To"] == request.message_id


def test_the_form_filled_inside_the_quote_is_read_and_an_unknown_owner_falls_to_the_hq_owner(
        app: App, clock: Any, tmp_path: Path) -> None:
    # 刘洋 fills the quoted form (hint lines left in place) and names an owner nobody knows: filed, with a warning.
    plan_visit(app, write_plan(tmp_path / "v.yaml"))
    clock.set(2026, 11, 21, 9)
    visit_jobs(app)
    request = one(app, "visit:VIS-2026-0001:summary-request")
    form = body(request)
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
    ack = body(one(app, f"visit-reply:{o.inbound_id}"))
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
    assert reply.subject.startswith("[拜访纪要请修改]") and "纪要填报单中没有填写内容" in body(reply)
    assert "【拜访纪要填报单】" in body(reply)
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
    text = body(one(app, "request:2026-12:BJ"))
    line = "· S001 国家电网有限公司：VIS-2026-0001-1 拜访后续事项：提供北京地区2027年分月用气需求预测（责任人孙悦，12月10日前完成）（办理中）"
    assert line in text and text.index(line) < text.index("【重点客户月报填报单】")
    assert "VIS-2026-0001-2" not in text  # 刘洋's action is HQ's, not BJ's

# --- the forms and the calendar, pure ------------------------------------------------------------

from mailbot.daemon.calendar import tick
from mailbot.domain.workdays import WorkCalendar
from mailbot.reports.schedule import send_requests
from mailbot.visits.ics import Invite, calendar_bytes
from mailbot.visits.matters import open_follow_ups
from mailbot.visits.schedule import visit_jobs
from mailbot.visits.summary_form import parse_due, read_progress, read_summary, render_summary_form
from mailbot.visits.timing import POLICY, brief_day, chase_stage, summary_stage

VISIT_DAY = date(2026, 11, 20)


def test_the_summary_form_tolerates_what_mail_clients_and_people_do_to_it() -> None:
    # Half-width brackets, a quoted copy, table-cell tabs and a one-line "事项；责任人；时限" action all read.
    text = ("> [拜访纪要填报单]\n> 拜访编号: VIS-2026-0001\n> [会谈纪要]\n> 双方确认保供安排。\n> [达成事项]\n> 无\n"
            "> [后续事项1]\n> 事项\t报送日调度表\n> 责任人\t李明\n> 完成时限\t2026/12/1\n"
            "> [后续事项2]\n> 提供用气计划；王静；12月15日前\n> [填报结束]\n")
    form = read_summary(text, visit_day=VISIT_DAY)
    assert form is not None and form.problems == ()
    assert (form.number, form.minutes, form.agreed) == ("VIS-2026-0001", "双方确认保供安排。", None)
    assert [(a.index, a.text, a.owner, a.due) for a in form.actions] == [
        (1, "报送日调度表", "李明", date(2026, 12, 1)), (2, "提供用气计划", "王静", date(2026, 12, 15))]


def test_the_topmost_filled_copy_wins_and_a_blank_form_reads_as_blank() -> None:
    # Reply chains quote the blank request: a filled copy anywhere beats blank ones; the bot's hints are no answer.
    blank = render_summary_form(kind="outgoing", number="VIS-2026-0001", customer="S001 国家电网有限公司",
                                topic="会谈", when="2026年11月20日")
    only = read_summary(blank, visit_day=VISIT_DAY)
    assert only is not None and not only.has_answers and only.problems == ()
    filled = blank.replace("【会谈纪要】\n", "【会谈纪要】\n会谈顺利。\n")
    quoted = "\n".join("> " + line for line in filled.splitlines())
    form = read_summary(blank + "\n-----邮件原件-----\n" + quoted, visit_day=VISIT_DAY)
    assert form is not None and form.minutes == "会谈顺利。"
    assert read_summary("没有表格的来信", visit_day=VISIT_DAY) is None


def test_an_agreed_item_without_minutes_or_an_action_without_text_is_a_problem() -> None:
    # 达成事项 alone is not a summary; a due date with no action says which block is wrong.
    form = read_summary("【拜访纪要填报单】\n【会谈纪要】\n【达成事项】\n续签合同。\n【后续事项1】\n事项：\n责任人：李明\n"
                        "完成时限：2026-11-10\n【填报结束】", visit_day=VISIT_DAY)
    assert form is not None
    assert [(p.where, p.message) for p in form.problems] == [
        ("会谈纪要", "未填写会谈纪要；请简要写明会谈的主要内容"),
        ("后续事项1/事项", "写了责任人或完成时限，但没有写事项内容"),
        ("后续事项1/完成时限", "完成时限2026-11-10早于2026-11-20")]


@pytest.mark.parametrize("written, expected", [
    ("2026-12-15", date(2026, 12, 15)), ("2026/12/15", date(2026, 12, 15)), ("2026.12.15", date(2026, 12, 15)),
    ("2026年12月15日前", date(2026, 12, 15)), ("12月15日", date(2026, 12, 15)), ("1月15日之前", date(2027, 1, 15)),
    ("下周", None), ("2026-02-30", None)])
def test_due_dates_as_people_write_them(written: str, expected: date | None) -> None:
    # A date without a year is the next such date after the visit (12-20 visit, "1月15日" → 2027).
    assert parse_due(written, date(2026, 12, 20) if "1月15日" in written else VISIT_DAY) == expected


def test_the_progress_form_reads_done_not_done_and_nonsense() -> None:
    # 是否完成 “是/否” decide; anything else is a problem quoting what was written; 进展 keeps its lines.
    form = "【后续事项进展】\n事项编号：VIS-2026-0001-2\n进展情况：已报集团。\n等待批复。\n是否完成（是/否）：{}\n【填报结束】"
    p = read_progress(form.format("否"))
    assert p is not None and (p.ref, p.text, p.done, p.problems) == (("VIS-2026-0001", 2), "已报集团。\n等待批复。", False, ())
    p = read_progress(form.format("快了"))
    assert p is not None and p.done is None and p.problems[0].message == "请填“是”或“否”，写的是“快了”"
    untouched = read_progress("【后续事项进展】\n事项编号：VIS-2026-0001-2\n进展情况：\n是否完成（是/否）：\n【填报结束】")
    assert untouched is not None and not untouched.has_answers


def test_chase_stages_follow_the_working_day_calendar() -> None:
    # Due Thursday 12-10: T-3 on Monday, T-1 Wednesday, D+1 Friday, then weekly; a Saturday T-3 moves to Friday.
    cal = WorkCalendar()
    due, told = date(2026, 12, 10), date(2026, 11, 23)
    assert [chase_stage(due, date(2026, 12, d), told, POLICY, cal) for d in (4, 7, 8, 9, 11, 17, 18, 25)] == [
        None, "T-3", "T-3", "T-1", "D+1", "D+1", "D+8", "D+15"]
    assert chase_stage(date(2026, 12, 15), date(2026, 12, 11), told, POLICY, cal) == "T-3"
    assert chase_stage(due, date(2026, 12, 8), date(2026, 12, 8), POLICY, cal) is None  # told today: T-3 is past
    assert brief_day(date(2026, 11, 17), date(2026, 11, 13), POLICY.brief_offsets, cal) == date(2026, 11, 16)
    assert brief_day(date(2026, 11, 17), date(2026, 11, 16), POLICY.brief_offsets, cal) is None
    assert [summary_stage(VISIT_DAY, date(2026, 11, d), POLICY.summary_after, cal) for d in (22, 23, 26, 27)] == [
        None, "D+3", "D+3", "D+7"]


def test_an_invitation_needs_a_real_zone_and_a_known_method() -> None:
    # A naive time or an unknown iTIP method is a programming error, refused before anything is mailed.
    invite = Invite(uid="VIS-2026-0001@hq.example.cn", sequence=0, method="REQUEST", summary="s", description="d",
                    location="l", starts=at(2026, 11, 20, 9, 30), ends=at(2026, 11, 20, 11, 30),
                    stamp=at(2026, 11, 13, 9), organizer=("总部", "kcr@hq.example.cn"),
                    attendees=[("李明", "liming@gd.example.cn"), ("李明", "LIMING@gd.example.cn")])
    cal = Calendar.from_ical(calendar_bytes(invite))
    assert len(event(cal)["ATTENDEE"] if isinstance(event(cal)["ATTENDEE"], list) else [event(cal)["ATTENDEE"]]) == 1
    with pytest.raises(ValueError):
        calendar_bytes(Invite(**{**invite.__dict__, "method": "PUBLISH"}))
    with pytest.raises(ValueError):
        calendar_bytes(Invite(**{**invite.__dict__, "starts": datetime(2026, 11, 20, 9, 30)}))
