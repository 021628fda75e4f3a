"""A unit's campaign feedback: matched to its campaign and unit, checked against who sent it, recorded (stage
changes with their dates, 需总部支持 as a 诉求, a customer the unit adds as a new target) and acknowledged — or
answered once with what to fix, the form quoted back with the answers kept.

Matched by the form's 编号 (`TG-2026-01-GD`: the parser also takes it from the subject), else by the thread of
one of our campaign mails (every key is ``campaign-<what>:<token>…``). Only a contact of that unit may answer
for it: another unit's contact writing under GD's 编号 is quarantined, as a report number of another unit is. A
monthly report carrying campaign blocks belongs to the reports capability (not yet recorded here); a reply in a
campaign thread without a form is not ours either, so the correspondence capability hands it to a person.
"""

from __future__ import annotations

from sqlalchemy import select

from parsers import ParsedMessage
from parsers.campaign import CampaignFeedback as ParsedFeedback
from parsers.campaign import CampaignTarget as ParsedTarget
from parsers.campaigntext import LABELS, find_campaign_token

from mailbot.campaigns import mails
from mailbot.campaigns.rounds import round_of
from mailbot.campaigns.store import (
    add_target_by_unit,
    customer_of,
    dates_of,
    find_campaign,
    record_entry,
    record_feedback,
    target_for,
    token_of,
    unit_targets,
)
from mailbot.db.models import Campaign, CampaignEntry, CampaignTarget, InboundMessage, Person, Request, Unit
from mailbot.outbox.queue import replied_to
from mailbot.pipeline.context import Ctx, Sender, quarantine
from mailbot.requests.inbound import notify_assignee
from mailbot.requests.store import find_staff, open_or_merge


def route(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, known: Sender) -> tuple[str, str] | None:
    """Campaign feedback from a unit's contact, or anything under a campaign 编号 or in a campaign thread that
    another unit's contact sent; everything else is not ours."""
    if p.kind == "monthly_report":
        return None
    found = _match(ctx, p)
    if found is None:
        return None
    campaign, unit_code, feedback = found
    sender = known.person
    if sender.role != "contact" or sender.unit is None:
        return None
    if sender.unit.code != unit_code:
        return quarantine(ctx, msg, f"编号 {campaign.number}-{unit_code} 属于另一单位，但发件人 {sender.email} "
                                    f"是{sender.unit.name}的联系人，推广反馈未记录")
    if feedback is None:
        return None   # a reply in the thread without the form: a person at HQ reads it
    unit = sender.unit
    msg.unit_id = unit.id
    if campaign.status == "closed":
        return "processed", f"campaign {campaign.number} closed: not recorded"
    token = token_of(campaign, unit)
    may_answer = ctx.may_answer(p.envelope.from_addr)
    problems = _problems(ctx, feedback)
    if problems:
        if may_answer:
            ctx.queue(f"campaign-error:{token}:{msg.id}", "error_reply",
                      mails.error_mail(ctx.department, p, campaign, token, problems, feedback.text),
                      answers=p.envelope.from_addr)
        return "answered", f"campaign {token}: {len(problems)} problem(s)"
    return _accept(ctx, msg, p, campaign, unit, sender, feedback, answer=may_answer)


def _match(ctx: Ctx, p: ParsedMessage) -> tuple[Campaign, str, ParsedFeedback | None] | None:
    """(campaign, unit code of the 编号, the feedback read for it or None): the form's number first, then the
    thread of our campaign mail."""
    for fb in p.campaigns:
        if fb.campaign is not None and fb.unit is not None:
            campaign = find_campaign(ctx.s, fb.campaign)
            if campaign is not None:
                return campaign, fb.unit, fb
    for ours in replied_to(ctx.s, p.envelope.thread_ids):
        if ours.idem_key.startswith("campaign-"):
            token = find_campaign_token(ours.idem_key.split(":")[1])
            campaign = find_campaign(ctx.s, token.campaign) if token else None
            if token is not None and campaign is not None:
                # A form without a readable 编号 of its own, in our thread, answers that thread's campaign.
                mine = next((fb for fb in p.campaigns if fb.token is None), None)
                return campaign, token.unit, mine
    return None


def _problems(ctx: Ctx, feedback: ParsedFeedback) -> list[str]:
    problems = [e.message for e in feedback.errors]
    for block in feedback.targets:
        if block.customer and customer_of(ctx.s, block.customer) is None:
            problems.append(f"客户编号 {block.customer} 不在客户名录中，请核对后重新填写（新接触的客户请联系总部登记）")
    if not feedback.targets and not problems:
        problems.append("推广反馈表中没有任何【客户】栏目，请在下方反馈表中填写后发送")
    return problems


def _accept(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, campaign: Campaign, unit: Unit, sender: Person,
            feedback: ParsedFeedback, *, answer: bool) -> tuple[str, str]:
    dates = dates_of(campaign, ctx.app.calendar)
    round_ = round_of(msg.received_at.astimezone(ctx.app.tz).date(), dates)
    record = record_feedback(ctx.s, campaign, unit, msg, round_)
    warnings = [w.message for w in feedback.warnings]
    rows: list[dict[str, object]] = []
    moved = 0
    reported: set[int] = set()
    for block in feedback.targets:
        if _empty(block):
            continue   # a block left blank is "no change", like a blank stage: nothing to keep
        customer = customer_of(ctx.s, block.customer)
        assert customer is not None   # checked in _problems
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
    if answer:
        ctx.queue(f"campaign-ack:{token_of(campaign, unit)}:{msg.id}", "ack", mails.ack_mail(
            ctx.department, p, campaign, unit, token_of(campaign, unit), version=record.version, rows=rows,
            unchanged=unchanged, warnings=warnings), answers=p.envelope.from_addr)
    return "processed", (f"campaign {token_of(campaign, unit)}: v{record.version} round {round_}, "
                         f"{len(rows)} block(s), {moved} stage change(s)")


def _empty(block: ParsedTarget) -> bool:
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
                                subject=f"推广需总部支持：{customer.name}（{campaign.number}）")
    if not merged:
        notify_assignee(ctx, req, "assigned", f"req-notice:{req.number}:assigned",
                        lead=f"{unit.name}在推广方案 {campaign.number} 中就{customer.name}提出需总部支持，请跟进。")
    return req


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
