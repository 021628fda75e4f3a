"""Mail about a request: HQ staff work it by replying with the command block of `domain/commands.py`.

Only HQ staff may command; a unit contact's reply is kept as a comment and
passed on to the assignee. Every change is written to the request's history
and acknowledged to whoever made it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from parsers import ParsedMessage

from mailbot.db.models import InboundMessage, Person, Request
from mailbot.directory.lookup import unit_recipients
from mailbot.domain.commands import STATUS_CN, Command, parse_commands, status_after
from mailbot.outbox.compose import Thread
from mailbot.outbox.drafts import thread_of
from mailbot.outbox.operator import operator_mail
from mailbot.pipeline.context import Ctx, Sender, quarantine
from mailbot.requests.mails import (
    request_answer_mail,
    request_notice_mail,
    request_refused_mail,
    request_status_mail,
    request_update_ack_mail,
)
from mailbot.requests.store import add_event, find_request, find_staff


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
    ctx.queue(key, "request_notice", request_notice_mail(
        ctx.department, reason, req, to, lead=lead, reply_address=ctx.app.identity.address, note=note),
        request_id=req.id)


def _asks_status(text: str) -> bool:
    """A unit's "查询" (what is the 诉求's status?): the word alone, or opening the mail's first line."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first.rstrip("。！!？?").startswith("查询") and len(first) <= 20


def handle_reply(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, sender: Person, req: Request) -> tuple[str, str]:
    """A reply about a request: HQ staff's commands, or a unit's follow-up kept as a comment."""
    now = msg.received_at
    parsed = parse_commands(p.new_text)
    if sender.role != "hq" and _asks_status(p.new_text):
        if ctx.may_answer(p.envelope.from_addr):
            ctx.queue(f"req-status:{msg.id}", "request_status", request_status_mail(ctx.department, req, p.envelope.from_addr,
                                                                               thread_of(p)),
                      answers=p.envelope.from_addr, request_id=req.id)
        return "answered", f"{req.number}: status asked by {sender.email}"
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

    done = _Applied(ctx, msg, sender, req, problems=list(parsed.problems))
    for c in parsed.commands:
        req.status = status_after(c, req.status)
        VERBS[c.verb](done, c)
    changes, problems = done.changes, done.problems
    if parsed.comment:
        add_event(ctx.s, req, now, sender.email, "note", parsed.comment, msg.id)
        changes.append("来信已作为备注记入办理记录")
    ctx.queue(f"req-ack:{msg.id}", "request_update_ack", request_update_ack_mail(
        ctx.department, req, sender, changes, problems, thread_of(p)), request_id=req.id)
    return "processed", f"{req.number}: {len(changes)} change(s), {len(problems)} problem(s) by {sender.email}"


@dataclass
class _Applied:
    """One HQ reply being applied to its request: what changed and what could not be done, for the ack."""

    ctx: Ctx
    msg: InboundMessage
    sender: Person
    req: Request
    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def event(self, action: str, detail: str | None = None) -> None:
        add_event(self.ctx.s, self.req, self.msg.received_at, self.sender.email, action, detail, self.msg.id)


def _status(done: _Applied, c: Command) -> None:
    done.event("status", STATUS_CN[c.value])
    done.changes.append(f"状态改为“{STATUS_CN[c.value]}”")


def _approval(done: _Applied, c: Command) -> None:
    done.event("approval")
    done.changes.append("已提交集团审议")


def _note(done: _Applied, c: Command) -> None:
    done.event("note", c.value)
    done.changes.append("备注已记录")


def _close(done: _Applied, c: Command) -> None:
    done.req.closed_at = done.msg.received_at
    done.event("close")
    done.changes.append("诉求已关闭")


def _transfer(done: _Applied, c: Command) -> None:
    req, sender = done.req, done.sender
    new = find_staff(done.ctx.s, c.value)
    if new is None:
        done.problems.append(f"“转交：{c.value}”不是登记的总部人员")
        return
    req.assignee = new
    done.event("transfer", f"转交{new.name}（{new.email}）")
    notify_assignee(done.ctx, req, "transferred", f"req-notice:{req.number}:transfer:{done.msg.id}",
                    lead=f"{sender.name}将此诉求转交您办理。")
    done.changes.append(f"已转交{new.name}")


def _answer(done: _Applied, c: Command) -> None:
    """The answer is mailed to the unit's contacts in the thread of the mail that raised the request."""
    ctx, req = done.ctx, done.req
    req.answer, req.answered_at = c.value, done.msg.received_at
    done.event("answer", c.value)
    to = unit_recipients(req.unit) if req.unit else []
    if not to:
        done.problems.append("该诉求没有登记的单位联系人，答复未能发出")
        return
    ctx.queue(f"req-answer:{req.number}:{done.msg.id}", "request_answer", request_answer_mail(
        ctx.department, req, to, c.value, f"总部{ctx.department} {done.sender.name}",
        Thread(req.inbound.message_id)), request_id=req.id)
    done.changes.append(f"答复已发送给{req.unit.name if req.unit else ''}（{'、'.join(to)}）")


# One function per command verb (domain/commands.py reads them; status_after is each one's pure transition).
VERBS: dict[str, Callable[[_Applied, Command], None]] = {
    "status": _status, "approval": _approval, "note": _note, "close": _close, "transfer": _transfer,
    "answer": _answer,
}
