"""Requests (诉求, §8.1.2 and §8.2) from report to answer, by e-mail only.

A request is opened by a "needs HQ" answer, a VIP block needing HQ, or an
urgent matter, and assigned to the customer's designated HQ staff (else the
duty list). **The same matter reported again attaches to the open request**
instead of opening another: same unit, same customer, same source (strategic
report, VIP report, urgent) and the request not yet answered or closed. An
urgent mail about no identifiable customer always opens a new one.

HQ staff work a request by replying to any mail about it (the thread, or the
`SQ-yyyy-nnnn` number in the subject) with the command block of
`domain/commands.py`. Only HQ staff may command; a unit contact's reply is
kept as a comment and passed on to the assignee. Every change is written to
the request's history and acknowledged to whoever made it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parsers import ParsedMessage

from mailbot import mails
from mailbot.db.models import Customer, InboundMessage, Person, Request, RequestEvent, Submission, Unit
from mailbot.domain.commands import OPEN, STATUS_CN, parse_commands
from mailbot.outbox.compose import Thread
from mailbot.outbox.queue import replied_to
from mailbot.settings import RequestSettings

if TYPE_CHECKING:
    from mailbot.intake import Ctx

NUMBER = re.compile(r"SQ-\d{4}-\d{4,}")
BOT = "mailbot"


def due_at(cfg: RequestSettings, source: str, category: int | None, created: datetime) -> datetime:
    days = cfg.due_days.get(source, 10)  # type: ignore[call-overload]
    if source == "strategic" and category in cfg.category_due_days:
        days = cfg.category_due_days[category]  # type: ignore[index]
    return created + timedelta(days=days)


def add_event(s: Session, req: Request, at: datetime, actor: str, action: str, detail: str | None = None,
              inbound_id: int | None = None) -> None:
    s.add(RequestEvent(request=req, at=at, actor=actor, action=action, detail=detail, inbound_id=inbound_id))


def open_or_merge(s: Session, cfg: RequestSettings, *, source: str, unit: Unit | None, customer: Customer | None,
                  category: int | None, text: str, inbound: InboundMessage, submission: Submission | None = None,
                  assignee: Person | None = None) -> tuple[Request, bool]:
    """The open request for this matter, told it was reported again; or a new one. Returns (request, merged)."""
    at = inbound.received_at
    if unit is not None and customer is not None:
        existing = s.scalar(select(Request).where(Request.unit_id == unit.id, Request.customer_id == customer.id,
                                                  Request.source == source, Request.status.in_(OPEN))
                            .order_by(Request.id))
        if existing is not None:
            existing.last_reported_at = at
            add_event(s, existing, at, inbound.from_addr or BOT, "reported_again", text, inbound.id)
            return existing, True
    prefix = f"SQ-{at.year}-"
    last = s.scalar(select(func.max(Request.number)).where(Request.number.like(prefix + "%")))
    seq = int(last[len(prefix):]) + 1 if last else 1
    req = Request(number=f"{prefix}{seq:04d}", source=source, unit=unit, customer=customer, category=category,
                  text=text, urgent=source == "urgent", inbound=inbound, submission=submission,
                  assignee=assignee or (customer.hq_staff if customer else None), status="new", created_at=at,
                  due_at=due_at(cfg, source, category, at))
    s.add(req)
    s.flush()
    add_event(s, req, at, inbound.from_addr or BOT, "created", None, inbound.id)
    return req, False


def find_request(s: Session, p: ParsedMessage) -> Request | None:
    """The request a mail is about: a reply to one of our mails about it, else its number in the subject."""
    for ours in replied_to(s, p.envelope.thread_ids):
        if ours.request_id is not None:
            return s.get(Request, ours.request_id)
    m = NUMBER.search(p.envelope.subject)
    return s.scalar(select(Request).where(Request.number == m.group(0))) if m else None


def notify_assignee(ctx: Ctx, req: Request, reason: str, key: str, *, lead: str, note: str | None = None) -> None:
    to = [req.assignee] if req.assignee else []
    if not to:
        return
    ctx.queue(key, "request_notice", mails.request_notice_mail(ctx.department, reason, req, to, lead=lead,
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
            ctx.queue(f"req-refused:{msg.id}", "request_refused", mails.request_refused_mail(ctx.department, p, req.number),
                      answers=p.envelope.from_addr, request_id=req.id)
            ctx.queue(f"operator:req-refused:{msg.id}", "operator", mails.operator_mail(
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
            new = _staff(ctx.s, c.value)
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
                ctx.queue(f"req-answer:{req.number}:{msg.id}", "request_answer", mails.request_answer_mail(
                    ctx.department, req, to, c.value, f"总部{ctx.department} {sender.name}",
                    Thread(req.inbound.message_id)), request_id=req.id)
                changes.append(f"答复已发送给{req.unit.name if req.unit else ''}（{'、'.join(to)}）")
            else:
                problems.append("该诉求没有登记的单位联系人，答复未能发出")
    if parsed.comment:
        add_event(ctx.s, req, now, sender.email, "note", parsed.comment, msg.id)
        changes.append("来信已作为备注记入办理记录")
    ctx.queue(f"req-ack:{msg.id}", "request_update_ack", mails.request_update_ack_mail(
        ctx.department, req, sender, changes, problems, mails.thread_of(p)), request_id=req.id)
    return "processed", f"{req.number}: {len(changes)} change(s), {len(problems)} problem(s) by {sender.email}"


def _staff(s: Session, ref: str) -> Person | None:
    ref = ref.strip().strip("<>").lower()
    for p in s.scalars(select(Person).where(Person.role == "hq", Person.active.is_(True))):
        if ref in (p.email, (p.staff_key or "").lower(), p.name.lower()):
            return p
    return None
