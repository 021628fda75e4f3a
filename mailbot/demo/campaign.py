"""`mailbot demo`: a small national campaign (config/campaign.example.yaml) run beside October and November.

Launched on October's request day to 广东分公司 and 北京分公司 (their strategic customers), feedback every 14 days:
three feedback dates fall before the November bulletin. 广东分公司 answers each on time — 国家电网 moves from 已宣贯
to 洽谈中 and it asks for HQ's support, which opens a 诉求 — 北京分公司 misses the first, is reminded and escalated
to its 单位负责人, answers in the second, and is silent again in the third. The November bulletin carries the campaign's board; `mailbot campaign status TG-2026-01` shows it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml
from sqlalchemy import select

from mailbot.app import App
from mailbot.campaigns.board import board, board_lines
from mailbot.campaigns.store import launch_campaign
from mailbot.db.models import OutboxMail
from mailbot.demo import replies
from mailbot.demo.days import At, Mail
from mailbot.render.pdf import render_pdf

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "campaign.example.yaml"
NUMBER = "TG-2026-01"

# Days after the launch each unit answers, and what, by the form's numbered lines (1 进展阶段 … 6 需总部支持).
# BJ's answer comes after the first feedback date: it counts for the second.
FEEDBACK: dict[int, tuple[str, tuple[str, str], dict[str, dict[str, str]]]] = {
    12: ("GD", ("李明", "liming@gd.example.cn"), {
        "S001": {"1": "已宣贯", "2": "冬季调峰气约2000万方", "3": "已向客户计划部宣贯方案，客户表示关注。",
                 "4": "11月上旬提交调峰气量测算。", "5": "待定", "6": "否"},
        "S002": {"1": "已宣贯", "3": "已送达方案材料。", "6": "否"},
        "S003": {"1": "无意向", "3": "客户已与其他供应商签订冬季保供协议。", "6": "否"}}),
    18: ("BJ", ("孙悦", "sunyue@bj.example.cn"), {
        "S001": {"1": "已宣贯", "3": "随广东分公司一并对接客户总部。", "6": "否"},
        "S010": {"1": "有意向", "2": "调峰气约500万方", "3": "客户有意锁定今冬调峰气量。",
                 "4": "12月初商谈合同条款。", "5": "2027年1月", "6": "否"}}),
    26: ("GD", ("李明", "liming@gd.example.cn"), {
        "S001": {"1": "洽谈中", "2": "冬季调峰气约3000万方", "3": "客户确认需求，正在商谈价格和气量条款。",
                 "4": "12月中旬完成合同文本。", "5": "2027年3月", "6": "是"},
        "S008": {"1": "有意向", "2": "调峰气约800万方", "3": "客户来函询价。", "4": "11月底报价。",
                 "5": "2027-02", "6": "否"}}),
    40: ("GD", ("李明", "liming@gd.example.cn"), {
        "S002": {"1": "有意向", "2": "调峰气约1000万方", "3": "客户同意就冬季调峰气量进行测算。", "4": "12月上旬报价。",
                 "5": "2027年2月", "6": "否"}}),
}


def campaign_file(root: Path) -> Path:
    """The example campaign file with the demo's own plan document (the example's is not shipped)."""
    plan = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    document = root / "campaigns" / f"{plan['title']}.pdf"
    document.parent.mkdir(parents=True, exist_ok=True)
    document.write_bytes(render_pdf(f"<h1>{plan['title']}</h1><p>{plan['description']}</p>"))
    plan["documents"] = [str(document)]
    path = root / "campaign.yaml"
    path.write_text(yaml.safe_dump(plan, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class DemoCampaign:
    """HQ launches on the first morning; the units' feedback arrives on the days of `FEEDBACK`."""

    def __init__(self, root: Path, launch: date) -> None:
        self.root, self.launch = root, launch

    def morning(self, app: App, day: date) -> list[str]:
        if day != self.launch:
            return []
        return [f"campaign {line}" for line in launch_campaign(app, campaign_file(self.root)).lines()]

    def arrivals(self, app: App, day: date, at: At) -> list[Mail]:
        unit, sender, answers = FEEDBACK.get((day - self.launch).days, ("", ("", ""), {}))
        if not unit:
            return []
        with app.sessions() as s:
            notice = s.scalars(select(OutboxMail.raw).where(OutboxMail.idem_key == f"campaign-notice:{NUMBER}-{unit}")
                               ).one()
        orig, text = replies.text_of(notice)
        when = at(day, 10, 40)
        body = replies.fill_campaign(text[text.index("【推广反馈】"):], answers)
        return [(when, replies.build(sender=sender, to=str(orig["From"]), subject=f"回复：{orig['Subject']}",
                                     body=f"推广进展反馈如下。\n\n{body}\n", at=when,
                                     in_reply_to=str(orig["Message-ID"])))]


def status(app: App) -> list[str]:
    """`mailbot campaign status TG-2026-01` as the demo prints it."""
    return board_lines(board(app, NUMBER))
