"""National campaigns (§6.1) end to end on the embedded default: launched from a file (one notice per unit with the
plan attached), changed (only what changed is sent), feedback by real mail through the intake pipeline — refused
with what to fix, corrected, recorded with the funnel's history, a 诉求 opened, a customer added by the unit,
another unit's contact quarantined — units chased, the board counted by hand, closed; on SQLite and PostgreSQL.

The demo directory: GD serves the strategic S001, S002, S003, S008 (and VIP V001, V002, V009); BJ serves S001,
S004, S008, S010. The file targets strategic customers of GD and BJ: 4 + 4 targets. The clock starts on Friday
2026-11-13; with `every: 14` the feedback dates are 11月27日 and 12月11日, reminders 3 and 1 days before
(11-24, 11-26), the escalation the next working day after a date passed (11-30).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from mailbot.app import App
from mailbot.bulletin.compile import bulletin_path, compile_bulletin
from mailbot.campaigns.board import board, board_lines
from mailbot.campaigns.chapter import gather_campaigns
from mailbot.campaigns.closing import close_campaign, write_report
from mailbot.campaigns.schedule import run_due
from mailbot.campaigns.store import launch_campaign
from mailbot.db.models import Campaign, CampaignFeedback, CampaignStage, CampaignTarget, Request
from mailbot.planfile import PlanError
from tests.support.campaigns import PLAN, fill_campaign_workbook, filled, plan_file
from tests.support.mailflow import (
    BJ,
    GD,
    HQ,
    LIUYANG,
    WANGJING,
    Clock,
    answer_to,
    arrive,
    at,
    count,
    one,
    outbox,
    parsed,
    pdf_text,
    quarantine_reasons,
    text,
)


@pytest.fixture
def app(make_app: Callable[..., App], tmp_path: Path) -> App:
    app = make_app()
    launch_campaign(app, plan_file(tmp_path))
    return app


def stages(app: App, customer: str, unit: str) -> list[str]:
    with app.sessions() as s:
        target = next(t for t in s.scalars(select(CampaignTarget))
                      if t.customer.code == customer and t.unit.code == unit)
        return [row.stage for row in target.stages]


def test_a_dry_run_shows_who_gets_what_and_sends_nothing(make_app: Callable[..., App], tmp_path: Path) -> None:
    app = make_app()
    change = launch_campaign(app, plan_file(tmp_path), dry_run=True)
    lines = "\n".join(change.lines())
    assert "2 家所属单位，8 个目标客户" in lines
    assert "campaign-notice:TG-2026-01-GD" in lines and GD[1] in lines and BJ[1] in lines
    assert outbox(app, "campaign-") == [] and count(app, Campaign) == 0


def test_each_unit_gets_one_notice_with_the_plan_and_relaunching_sends_only_what_changed(
        app: App, tmp_path: Path) -> None:
    assert [r.idem_key for r in outbox(app, "campaign-")] == ["campaign-notice:TG-2026-01-BJ",
                                                                "campaign-notice:TG-2026-01-GD"]
    notice = one(app, "campaign-notice:TG-2026-01-GD")
    assert notice.recipients == GD[1] and "[TG-2026-01-GD]" in notice.subject and "11月27日前反馈" in notice.subject
    pdf, book = parsed(notice).iter_attachments()
    assert pdf.get_filename() == "冬季调峰气保供服务方案.pdf" and pdf.get_content_type() == "application/pdf"
    assert book.get_filename() == "推广反馈表_TG-2026-01-GD.xlsx"
    body = text(notice)
    assert "【推广反馈】编号：TG-2026-01-GD" in body and "方案：TG-2026-01 冬季调峰气保供服务方案" in body
    assert [line for line in body.splitlines() if line.startswith("【客户】")] == [
        "【客户】S001 国家电网有限公司", "【客户】S002 中国石油化工集团有限公司", "【客户】S003 华润燃气控股有限公司",
        "【客户】S008 新奥天然气股份有限公司"]
    assert "2026年11月27日" in body

    # The same file again: nothing. A wider filter: GD and BJ get their new targets, nothing else is resent.
    assert launch_campaign(app, plan_file(tmp_path)).plan.queued == []
    wider = launch_campaign(app, plan_file(tmp_path, PLAN.replace("kind: strategic", "kind: all")))
    assert [k for k, _, _ in wider.plan.queued] == ["campaign-update:TG-2026-01-BJ:v1:V004",
                                                    "campaign-update:TG-2026-01-GD:v1:V001,V002,V009"]
    update = one(app, "campaign-update:TG-2026-01-GD:v1:V001,V002,V009")
    # No plan document again, only the unit's whole form as a workbook (its new targets in it).
    assert update.subject.startswith("【新增目标客户】")
    assert [a.get_filename() for a in parsed(update).iter_attachments()] == ["推广反馈表_TG-2026-01-GD.xlsx"]
    assert "V009 东莞新奥燃气有限公司" in text(update) and "【客户】S001 国家电网有限公司" in text(update)

    # A new version of the plan document: every unit is told what changed, with the new document attached.
    revised = launch_campaign(app, plan_file(tmp_path, PLAN.replace("kind: strategic", "kind: all")
                                             + "changes: 调峰气量上限调整为每日80万方。\n",
                                             document=b"%PDF-1.4\n% plan v2\n"))
    assert [k for k, _, _ in revised.plan.queued] == ["campaign-update:TG-2026-01-BJ:v2",
                                                      "campaign-update:TG-2026-01-GD:v2"]
    assert "方案已更新为第2版" in revised.lines()[0]
    news = one(app, "campaign-update:TG-2026-01-GD:v2")
    assert news.subject.startswith("【方案更新】")
    assert "方案文件“冬季调峰气保供服务方案.pdf”已更新" in text(news) and "调峰气量上限调整为每日80万方" in text(news)
    pdf, _book = parsed(news).iter_attachments()
    assert pdf.get_payload(decode=True) == b"%PDF-1.4\n% plan v2\n"

    # A unit new to the campaign gets the whole notice, once.
    more = launch_campaign(app, plan_file(tmp_path, PLAN.replace("[GD, BJ]", "[GD, BJ, JS]")
                                          .replace("kind: strategic", "kind: all"), document=b"%PDF-1.4\n% plan v2\n"))
    assert [k for k, _, _ in more.plan.queued] == ["campaign-notice:TG-2026-01-JS"]


def test_feedback_is_refused_with_what_to_fix_then_recorded_with_its_history(app: App, clock: Clock) -> None:
    notice = one(app, "campaign-notice:TG-2026-01-GD")
    clock.set(2026, 11, 18, 10)
    answer_to(app, notice, GD, filled(text(notice), {
        "S001": {1: "很有兴趣"}, "S002": {1: "无意向"}}))
    error = outbox(app, "campaign-error:TG-2026-01-GD")[-1]
    body = text(error)
    assert error.recipients == GD[1] and "很有兴趣" in body and "请在“本期进展”中写明客户无意向的原因" in body
    assert "1. 进展阶段：很有兴趣" in body   # the unit's own form back, answers kept
    assert count(app, CampaignFeedback) == 0 and count(app, CampaignStage) == 0

    answer_to(app, error, GD, filled(text(notice), {
        "S001": {1: "有意向", 2: "年增供约1亿方", 3: "已向客户宣贯方案。", 5: "2027年3月", 6: "是"},
        "S002": {1: "不感兴趣", 3: "客户今冬自有气源充足。", 6: "否"},
        "S003": {1: "已推广"}}, extra="【客户】V001 深圳市燃气集团股份有限公司\n1. 进展阶段：有意向\n"
                                     "3. 本期进展：客户主动咨询调峰服务。"))
    ack = outbox(app, "campaign-ack:TG-2026-01-GD")[-1]
    body = text(ack)
    assert ack.recipients == GD[1] and "（第1版）" in body
    assert "进展阶段：未开展 → 有意向（已记录变化）" in body and "进展阶段：未开展 → 无意向（已记录变化）" in body
    assert "预计签约时间：2027年3月（记为 2027-03）" in body
    assert "客户 V001 深圳市燃气集团股份有限公司 不在贵单位本方案的目标客户中，已作为新增目标客户记录" in body
    assert "其余1个目标客户本次未反馈" in body   # S008
    assert stages(app, "S001", "GD") == ["有意向"] and stages(app, "S002", "GD") == ["无意向"]
    with app.sessions() as s:
        (req,) = s.scalars(select(Request).where(Request.source == "campaign"))
        assert req.customer.code == "S001" and req.assignee.email == LIUYANG[1] and "年增供约1亿方" in req.text
        assert req.title == "TG-2026-01推广需总部支持：已向客户宣贯方案。"   # what the unit wrote, not boilerplate
        added = s.scalar(select(CampaignTarget).where(CampaignTarget.added_by_unit.is_(True)))
        assert added is not None and added.customer.code == "V001"
    assert f"诉求编号 {req.number}，承办人 刘洋" in body
    assert outbox(app, f"req-notice:{req.number}")[-1].recipients == LIUYANG[1]

    # The next round: an empty stage is no change; a change is kept beside the first, each with its date.
    clock.set(2026, 12, 2, 15)
    answer_to(app, ack, GD, filled(text(notice), {"S001": {1: "洽谈中", 6: "是"}, "S003": {3: "约了下周见面。"}}))
    assert stages(app, "S001", "GD") == ["有意向", "洽谈中"] and stages(app, "S003", "GD") == ["已宣贯"]
    with app.sessions() as s:
        assert len(list(s.scalars(select(Request).where(Request.source == "campaign")))) == 1   # merged, not new
        second = s.scalar(select(CampaignFeedback).where(CampaignFeedback.version == 2))
        assert second is not None and second.round == 2
    assert "未填写，保持“已宣贯”" in text(outbox(app, "campaign-ack:TG-2026-01-GD")[-1])


def test_the_form_comes_as_a_workbook_too_and_a_returned_workbook_alone_is_recorded(app: App, clock: Clock) -> None:
    notice = one(app, "campaign-notice:TG-2026-01-GD")
    _pdf, attached = parsed(notice).iter_attachments()
    data = attached.get_content()
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    rows = [(sheet.cell(r, 1).value, sheet.cell(r, 2).value) for r in range(1, sheet.max_row + 1)]
    # Label in column A, answer in column B, the 【…】 rows in column A: the shape parsers.xlsxform reads back.
    assert ("【推广反馈】编号：TG-2026-01-GD", None) in rows and ("方案", "TG-2026-01 冬季调峰气保供服务方案") in rows
    assert [a for a, _ in rows if str(a).startswith("【客户】")] == [
        "【客户】S001 国家电网有限公司", "【客户】S002 中国石油化工集团有限公司", "【客户】S003 华润燃气控股有限公司",
        "【客户】S008 新奥天然气股份有限公司"]
    assert rows[-1] == ("【填报结束】", None) and sheet.protection.sheet
    stage_row = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 1).value == "1. 进展阶段")
    assert sheet.cell(stage_row, 2).protection.locked is False
    lists = {str(v.sqref): v.formula1 for v in sheet.data_validations.dataValidation}
    assert '"未开展,已宣贯,有意向,洽谈中,已签约,执行中,无意向"' in lists.values() and '"是,否"' in lists.values()
    assert sum(str(sqref).count(" ") + 1 for sqref, f in lists.items() if "未开展" in f) == 4   # every block's stage

    # 李明 fills the workbook and replies with it alone; the body says only "see the attachment".
    clock.set(2026, 11, 18, 10)
    book = fill_campaign_workbook(data, {"S001": {1: "有意向", 2: "年增供约1亿方", 5: "2027年3月", 6: "否"},
                                         "S002": {1: "无意向", 3: "客户今冬自有气源充足。"}})
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = f"{GD[0]} <{GD[1]}>", HQ, "回复：" + notice.subject
    reply["Message-ID"], reply["In-Reply-To"] = "<xlsx-feedback@gd.example.cn>", notice.message_id
    reply["Date"] = "Wed, 18 Nov 2026 10:00:00 +0800"
    reply.set_content("推广反馈表已填写，见附件。")
    reply.add_attachment(book, maintype="application",
                         subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                         filename="推广反馈表_TG-2026-01-GD.xlsx")
    arrive(app, reply.as_bytes())
    assert stages(app, "S001", "GD") == ["有意向"] and stages(app, "S002", "GD") == ["无意向"]
    body = text(outbox(app, "campaign-ack:TG-2026-01-GD")[-1])
    assert "进展阶段：未开展 → 有意向（已记录变化）" in body and "预计签约时间：2027年3月（记为 2027-03）" in body
    assert count(app, CampaignFeedback) == 1


def test_another_units_contact_is_quarantined_and_nothing_recorded(app: App) -> None:
    notice = one(app, "campaign-notice:TG-2026-01-GD")
    answer_to(app, notice, WANGJING, filled(text(notice), {"S001": {1: "已签约"}}))
    assert any("TG-2026-01-GD 属于另一单位" in r and WANGJING[1] in r for r in quarantine_reasons(app))
    assert count(app, CampaignFeedback) == 0 and outbox(app, "campaign-ack:") == []


def test_a_silent_unit_is_reminded_then_escalated_once(app: App, clock: Clock) -> None:
    notice = one(app, "campaign-notice:TG-2026-01-GD")
    clock.set(2026, 11, 20, 10)
    answer_to(app, notice, GD, filled(text(notice), {"S001": {1: "已宣贯"}}))
    clock.set(2026, 11, 23, 9)
    assert run_due(app).queued == []
    clock.set(2026, 11, 24, 9)
    (reminder,) = run_due(app).queued
    assert reminder[0] == "campaign-reminder:TG-2026-01-BJ:r1:T-3" and BJ[1] in reminder[1].split(",")
    row = one(app, "campaign-reminder:TG-2026-01-BJ:r1:T-3")
    assert parsed(row)["In-Reply-To"] == one(app, "campaign-notice:TG-2026-01-BJ").message_id
    assert "距反馈日期还有3天" in text(row) and "【推广反馈】编号：TG-2026-01-BJ" in text(row)
    assert run_due(app).queued == []
    clock.set(2026, 11, 26, 9)
    assert [k for k, _, _ in run_due(app).queued] == ["campaign-reminder:TG-2026-01-BJ:r1:T-1"]
    clock.set(2026, 11, 30, 9)
    (escalation,) = run_due(app).queued
    assert escalation[:2] == ("campaign-escalation:TG-2026-01-BJ:r1", "zhenght@bj.example.cn")
    assert "已向贵单位重点客户维护工作联系人孙悦发送2次提醒" in text(one(app, "campaign-escalation:TG-2026-01-BJ:r1"))
    assert run_due(app).queued == []
    # The next round chases GD too: its feedback was for round 1.
    clock.set(2026, 12, 8, 9)
    assert [k for k, _, _ in run_due(app).queued] == ["campaign-reminder:TG-2026-01-BJ:r2:T-3",
                                                      "campaign-reminder:TG-2026-01-GD:r2:T-3"]


def test_the_boards_figures_are_the_hand_counted_ones_in_status_and_report(app: App, clock: Clock,
                                                                          tmp_path: Path) -> None:
    gd = one(app, "campaign-notice:TG-2026-01-GD")
    bj = one(app, "campaign-notice:TG-2026-01-BJ")
    clock.set(2026, 11, 18, 10)
    answer_to(app, gd, GD, filled(text(gd), {"S001": {1: "已宣贯"}, "S002": {1: "有意向", 5: "2027-03"},
                                             "S003": {1: "有意向", 5: "2027年2月"}}))
    answer_to(app, bj, BJ, filled(text(bj), {"S001": {1: "洽谈中", 5: "2027年3月15日", 6: "是"},
                                             "S004": {1: "已签约", 5: "2026-12"}}))
    clock.set(2026, 12, 3, 10)
    answer_to(app, gd, GD, filled(text(gd), {"S001": {1: "有意向", 5: "2027年4月"}, "S002": {1: "洽谈中"}}))
    data = board(app, "TG-2026-01")
    # By hand: GD S001 有意向, S002 洽谈中, S003 有意向, S008 未开展; BJ S001 洽谈中, S004 已签约, S008/S010 未开展.
    overall = data["overall"]
    assert overall["targets"] == 8
    assert overall["by_stage"] == {"未开展": 3, "已宣贯": 0, "有意向": 2, "洽谈中": 2, "已签约": 1, "执行中": 0,
                                   "无意向": 0}
    # Signing by month, targets still on their way: GD S001 2027-04, S002 2027-03, S003 2027-02; BJ S001 2027-03
    # (BJ S004 is signed: not counted).
    assert overall["signing_by_month"] == {"2027-02": 1, "2027-03": 2, "2027-04": 1}
    assert [(n["customer"], n["unit"]) for n in overall["needs_hq"]] == [("S001", "BJ")]
    bj_unit, gd_unit = data["units"]   # by unit code
    assert gd_unit["unit"] == "GD" and gd_unit["last_feedback"]["version"] == 2
    assert gd_unit["moved"] == [{"customer": "S001", "from": "已宣贯", "to": "有意向", "at": "2026-12-03"},
                                {"customer": "S002", "from": "有意向", "to": "洽谈中", "at": "2026-12-03"}]
    assert bj_unit["by_stage"]["已签约"] == 1 and bj_unit["moved"][0]["from"] == "未开展"
    lines = "\n".join(board_lines(data))
    assert "合计：目标客户 8 个 | 未开展 3 已宣贯 0 有意向 2 洽谈中 2 已签约 1" in lines
    assert "S001：已宣贯 → 有意向（2026-12-03）" in lines
    json.dumps(data, ensure_ascii=False)   # the --json output is plain values

    # The same figures as the report PDF (interim while the campaign runs), read back as a reader copies them.
    page = pdf_text(write_report(app, "TG-2026-01", tmp_path / "interim.pdf").read_bytes(), tmp_path)
    for fact in ("冬季调峰气保供服务方案", "TG-2026-01", "推广中（中期进展）", "一、各阶段目标客户", "各阶段目标客户数（个）",
                 "北京分公司", "广东分公司", "已宣贯 → 有意向", "2027年2月", "2027年4月", "四、需总部支持",
                 "S004 中国华能集团有限公司"):
        assert fact in page, fact
    assert re.search(r"合计\s+8\s+3\s+0\s+2\s+2\s+1\s+0\s+0", page)   # the overall row, stage by stage
    assert re.search(r"2027年3月\s+2\s", page)
    with app.sessions() as s:
        (req,) = s.scalars(select(Request).where(Request.source == "campaign"))
    assert req.number in page


def test_close_ends_feedback_and_chasing_and_mails_the_report_once(app: App, clock: Clock, tmp_path: Path) -> None:
    assert "已结束：8 个目标客户，其中 0 个已签约或执行中" in close_campaign(app, "TG-2026-01").lines()[0]
    report = one(app, "campaign-report:TG-2026-01")
    assert report.recipients.split(",") == app.directory.bulletin_addresses()
    assert report.subject == "[推广进展报告] 冬季调峰气保供服务方案（TG-2026-01）：目标客户8个，已签约或执行中0个"
    assert "未开展8个" in text(report)
    (pdf,) = parsed(report).iter_attachments()
    assert pdf.get_filename() == "推广进展报告-TG-2026-01.pdf"
    assert "一、各阶段目标客户" in pdf_text(pdf.get_content(), tmp_path)
    notice = one(app, "campaign-notice:TG-2026-01-GD")
    answer_to(app, notice, GD, filled(text(notice), {"S001": {1: "已签约"}}))
    assert count(app, CampaignFeedback) == 0
    clock.set(2026, 11, 24, 9)
    assert run_due(app).queued == []
    assert "此前已结束" in close_campaign(app, "TG-2026-01").lines()[0]
    assert len(outbox(app, "campaign-report:")) == 1


@pytest.mark.parametrize(("change", "said"), [
    (("number: TG-2026-01", "number: 2026-01"), "number: 方案编号应形如 TG-2026-01"),
    (("end: 2027-03-31", "end: 2027-02-30"), "end: 日期应写作"),
    (("{kind: strategic, units: [GD, BJ]}", "[S001, S999]"), "targets.1: 客户 S999 不在客户名录中"),
    (("feedback: {every: 14}", "feedback: {every: 两周}"), "feedback.every: 应为 1–92 之间的天数"),
    (("documents: [冬季调峰气保供服务方案.pdf]", "documents: [没有这个文件.pdf]"), "documents.0: 无法读取方案文件"),
])
def test_a_wrong_campaign_file_names_every_mistake_and_sends_nothing(
        make_app: Callable[..., App], tmp_path: Path, change: tuple[str, str], said: str) -> None:
    app = make_app()
    with pytest.raises(PlanError, match=said):
        launch_campaign(app, plan_file(tmp_path, PLAN.replace(*change)))
    assert outbox(app, "campaign-") == []


def test_the_bulletin_chapter_shows_each_month_as_it_stood_at_its_end(app: App, clock: Clock) -> None:
    gd = one(app, "campaign-notice:TG-2026-01-GD")
    clock.set(2026, 11, 18, 10)
    answer_to(app, gd, GD, filled(text(gd), {"S001": {1: "有意向", 5: "2027年3月", 6: "是"}, "S002": {1: "已宣贯"}}))
    clock.set(2026, 12, 3, 10)
    answer_to(app, gd, GD, filled(text(gd), {"S001": {1: "已签约", 6: "否"}, "S003": {1: "洽谈中", 5: "2027-02"}}))
    november, december = (at(2026, 11, 1), at(2026, 12, 1)), (at(2026, 12, 1), at(2027, 1, 1))
    with app.sessions() as s:
        (nov,) = gather_campaigns(s, *november)
        (dec,) = gather_campaigns(s, *december)
    # November, by hand: GD S001 有意向 (signing 2027-03, needs HQ), S002 已宣贯; the other six 未开展.
    assert (nov.number, nov.closed, nov.targets, nov.units, nov.units_reported) == ("TG-2026-01", False, 8, 2, 1)
    assert dict(nov.by_stage) == {"未开展": 6, "已宣贯": 1, "有意向": 1, "洽谈中": 0, "已签约": 0, "执行中": 0, "无意向": 0}
    assert [(m.customer[:4], m.before, m.after) for m in nov.moved] == [("S001", "未开展", "有意向"),
                                                                       ("S002", "未开展", "已宣贯")]
    assert nov.signing_by_month == (("2027-03", 1),) and [n.customer[:4] for n in nov.needs_hq] == ["S001"]
    assert nov.needs_hq[0].request is not None and nov.needs_hq[0].unit == "广东分公司"
    # December: S001 signed (no longer counted by signing month, no longer needing HQ), S003 洽谈中.
    assert dec.signed == 1 and dict(dec.by_stage)["洽谈中"] == 1 and dec.units_reported == 1
    assert [(m.customer[:4], m.before, m.after) for m in dec.moved] == [("S001", "有意向", "已签约"),
                                                                       ("S003", "未开展", "洽谈中")]
    assert dec.signing_by_month == (("2027-02", 1),) and dec.needs_hq == ()
    close_campaign(app, "TG-2026-01")
    with app.sessions() as s:
        assert [c.closed for c in gather_campaigns(s, *december)] == [True]
        assert gather_campaigns(s, at(2027, 1, 1), at(2027, 2, 1)) == ()   # closed before January: nothing to say


def test_the_bulletin_shows_the_months_campaign_funnel(app: App, clock: Clock, tmp_path: Path) -> None:
    # GD reports S001 有意向 (needing HQ) and S002 无意向 in November: the November 重点客户月报 carries the funnel.
    notice = one(app, "campaign-notice:TG-2026-01-GD")
    clock.set(2026, 11, 18, 10)
    answer_to(app, notice, GD, filled(text(notice), {
        "S001": {1: "有意向", 3: "已向客户宣贯方案。", 5: "2027年3月", 6: "是"},
        "S002": {1: "不感兴趣", 3: "客户今冬自有气源充足。", 6: "否"}}))
    clock.set(2026, 11, 30, 9)
    compile_bulletin(app, "2026-11", mail=False)
    page = pdf_text(bulletin_path(app, "2026-11").read_bytes(), tmp_path, layout=False).replace("\n", "")
    chapter = page[page.index("七、全国性方案推广"):page.index("八、下月工作安排")]
    assert "TG-2026-01" in chapter and "1 个反馈了进展" in chapter
    assert "国家电网有限公司（广东分公司）未开展→有意向" in chapter and "2027-03 1 个" in chapter
    assert "需总部支持：S001 国家电网有限公司（广东分公司） SQ-2026-0001" in chapter
