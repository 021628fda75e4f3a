"""A unit's campaign feedback: matched to its campaign and unit, checked against who sent it, recorded (stage
changes with their dates, 需总部支持 as a 诉求, a customer the unit adds as a new target) and acknowledged — or
answered once with what to fix, the form quoted back with the answers kept.

Matched by the form's 编号 (`TG-2026-01-GD`: the parser also takes it from the subject), else by the thread of
one of our campaign mails (every key is ``campaign-<what>:<token>…``). Only a contact of that unit may answer
for it: another unit's contact writing under GD's 编号 is quarantined, as a report number of another unit is. A
monthly report carrying filled campaign blocks is the reports capability's to handle, with the blocks handed in
as its rider (`monthly`): one reply, both records, one acknowledgement. A reply in a campaign thread without a
form is not ours, so the correspondence capability hands it to a person.
"""

from __future__ import annotations

from parsers import ParsedMessage
from parsers.campaign import CampaignFeedback as ParsedFeedback
from parsers.campaigntext import find_campaign_token

from mailbot.campaigns import mails
from mailbot.campaigns.monthly import MonthlyFeedback
from mailbot.campaigns.recording import feedback_problems, record_blocks, round_for
from mailbot.campaigns.store import find_campaign, token_of
from mailbot.db.models import Campaign, InboundMessage, Person, Unit
from mailbot.outbox.queue import replied_to
from mailbot.pipeline.context import Ctx, Sender, quarantine
from mailbot.reports import inbound as reports


def route(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, known: Sender) -> tuple[str, str] | None:
    """Campaign feedback from a unit's contact, or anything under a campaign 编号 or in a campaign thread that
    another unit's contact sent; a unit contact's monthly report carrying filled campaign blocks, handed to the
    reports capability with those blocks as its rider; everything else is not ours."""
    sender = known.person
    if p.kind == "monthly_report":
        if not p.campaigns or sender.role != "contact" or sender.unit is None:
            return None
        if p.has_answers:
            return reports.route(ctx, msg, p, known, rider=MonthlyFeedback(ctx, msg, p, sender.unit))
        # Only the campaign forms filled (a progress update in the request's thread): their feedback alone, so an
        # accepted report is not superseded by a blank one, and the month still waits for its report.
        answers = [a for found in _numbered(ctx, p) if (a := _answer(ctx, msg, p, sender, *found)) is not None]
        return next((a for a in answers if a[0] != "processed"), None) or (
            ("processed", "; ".join(note for _, note in answers)) if answers else None)
    found = _match(ctx, p)
    if found is None:
        return None
    return _answer(ctx, msg, p, sender, *found)


def _answer(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, sender: Person, campaign: Campaign, unit_code: str,
            feedback: ParsedFeedback | None) -> tuple[str, str] | None:
    """One campaign's feedback in a unit contact's mail: refused from another unit, corrected, or recorded."""
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


def _numbered(ctx: Ctx, p: ParsedMessage) -> list[tuple[Campaign, str, ParsedFeedback | None]]:
    """(campaign, unit code, feedback) of every form in the mail whose 编号 names a campaign of ours."""
    out: list[tuple[Campaign, str, ParsedFeedback | None]] = []
    for fb in p.campaigns:
        if fb.campaign is not None and fb.unit is not None:
            campaign = find_campaign(ctx.s, fb.campaign)
            if campaign is not None:
                out.append((campaign, fb.unit, fb))
    return out


def _match(ctx: Ctx, p: ParsedMessage) -> tuple[Campaign, str, ParsedFeedback | None] | None:
    """(campaign, unit code of the 编号, the feedback read for it or None): the form's number first, then the
    thread of our campaign mail."""
    numbered = _numbered(ctx, p)
    if numbered:
        return numbered[0]
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
    return [x.message for x in feedback_problems(ctx, feedback)]


def _accept(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, campaign: Campaign, unit: Unit, sender: Person,
            feedback: ParsedFeedback, *, answer: bool) -> tuple[str, str]:
    done = record_blocks(ctx, msg, campaign, unit, feedback, round_for(ctx, campaign, msg))
    token = token_of(campaign, unit)
    if answer:
        ctx.queue(f"campaign-ack:{token}:{msg.id}", "ack", mails.ack_mail(
            ctx.department, p, campaign, unit, token, version=done.version, rows=done.rows,
            unchanged=done.unchanged, warnings=done.warnings), answers=p.envelope.from_addr)
    return "processed", (f"campaign {token}: v{done.version} round {done.round}, "
                         f"{len(done.rows)} block(s), {done.moved} stage change(s)")
