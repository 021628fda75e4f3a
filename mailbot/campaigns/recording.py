"""Checking and recording one unit's campaign feedback, wherever it came: a reply to the campaign's own mails
(`inbound`) or blocks riding in a monthly report (`monthly`).

Nothing is recorded until `feedback_problems` finds nothing to fix. Then `record_blocks` keeps the reply whole:
the unit's next version (the round it answers), each block that says something, each stage change with its date,
a 诉求 opened or joined for each 需总部支持：是 (for the customer's 总部对接人, else the unit's own), and a customer
the unit adds as a new target, with a warning; it returns each block as the acknowledgement shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from parsers import Problem
from parsers.campaign import CampaignFeedback as ParsedFeedback
from parsers.campaign import CampaignTarget as ParsedTarget
from parsers.campaigntext import LABELS

from mailbot.campaigns.rounds import month_round, round_of
from mailbot.campaigns.store import (
    add_target_by_unit,
    customer_of,
    dates_of,
    record_entry,
    record_feedback,
    target_for,
    unit_targets,
)
from mailbot.db.models import Campaign, CampaignEntry, CampaignTarget, InboundMessage, Request, Unit
from mailbot.domain.titles import request_title
from mailbot.pipeline.context import Ctx
from mailbot.reports.store import local_period
from mailbot.requests.inbound import notify_assignee
from mailbot.requests.store import find_staff, open_or_merge


def feedback_problems(ctx: Ctx, feedback: ParsedFeedback) -> list[Problem]:
    """What the unit must fix before anything of this feedback is recorded (`where` as the parser writes it,
    customer code / field)."""
    problems = list(feedback.errors)
    for block in feedback.targets:
        if block.customer and customer_of(ctx.s, block.customer) is None:
            problems.append(Problem(block.customer, f"客户编号 {block.customer} 不在客户名录中，请核对后重新填写"
                                                    "（新接触的客户请联系总部登记）"))
    if not feedback.targets and not problems:
        problems.append(Problem("", "推广反馈表中没有任何【客户】栏目，请在下方反馈表中填写后发送"))
    return problems


@dataclass(frozen=True)
class Recorded:
    """One accepted feedback as recorded: its version and round, each block as the acknowledgement shows it."""

    version: int
    round: int
    rows: list[dict[str, object]]
    warnings: list[str]
    moved: int
    unchanged: int      # active targets the feedback said nothing about


def round_for(ctx: Ctx, campaign: Campaign, msg: InboundMessage, period_key: str | None = None) -> int:
    """The round a feedback answers: by the feedback dates, or — with the monthly request — the report's month
    (else the month it arrived)."""
    if campaign.every_days is None:
        return month_round(period_key or local_period(msg.received_at, ctx.app.tz))
    return round_of(msg.received_at.astimezone(ctx.app.tz).date(), dates_of(campaign, ctx.app.calendar))


def record_blocks(ctx: Ctx, msg: InboundMessage, campaign: Campaign, unit: Unit, feedback: ParsedFeedback,
                  round_: int) -> Recorded:
    """Record a feedback already checked (`feedback_problems` found nothing): the next version, every block that
    says something, the stage changes, a 诉求 for each 需总部支持：是, a customer the unit adds as a new target."""
    record = record_feedback(ctx.s, campaign, unit, msg, round_)
    warnings = [w.message for w in feedback.warnings]
    rows: list[dict[str, object]] = []
    moved = 0
    reported: set[int] = set()
    for block in feedback.targets:
        if empty_block(block):
            continue   # a block left blank is "no change", like a blank stage: nothing to keep
        customer = customer_of(ctx.s, block.customer)
        assert customer is not None   # checked in feedback_problems
        target = target_for(ctx.s, campaign, customer, unit)
        if target is None:
            target = add_target_by_unit(ctx.s, campaign, customer, unit, msg.received_at)
            warnings.append(f"客户 {customer.code} {customer.name} 不在贵单位本方案的目标客户中，已作为新增目标客户记录；"
                            "如有误请告知总部")
        elif not target.active:
            warnings.append(f"客户 {customer.code} 已不在本方案的目标客户中，本次反馈仍已记录")
        reported.add(target.id)
        before, now = record_entry(ctx.s, record, target, block, msg)
        moved += now is not None
        req = _needs_hq(ctx, msg, campaign, unit, target, block) if block.needs_hq else None
        if req is not None:
            record_request(ctx, record.id, target.id, req)
        rows.append(_row(target, block, before, now, req))
    unchanged = sum(1 for t in unit_targets(campaign, unit.id) if t.id not in reported)
    return Recorded(record.version, round_, rows, warnings, moved, unchanged)


def empty_block(block: ParsedTarget) -> bool:
    return all(getattr(block, key) is None for key in ("stage", "intention", "progress", "next", "signing_text",
                                                        "needs_hq"))


def record_request(ctx: Ctx, feedback_id: int, target_id: int, req: Request) -> None:
    """The 诉求 a block opened or joined, on that block's entry (the board lists it)."""
    entry = ctx.s.scalar(select(CampaignEntry).where(CampaignEntry.feedback_id == feedback_id,
                                                     CampaignEntry.target_id == target_id))
    if entry is not None:
        entry.request_id = req.id


