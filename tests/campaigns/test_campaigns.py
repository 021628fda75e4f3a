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

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.campaigns.board import board, board_lines
from mailbot.campaigns.schedule import run_due
from mailbot.campaigns.store import close_campaign, launch_campaign
from mailbot.db.models import Campaign, CampaignFeedback, CampaignStage, CampaignTarget, Request
from mailbot.planfile import PlanError
from tests.support.mailflow import (
    BJ,
    GD,
    LIUYANG,
    WANGJING,
    Clock,
    answer_to,
    count,
    one,
    outbox,
    parsed,
    quarantine_reasons,
    text,
)

PLAN = """\
number: TG-2026-01
title: 冬季调峰气保供服务方案
description: 面向战略客户推出冬季调峰气保供服务。
documents: [冬季调峰气保供服务方案.pdf]
targets: {kind: strategic, units: [GD, BJ]}
feedback: {every: 14}
reminders: [3, 1]
end: 2027-03-31
"""


def plan_file(tmp_path: Path, text: str = PLAN, document: bytes = b"%PDF-1.4\n% plan v1\n") -> Path:
    (tmp_path / "冬季调峰气保供服务方案.pdf").write_bytes(document)
    path = tmp_path / "campaign.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def filled(mail_text: str, answers: Mapping[str, Mapping[int, str]], extra: str = "") -> str:
    """The feedback form from our mail with answers typed after the colons, block by block, as a contact does;
    `extra` (a block of the unit's own) goes before 【填报结束】."""
    lines = mail_text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("【推广反馈】"))
    end = next(i for i, line in enumerate(lines) if line.startswith("【填报结束】"))
    out, customer = [], None
    for line in lines[start:end]:
        if line.startswith("【客户】"):
            customer = line[4:].split()[0]
        m = re.match(r"^(\d)\. ", line)
        if m and customer and int(m[1]) in answers.get(customer, {}):
            line += answers[customer][int(m[1])]
        out.append(line)
    return "\n".join([*out, *([extra] if extra else []), lines[end]])


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
    (pdf,) = parsed(notice).iter_attachments()
    assert pdf.get_filename() == "冬季调峰气保供服务方案.pdf" and pdf.get_content_type() == "application/pdf"
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
    assert update.subject.startswith("【新增目标客户】") and list(parsed(update).iter_attachments()) == []
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
    (pdf,) = parsed(news).iter_attachments()
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


def test_the_boards_figures_are_the_hand_counted_ones(app: App, clock: Clock) -> None:
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


def test_close_ends_feedback_and_chasing(app: App, clock: Clock) -> None:
    assert "已结束：8 个目标客户，其中 0 个已签约或执行中" in close_campaign(app, "TG-2026-01").lines()[0]
    notice = one(app, "campaign-notice:TG-2026-01-GD")
    answer_to(app, notice, GD, filled(text(notice), {"S001": {1: "已签约"}}))
    assert count(app, CampaignFeedback) == 0
    clock.set(2026, 11, 24, 9)
    assert run_due(app).queued == []
    assert "此前已结束" in close_campaign(app, "TG-2026-01").lines()[0]


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
