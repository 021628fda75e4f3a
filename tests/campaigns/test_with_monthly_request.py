"""Campaigns answered "with the monthly request" (CAMPAIGN.md "Follow-up"): no mails of their own after the notice —
the campaign's feedback form rides in the unit's 月度报送通知 (body and workbook) and in its reminders, above the
monthly form; the unit's one reply is the monthly report and the campaign's feedback at once, answered with one
error reply listing the mistakes of both, then with one acknowledgement; the blocks fill items (1) and (2) of the
monthly form for those strategic customers; the round is the month. On SQLite and PostgreSQL.

The demo directory: GD serves S001, S002 (strategic) and V001 (VIP) among others; BJ serves S001 too. Two
campaigns answered with the monthly request target GD's customers only: TG-2026-01 S001, S002, V001 and
TG-2026-02 S001 — so one reply records two campaigns' feedback.
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from mailbot.app import App
from mailbot.campaigns.board import board
from mailbot.campaigns.schedule import run_due as campaign_jobs
from mailbot.campaigns.store import launch_campaign
from mailbot.db.models import CampaignFeedback, Request, StrategicEntry, Submission
from mailbot.reports.schedule import remind, send_requests
from tests.support.campaigns import PLAN, fill_campaign_workbook, filled_request, plan_file
from tests.support.mailflow import GD, HQ, LIUYANG, Clock, answer_to, arrive, count, one, outbox, parsed, text

MONTHLY = PLAN.replace("{kind: strategic, units: [GD, BJ]}", "{codes: [S001, S002, V001], units: [GD]}").replace(
    "feedback: {every: 14}\nreminders: [3, 1]\n", "feedback: with_monthly_request\n")
SECOND = MONTHLY.replace("TG-2026-01", "TG-2026-02").replace("冬季调峰气保供服务方案", "LNG槽车直供服务方案").replace(
    "[S001, S002, V001]", "[S001]").replace("documents: [LNG槽车直供服务方案.pdf]", "documents: [冬季调峰气保供服务方案.pdf]")

REPORT = {"S001": {"1": "已签订2027年度框架协议。", "风险等级": "一般", "需总部协调": "否"},
          "S002": {"风险等级": "无", "需总部协调": "否"}, "S003": {"风险等级": "无", "需总部协调": "否"},
          "S008": {"风险等级": "无", "需总部协调": "否"}}
WRONG = {"TG-2026-01-GD": {"S001": {1: "很有兴趣"}}, "TG-2026-02-GD": {"S001": {1: "已宣贯"}}}
RIGHT = {"TG-2026-01-GD": {"S001": {1: "有意向", 2: "年增供约1亿方", 3: "已向客户宣贯方案。", 5: "2027年3月", 6: "是"},
                           "S002": {1: "无意向", 3: "客户今冬自有气源充足。"},
                           "V001": {1: "已宣贯"}},
         "TG-2026-02-GD": {"S001": {1: "已宣贯"}}}


def test_the_monthly_request_carries_the_campaign_and_one_reply_updates_both(
        app: App, clock: Clock, tmp_path: Path) -> None:
    for name, plan in (("one", MONTHLY), ("two", SECOND)):
        (tmp_path / name).mkdir()
        launch_campaign(app, plan_file(tmp_path / name, plan))
    notice = text(one(app, "campaign-notice:TG-2026-01-GD"))
    assert "随每月的月度报送通知一并反馈" in notice

    # The request: both campaigns' forms above the monthly form, their workbooks beside the monthly one; not BJ's.
    clock.set(2026, 11, 16, 9)
    send_requests(app, "2026-11")
    request = one(app, "request:2026-11:GD")
    body = text(request)
    first, second, monthly = (body.index(f) for f in ("【推广反馈】编号：TG-2026-01-GD", "【推广反馈】编号：TG-2026-02-GD",
                                                      "【重点客户月报填报单】"))
    assert first < second < monthly and "第1、2项" in body[:first]
    assert "【客户】V001 深圳市燃气集团股份有限公司" in body[first:second]
    assert [a.get_filename() for a in parsed(request).iter_attachments()] == [
        "重点客户月报填报单_2026-11_GD.xlsx", "推广反馈表_TG-2026-01-GD.xlsx", "推广反馈表_TG-2026-02-GD.xlsx"]
    assert "【推广反馈】" not in text(one(app, "request:2026-11:BJ"))
    # Chased by the monthly reminders only: the reminder carries the form again; the campaign has no chase.
    clock.set(2026, 11, 25, 9)
    remind(app, "2026-11", "T-3")
    assert "【推广反馈】编号：TG-2026-01-GD" in text(one(app, "reminder:2026-11:GD:T-3"))
    assert campaign_jobs(app).queued == []

    # A stage that is not one of the seven: one error reply, in the monthly form's words, both forms back.
    answer_to(app, request, GD, filled_request(body, WRONG, REPORT))
    (error,) = outbox(app, "error:")
    said = text(error)
    assert error.recipients == GD[1] and "2026年11月重点客户月报暂未能受理" in said
    assert "S001 国家电网有限公司的“进展阶段”填写为“很有兴趣”，不在可选范围内，请改为“未开展”“已宣贯”" in said
    assert "1. 进展阶段：很有兴趣" in said and "1. 全国性天然气产品及服务方案执行情况：已签订2027年度框架协议。" in said
    assert "【推广反馈】编号：TG-2026-02-GD" in said   # the form without mistakes too: nothing of it was recorded
    html = parsed(error).get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "font-weight:bold; background-color:#fdecea;\">1. 进展阶段：很有兴趣</p>" in html
    assert count(app, Submission) == 0 and count(app, CampaignFeedback) == 0 and outbox(app, "ack:") == []

    # Corrected, in the error reply's thread: the monthly report v1 and both campaigns' feedback, one answer.
    answer_to(app, error, GD, filled_request(body, RIGHT, REPORT))
    (ack,) = outbox(app, "ack:")
    said = text(ack)
    assert outbox(app, "campaign-ack:") == [] and len(outbox(app, "error:")) == 1
    assert "（报告编号 KCR-202611-GD" in said and "第1版）已于" in said
    assert "全国性产品及服务方案“冬季调峰气保供服务方案”（TG-2026-01）推广反馈" in said
    assert "已同时记录为贵单位的推广反馈（第1版）" in said and "进展阶段：未开展 → 有意向（已记录变化）" in said
    with app.sessions() as s:
        (req,) = s.scalars(select(Request).where(Request.source == "campaign"))
        assert req.customer.code == "S001" and req.assignee.email == LIUYANG[1]
        assert f"诉求编号 {req.number}，承办人 刘洋" in said
        # Items (1) and (2) of the monthly record for S001 and S002 hold the campaigns' answers; V001 has none.
        entries = {e.customer.code: {i.category: i.text for i in e.items}
                   for e in s.scalars(select(StrategicEntry))}
        feedback = sorted((f.campaign_id, f.version, f.round) for f in s.scalars(select(CampaignFeedback)))
    assert entries["S001"][1] == ("已签订2027年度框架协议。\n"
                                  "推广方案 TG-2026-01 冬季调峰气保供服务方案：进展阶段：未开展 → 有意向；"
                                  "本期进展：已向客户宣贯方案；预计签约时间：2027年3月\n"
                                  "推广方案 TG-2026-02 LNG槽车直供服务方案：进展阶段：未开展 → 已宣贯")
    assert entries["S001"][2] == "推广方案 TG-2026-01 冬季调峰气保供服务方案：合作意向及规模：年增供约1亿方"
    assert entries["S002"] == {1: "推广方案 TG-2026-01 冬季调峰气保供服务方案：进展阶段：未开展 → 无意向；"
                                  "本期进展：客户今冬自有气源充足"}
    assert "推广方案 TG-2026-01 冬季调峰气保供服务方案：合作意向及规模：年增供约1亿方" in said   # the ack shows them
    assert feedback == [(1, 1, 202611), (2, 1, 202611)]   # the round is the report's month
    data = board(app, "TG-2026-01")
    (gd,) = data["units"]
    assert gd["last_feedback"]["round"] == 202611 and data["next_feedback"] is None
    assert {r["customer"]: r["stage"] for r in gd["rows"]} == {"S001": "有意向", "S002": "无意向", "V001": "已宣贯"}
    json.dumps(data, ensure_ascii=False)

    # December, in the request's thread, only the campaign's workbook from the request filled and attached, the
    # request quoted below: its feedback alone — the accepted report is not superseded by a blank one —
    # acknowledged as campaign feedback, its round the month it came in.
    clock.set(2026, 12, 2, 10)
    book = next(a for a in parsed(request).iter_attachments() if a.get_filename() == "推广反馈表_TG-2026-01-GD.xlsx")
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = f"{GD[0]} <{GD[1]}>", HQ, "回复：" + request.subject
    reply["Message-ID"], reply["In-Reply-To"] = "<december-update@gd.example.cn>", request.message_id
    reply["Date"] = "Wed, 02 Dec 2026 10:00:00 +0800"
    reply.set_content("推广进展见附件。\n\n" + "\n".join("> " + line for line in body.splitlines()))
    reply.add_attachment(fill_campaign_workbook(book.get_content(), {"S001": {1: "洽谈中"}}),
                         maintype="application", subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                         filename="推广反馈表_TG-2026-01-GD.xlsx")
    arrive(app, reply.as_bytes())
    (update,) = outbox(app, "campaign-ack:TG-2026-01-GD:")
    assert "进展阶段：有意向 → 洽谈中（已记录变化）" in text(update) and len(outbox(app, "ack:")) == 1
    with app.sessions() as s:
        (sub,) = s.scalars(select(Submission))
        assert sub.version == 1 and sub.superseded_by_id is None
        assert max((f.version, f.round) for f in s.scalars(select(CampaignFeedback))) == (2, 202612)
    assert [r["stage"] for r in board(app, "TG-2026-01")["units"][0]["rows"]] == ["洽谈中", "无意向", "已宣贯"]
