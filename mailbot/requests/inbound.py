"""Mail about a request: HQ staff work it by replying with the command block of `domain/commands.py`.

Only HQ staff may command; a unit contact's reply is kept as a comment and
passed on to the assignee. Every change is written to the request's history
and acknowledged to whoever made it.
"""

from __future__ import annotations

from parsers import ParsedMessage

from mailbot.db.models import InboundMessage, Person, Request
from mailbot.domain.commands import STATUS_CN, parse_commands
from mailbot.outbox.compose import Thread
from mailbot.pipeline.context import Ctx, Sender, quarantine
from mailbot.requests.store import add_event, find_request, find_staff
from mailbot.outbox.drafts import thread_of
from mailbot.outbox.operator import operator_mail
from mailbot.requests.mails import (
    request_answer_mail,
    request_notice_mail,
    request_refused_mail,
    request_update_ack_mail,
)


def route(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, known: Sender) -> tuple[str, str] | None:
    """A reply about a request (its thread, or its SQ- number), not a monthly report; anything else: not ours.

    A unit's contact may write only about its own unit's requests; HQ staff's commands need our mail server's
    word (a trusted pass) wherever `security.authserv_ids` lets it speak.
    """
    if p.kind == "monthly_report":
        return None
    req = find_request(ctx.s, p)
    if req is None:
        return None
    sender, addr = known.person, p.envelope.from_addr
    if sender.role != "hq" and req.unit_id is not None and req.unit_id != sender.unit_id:
        return quarantine(ctx, msg, f"{req.number} 属于{req.unit.name if req.unit else '其他单位'}，"
                                    f"发件人 {addr} 不是该单位的登记联系人")
    if sender.role == "hq" and ctx.app.settings.security.authserv_ids and not known.vouched:
        return quarantine(ctx, msg, f"总部人员 {sender.name}（{addr}）关于 {req.number} 的来信"
                                    f"未经邮件服务器认证（{known.check}），其中的办理指令未执行")
    return handle_reply(ctx, msg, p, sender, req)


def notify_assignee(ctx: Ctx, req: Request, reason: str, key: str, *, lead: str, note: str | None = None) -> None:
    to = [req.assignee] if req.assignee else []
    if not to:
        return
    ctx.queue(key, "request_notice", request_notice_mail(ctx.department, reason, req, to, lead=lead,
                                                               note=note), request_id=req.id)


def handle_reply(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, sender: Person, req: Request) -> tuple[str, str]:
    """A reply about a request: HQ staff's commands, or a unit's follow-up kept as a comment."""
    now = msg.received_at
    parsed = parse_commands(p.new_text)
    if sender.role != "hq":
        detail = p.new_text.strip() or p.envelope.subject
        add_event(ctx.s, req, now, sender.email, "comment", detail, msg.id)
        notify_assignee(ctx, req, "unit_comment", f"req-notice:{req.number}:comment:{msg.id}",
                        lead=f"{sender.unit.name if sender.unit else ''}{sender.name}就此诉求来信，内容如下。",
                        note=detail)
        if parsed.commands or parsed.problems:
            ctx.queue(f"req-refused:{msg.id}", "request_refused", request_refused_mail(ctx.department, p, req.number),
                      answers=p.envelope.from_addr, request_id=req.id)
            ctx.queue(f"operator:req-refused:{msg.id}", "operator", operator_mail(
                ctx.department, ctx.app.settings.operator, "非总部人员发出诉求办理指令",
                f"{sender.email} 对 {req.number} 发出办理指令，已拒绝并记为来信。"))
            return "answered", f"{req.number}: commands from a non-HQ sender refused"
        return "processed", f"{req.number}: comment from {sender.email}"

    changes: list[str] = []
    problems = list(parsed.problems)
    for c in parsed.commands:
        if c.verb == "status":
            req.status = c.value
            add_event(ctx.s, req, now, sender.email, "status", STATUS_CN[c.value], msg.id)
            changes.append(f"状态改为“{STATUS_CN[c.value]}”")
        elif c.verb == "approval":
            req.status = "awaiting_approval"
            add_event(ctx.s, req, now, sender.email, "approval", None, msg.id)
            changes.append("已提交集团审议")
        elif c.verb == "note":
            add_event(ctx.s, req, now, sender.email, "note", c.value, msg.id)
            changes.append("备注已记录")
        elif c.verb == "close":
            req.status, req.closed_at = "closed", now
            add_event(ctx.s, req, now, sender.email, "close", None, msg.id)
            changes.append("诉求已关闭")
        elif c.verb == "transfer":
            new = find_staff(ctx.s, c.value)
            if new is None:
                problems.append(f"“转交：{c.value}”不是登记的总部人员")
                continue
            req.assignee = new
            add_event(ctx.s, req, now, sender.email, "transfer", f"转交{new.name}（{new.email}）", msg.id)
            notify_assignee(ctx, req, "transferred", f"req-notice:{req.number}:transfer:{msg.id}",
                            lead=f"{sender.name}将此诉求转交您办理。")
            changes.append(f"已转交{new.name}")
        elif c.verb == "answer":
            req.answer, req.answered_at, req.status = c.value, now, "answered"
            add_event(ctx.s, req, now, sender.email, "answer", c.value, msg.id)
            to = [x.email for x in req.unit.contacts if x.active] if req.unit else []
            if to:
                ctx.queue(f"req-answer:{req.number}:{msg.id}", "request_answer", request_answer_mail(
                    ctx.department, req, to, c.value, f"总部{ctx.department} {sender.name}",
                    Thread(req.inbound.message_id)), request_id=req.id)
                changes.append(f"答复已发送给{req.unit.name if req.unit else ''}（{'、'.join(to)}）")
            else:
                problems.append("该诉求没有登记的单位联系人，答复未能发出")
    if parsed.comment:
        add_event(ctx.s, req, now, sender.email, "note", parsed.comment, msg.id)
        changes.append("来信已作为备注记入办理记录")
    ctx.queue(f"req-ack:{msg.id}", "request_update_ack", request_update_ack_mail(
        ctx.department, req, sender, changes, problems, thread_of(p)), request_id=req.id)
    return "processed", f"{req.number}: {len(changes)} change(s), {len(problems)} problem(s) by {sender.email}"