def _needs_hq(ctx: Ctx, msg: InboundMessage, campaign: Campaign, unit: Unit, target: CampaignTarget,
              block: ParsedTarget) -> Request:
    """Open (or join) a 诉求 for the customer's 总部对接人 — else the unit's own — with the block's text."""
    customer = target.customer
    lines = [f"{unit.name}在推广全国性产品及服务方案“{campaign.title}”（{campaign.number}）中需总部支持：",
             f"客户：{customer.code} {customer.name}"]
    for key in ("stage", "intention", "progress", "next"):
        value = getattr(block, key)
        if value:
            lines.append(f"{LABELS[key]}：{value}")
    if block.signing_text:
        lines.append(f"{LABELS['signing']}：{block.signing_text}")
    own = ctx.app.directory.unit_hq_staff(unit.code)
    assignee = customer.hq_staff or (find_staff(ctx.s, own) if own else None)
    req, merged = open_or_merge(ctx.s, ctx.app.settings.requests, source="campaign", unit=unit, customer=customer,
                                category=None, text="\n".join(lines), inbound=msg, calendar=ctx.app.calendar,
                                tz=ctx.app.tz, assignee=assignee,
                                subject=_title(campaign, block))
    if not merged:
        notify_assignee(ctx, req, "assigned", f"req-notice:{req.number}:assigned",
                        lead=f"{unit.name}在推广方案 {campaign.number} 中就{customer.name}提出需总部支持，请跟进。")
    return req


def _title(campaign: Campaign, block: ParsedTarget) -> str:
    """The 诉求's one-line title: what the unit wrote of the matter (the customer is a column of its own wherever
    the title is shown)."""
    said = next((text for text in (block.progress, block.next, block.intention) if text), "")
    return f"{campaign.number}推广需总部支持：{request_title(said) if said else '详见反馈'}"


def _row(target: CampaignTarget, block: ParsedTarget, before: str, now: str | None,
         req: Request | None) -> dict[str, object]:
    """One block as the acknowledgement shows it: the stage as recorded, every answer, the 诉求."""
    if now is not None:
        stage_line = f"{before} → {now}（已记录变化）"
    elif block.stage is not None:
        stage_line = f"{block.stage}（与上次相同）"
    else:
        stage_line = f"未填写，保持“{before}”"
    lines = [{"label": LABELS[key], "text": getattr(block, key)} for key in ("intention", "progress", "next")
             if getattr(block, key)]
    if block.signing_text:
        read = block.expected_signing
        lines.append({"label": LABELS["signing"],
                      "text": block.signing_text + (f"（记为 {read}）" if read and read != block.signing_text else "")})
    if req is not None:
        who = f"，承办人 {req.assignee.name}" if req.assignee else ""
        hq_line = f"是——已转总部办理，诉求编号 {req.number}{who}"
    else:
        hq_line = {True: "是", False: "否", None: "未填写"}[block.needs_hq]
    return {"code": target.customer.code, "name": target.customer.name, "stage_line": stage_line, "lines": lines,
            "hq_line": hq_line}
