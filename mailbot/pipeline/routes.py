"""Routing one recorded message: read it, decide who sent it, then ask the capabilities in a fixed order.

`handle` does what every message needs — parse, set automatic mail aside, refuse a From we cannot believe,
answer oversized mail — and then asks each capability in `ROUTES`, in order, whether the mail is its own; the
first that takes it decides. A new capability that receives mail adds one line to `ROUTES`.

    surveys    a survey response, and any mail from a customer's own contact
    campaigns  a unit's campaign feedback (its TG- number or thread); another unit's contact is quarantined
    visits     a reply about a visit (its thread, its VIS- number, a filled summary or progress form)
    requests   a reply about a 诉求 (its thread or SQ- number): HQ staff's commands, a unit's follow-up
    reports    a unit contact's mail: the monthly report, urgent mail, or a failed attempt at the report
    correspondence   a unit contact's other mail: handed to a person at HQ
"""

from __future__ import annotations

from collections.abc import Callable

from parsers import ParsedMessage, Problem, UnreadableMessage, parse_message

from mailbot.campaigns import inbound as campaigns
from mailbot.correspondence import inbound as correspondence
from mailbot.db.models import InboundMessage
from mailbot.directory.lookup import active_people
from mailbot.pipeline.bounces import handle_bounce
from mailbot.pipeline.context import Ctx, Sender, quarantine
from mailbot.pipeline.sender import authenticate
from mailbot.reports import inbound as reports
from mailbot.reports.mails import error_mail
from mailbot.requests import inbound as requests
from mailbot.surveys import inbound as surveys
from mailbot.visits import inbound as visits

Route = Callable[[Ctx, InboundMessage, ParsedMessage, Sender], "tuple[str, str] | None"]

FORGED_NEXT = ("多为冒用发件人的邮件，无需处理，切勿按其内容办理。若确为正常来信（例如经邮件列表或转发），请核实发件人并"
               "请邮件管理员检查 SPF/DKIM/DMARC 设置，再运行 mailbot reparse {id}。")

ROUTES: tuple[Route, ...] = (surveys.route, campaigns.route, visits.route, requests.route, reports.route,
                             correspondence.route)


def handle(ctx: Ctx, msg: InboundMessage) -> tuple[str, str]:
    """Decide what one recorded message means and do it; returns (status, note)."""
    try:
        p = parse_message(msg.raw)
    except UnreadableMessage as e:
        return quarantine(ctx, msg, f"无法读取的邮件：{e}", at_once=False)
    env = p.envelope
    msg.kind, msg.from_addr, msg.subject = p.kind, env.from_addr or None, env.subject[:2000]
    if env.automatic_reasons or p.kind in ("bounce", "auto_reply"):
        if msg.outcome == "oversized":
            return quarantine(ctx, msg, f"邮件过大（{msg.size} 字节）", at_once=False)
        if p.kind == "bounce":
            return handle_bounce(ctx, msg, p)
        return "ignored", "automatic: " + ", ".join(env.automatic_reasons or (p.kind,))
    if env.from_problem:
        return quarantine(ctx, msg, f"{env.from_problem}，可能是冒用地址", next_step=FORGED_NEXT)
    person = active_people(ctx.s).get(env.from_addr)
    if person is None:
        # Strangers are the bulk of a mailbox (spam, newsletters, a contact not yet registered): the digest.
        return quarantine(ctx, msg, f"发件人 {env.from_addr or '（无）'} 不是登记的联系人", at_once=False)
    known = authenticate(ctx, env, person)
    if isinstance(known, str):
        return quarantine(ctx, msg, known, next_step=FORGED_NEXT)
    sender = known.person
    if sender.bounced_at is not None:  # mail from the address: it works again
        sender.bounced_at = sender.bounce_note = None
    if msg.outcome == "oversized":
        # Told once a day at most: three oversized mails are one mistake, and each answer is another large echo.
        day = msg.received_at.astimezone(ctx.app.tz).strftime("%Y%m%d")
        ctx.queue(f"error:oversized:{sender.email}:{day}", "error_reply", error_mail(
            ctx.department, p, None, None, p.token,
            [Problem("", "邮件超过大小限制，未能接收；请删除大附件后重新发送")]), answers=env.from_addr)
        return quarantine(ctx, msg, f"邮件过大（{msg.size} 字节）", at_once=False)
    for route in ROUTES:
        done = route(ctx, msg, p, known)
        if done is not None:
            return done
    return quarantine(ctx, msg, f"总部人员 {sender.name} 的来信未关联任何诉求（回复诉求邮件或在主题中写明编号）",
                      at_once=False)
