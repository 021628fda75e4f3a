"""Visits (§7), pure: the summary and progress forms, due dates, the chase calendar and the invitation."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from icalendar import Calendar

from mailbot.domain.workdays import WorkCalendar
from mailbot.visits.ics import Invite, calendar_bytes
from mailbot.visits.summary_form import parse_due, read_progress, read_summary, render_summary_form
from mailbot.visits.timing import POLICY, brief_day, chase_stage, summary_stage
from tests.support.mailflow import (
    at,
    event,
)

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
