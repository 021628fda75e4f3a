"""Visits (§7): the plan file, then notice with calendar invitation → change → cancel (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import vobject
import yaml
from icalendar import Calendar
from sqlalchemy import select

from mailbot.app import App
from mailbot.db.models import Visit
from mailbot.planfile import PlanError
from mailbot.visits.plan import Refs, check_references, parse_plan
from mailbot.visits.store import cancel_visit, plan_visit
from tests.support.mailflow import (
    TZ,
    VISIT_PLAN,
    at,
    event,
    invitation,
    one,
    outbox,
    parsed,
    text,
    write_plan,
)


def test_the_example_plan_reads_as_a_visit_to_s001() -> None:
    # The shipped example is a valid plan: outgoing, S001, 09:30–11:30 Beijing time, three units, four briefing items.
    plan = parse_plan(VISIT_PLAN.read_text(encoding="utf-8"), "config/visit.example.yaml", TZ)
    assert (plan.kind, plan.customer, plan.units, plan.responsible_unit) == (
        "outgoing", "S001", ("BJ", "GD", "JS"), "BJ")
    assert (plan.starts, plan.ends) == (at(2026, 11, 20, 9, 30), at(2026, 11, 20, 11, 30))
    assert [c.preparer for c in plan.briefing] == ["BJ", "GD", "JS", "liuyang"]
    assert check_references(plan, Refs(customers=frozenset({"S001"}), units=frozenset({"BJ", "GD", "JS"}),
                                       staff=frozenset({"liuyang", "zhangwei"}))) == []


def test_every_mistake_in_a_plan_is_named_by_file_and_key() -> None:
    # An unquoted time, a bad date, a misspelt key, a missing place and a campaign that is no campaign's number:
    # one run lists them all.
    text = "kind: outgoing\ncustomer: S001\ntopic: 会谈\ndate: 2026-13-01\ntime: 14:00\nhq_owner: liuyang\n" \
           "units: [GD]\nplce: 北京\nbriefing:\n  - {item: 材料, preparer: GD, due: 11/17}\ncampaign: 推广会\n"
    with pytest.raises(PlanError) as e:
        parse_plan(text, "v.yaml", TZ)
    problems = "\n".join(e.value.problems)
    assert "v.yaml: plce: 未知的键" in problems
    assert "v.yaml: place: 必须填写" in problems
    assert "v.yaml: date: 日期应写作 2026-11-20，写的是“2026-13-01”" in problems
    assert "v.yaml: time: 应写作 \"09:30-11:30\"，写的是“14:00”" in problems
    assert "v.yaml: briefing.0.due: 日期应写作" in problems
    assert "v.yaml: campaign: 推广方案编号应形如 TG-2026-01，写的是“推广会”" in problems


def test_names_the_directory_does_not_know_are_refused() -> None:
    # Customer S999, unit HN and preparer "nobody" are not in the directory; a briefing due after the visit is wrong.
    plan = parse_plan(VISIT_PLAN.read_text(encoding="utf-8").replace("customer: S001", "customer: S999")
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
    said = text(row)
    assert "时间：2026年11月20日（星期五）09:30—11:30" in said
    assert "1. 国家电网系统近三年购气量及2026年合同执行情况（北京分公司，11月17日前完成）" in said
    assert "· 张伟（资源与市场部 大客户处处长）" in said

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
    # Attendees may answer (RSVP), everyone is reminded an hour before, and the invitation is also the message's last
    # alternative (iMIP, RFC 6047), where Outlook and phones look for it to show Accept / Decline.
    assert all(a.params["RSVP"] == "TRUE" for a in ev["ATTENDEE"])
    (alarm,) = ev.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY" and alarm.decoded("TRIGGER") == timedelta(hours=-1)
    alternative = next(p for p in msg.walk() if p.get_content_type() == "multipart/alternative")
    kinds = [p.get_content_type() for p in alternative.iter_parts()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    imip = list(alternative.iter_parts())[-1]
    assert imip.get_param("method") == "REQUEST" and Calendar.from_ical(imip.get_content())["METHOD"] == "REQUEST"

    # The same file again: nothing new is sent.
    assert plan_visit(app, tmp_path / "v.yaml").action == "unchanged"
    assert len(outbox(app, "visit:")) == 1


def test_a_change_updates_the_same_calendar_entry_and_a_cancel_removes_it(app: App, tmp_path: Path) -> None:
    # The time moves and JS drops out: SEQUENCE 1 for everyone, a CANCEL for JS; then the visit is cancelled.
    path = write_plan(tmp_path / "v.yaml")
    plan_visit(app, path)
    briefing = [b for b in yaml.safe_load(path.read_text(encoding="utf-8"))["briefing"] if b["preparer"] != "JS"]
    write_plan(path, time="14:00-16:00", units=["BJ", "GD"], briefing=briefing)
    assert plan_visit(app, path).action == "changed"
    changed = one(app, "visit:VIS-2026-0001:notice:seq1")
    assert changed.subject.startswith("[拜访变更] 11月20日 S001")
    assert "时间由2026年11月20日（星期五）09:30—11:30改为2026年11月20日（星期五）14:00—16:00" in text(changed)
    assert "所属单位有调整" in text(changed) and "汇报材料有调整" in text(changed)
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
    assert cancel.subject.startswith("[拜访取消]") and "原因：客户临时调整日程" in text(cancel)
    assert cancel_visit(app, "VIS-2026-0001").action == "already_cancelled"
    with pytest.raises(PlanError, match="已取消"):
        plan_visit(app, write_plan(path, number="VIS-2026-0001"))


def test_a_dry_run_records_and_sends_nothing(app: App, tmp_path: Path) -> None:
    # --dry-run shows the notice it would queue and leaves no visit and no mail behind.
    outcome = plan_visit(app, write_plan(tmp_path / "v.yaml"), dry_run=True)
    assert [k for k, _, _ in outcome.plan.queued] == ["visit:VIS-2026-0001:notice:seq0"]
    with app.sessions() as s:
        assert s.scalars(select(Visit)).all() == []
    assert outbox(app, "") == []


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
    said = text(row)
    assert "华润燃气控股有限公司定于2026年11月20日（星期五）09:30—11:30来总部访问" in said
    assert "会务安排：\n  1. 预订第一会议室并布置席卡（赵磊，11月19日前完成）" in said
    assert "会谈议程：" in said


def test_a_second_icalendar_reader_reads_the_invitation_the_same_way(app: App, tmp_path: Path) -> None:
    # vobject (the reader Radicale and many CalDAV tools use) parses the .ics with its own code: method, UID,
    # sequence, the zone, organizer, attendees and the reminder are all where clients look for them.
    plan_visit(app, write_plan(tmp_path / "v.yaml"))
    row = one(app, "visit:VIS-2026-0001:notice:seq0")
    (part,) = [p for p in parsed(row).iter_attachments() if p.get_content_type() == "text/calendar"]
    cal = vobject.readOne(part.get_payload(decode=True).decode("utf-8"))
    ev = cal.vevent
    assert cal.method.value == "REQUEST" and ev.uid.value == "VIS-2026-0001@hq.example.cn"
    assert int(ev.sequence.value) == 0 and ev.dtstart.params["X-VOBJ-ORIGINAL-TZID"] == ["Asia/Shanghai"]
    assert ev.dtstart.value == at(2026, 11, 20, 9, 30) and ev.organizer.value == "mailto:kcr@hq.example.cn"
    assert "mailto:liming@gd.example.cn" in [a.value for a in ev.attendee_list]
    assert ev.valarm.trigger.value == timedelta(hours=-1)
