"""Urgent matters (§8.1.4 "report at any time"): forwarded on arrival to the right HQ person.

The right person is the designated HQ staff of the customer the mail is about
(named by code, full name, alias or a distinctive part of the name: `domain.customer_names`); of each, when
two customers could be meant; when no customer can be identified (or a VIP customer has no designated
staff), the duty list. The matter is recorded as an urgent request and the
sender gets its number.
"""

from __future__ import annotations

from sqlalchemy import select

from parsers import CATEGORY_LABELS, ParsedMessage

from mailbot.db.models import Customer, InboundMessage, Request, StrategicEntry, Submission, Unit
from mailbot.directory.lookup import customers_by_code, duty_people
from mailbot.domain.commands import OPEN
from mailbot.domain.customer_names import Named, customers_meant
from mailbot.pipeline.context import Ctx
from mailbot.requests.mails import urgent_ack_mail, urgent_forward_mail
from mailbot.requests.store import open_or_merge


def customers_in(text: str, customers: list[Customer], unit: Unit | None) -> list[Customer]:
    """The customers a free text is about (`domain.customer_names`): one, several it cannot tell apart, or none."""
    mine = {c.id for c in unit.customers} if unit else set()
    named = {c.code: c for c in customers}
    meant = customers_meant(text, [Named(c.code, c.name, tuple(c.aliases.split("\n")) if c.aliases else (),
                                         c.id in mine) for c in customers])
    return [named[m.code] for m in meant]


def _open_requests(ctx: Ctx, customer: Customer | None) -> list[Request]:
    if customer is None:
        return []
    return list(ctx.s.scalars(select(Request).where(Request.customer_id == customer.id, Request.status.in_(OPEN))
                              .order_by(Request.id)))


def _last_report(ctx: Ctx, customer: Customer | None) -> dict[str, object] | None:
    """What the units said about this customer in the latest month anyone reported on it."""
    if customer is None:
        return None
    entries = ctx.s.scalars(select(StrategicEntry).join(Submission)
                            .where(StrategicEntry.customer_id == customer.id, Submission.superseded_by_id.is_(None))
                            .order_by(Submission.period_id.desc())).all()
    if not entries:
        return None
    period = entries[0].submission.period
    lines = [f"{e.submission.unit.name} {i.category}. {CATEGORY_LABELS[i.category]}：{i.text}"
             for e in entries if e.submission.period_id == period.id for i in e.items]
    risks = [f"{e.submission.unit.name} 风险等级：{e.risk}" for e in entries
             if e.submission.period_id == period.id and e.risk in ("一般", "重大")]
    return {"period": period.key, "lines": (lines + risks) or ["各单位均报无事项"]}


def handle_urgent(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, unit: Unit | None, *, answer: bool) -> str:
    text = p.urgent_text or p.new_text.strip() or p.envelope.subject
    customers = [c for c in customers_by_code(ctx.s).values() if c.active]
    meant = customers_in(f"{p.envelope.subject}\n{text}", customers, unit)
    # Two customers it cannot tell apart: both 总部对接人 hear, and the forward says so; the duty list is for when
    # no customer can be identified.
    customer = meant[0] if len(meant) == 1 else None
    recipients = list(dict.fromkeys(c.hq_staff for c in meant if c.hq_staff is not None))
    if not recipients:
        recipients = duty_people(ctx.s, ctx.app.directory.duty_addresses())
    req, merged = open_or_merge(ctx.s, ctx.app.settings.requests, source="urgent", unit=unit, customer=customer,
                                category=None, text=text, inbound=msg, subject=p.envelope.subject,
                                calendar=ctx.app.calendar, tz=ctx.app.tz,
                                assignee=recipients[0] if recipients else None)
    # Urgent means now: even a matter already open is forwarded again, under its existing number.
    ctx.queue(f"urgent:{msg.id}", "urgent_forward", urgent_forward_mail(
        ctx.department, p, msg.raw, req, recipients, unit, customer, msg.received_at, p.urgent_reasons,
        open_requests=_open_requests(ctx, customer), last_report=_last_report(ctx, customer),
        candidates=meant if customer is None else (), reply_address=ctx.app.identity.address),
        request_id=req.id)
    who = "、".join(r.name for r in recipients) or "总部值班人员"
    about = (customer.name if customer else None) or (unit.name if unit else None) or p.envelope.from_addr
    ctx.push(f"push:urgent:{msg.id}", f"【紧急】{about}：{p.envelope.subject[:60]}",
             f"{req.number}｜{text[:300]}\n已转{who}处理。", request_id=req.id)
    if answer:
        ctx.queue(f"urgent-ack:{msg.id}", "urgent_ack", urgent_ack_mail(ctx.department, p, unit, req, recipients),
                  answers=p.envelope.from_addr, request_id=req.id, urgent=True)
    return f"urgent {req.number}{' (merged)' if merged else ''} → {', '.join(r.email for r in recipients)}"
