"""Urgent matters (§8.1.4 "report at any time"): forwarded on arrival to the right HQ person.

The right person is the designated HQ staff of the customer the mail is about;
when no customer can be identified (or a VIP customer has no designated
staff), the duty list. The matter is recorded as an urgent request and the
sender gets its number.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from parsers import CATEGORY_LABELS, ParsedMessage

from mailbot.db.models import Customer, InboundMessage, Person, Request, StrategicEntry, Submission, Unit
from mailbot.directory.lookup import customers_by_code, duty_people
from mailbot.domain.commands import OPEN
from mailbot.pipeline.context import Ctx
from mailbot.requests.mails import urgent_ack_mail, urgent_forward_mail
from mailbot.requests.store import open_or_merge

CODE = re.compile(r"(?<![A-Za-z0-9])([SV]\d{3,})(?!\d)")


def find_customer(text: str, customers: list[Customer], unit: Unit | None) -> Customer | None:
    """The customer a free text is about: a code first, then the longest name; the unit's own customers win ties."""
    by_code = {c.code: c for c in customers}
    for code in CODE.findall(text):
        if code in by_code:
            return by_code[code]
    mine = {c.id for c in unit.customers} if unit else set()
    named = [c for c in customers if c.name and c.name in text]
    named.sort(key=lambda c: (c.id not in mine, -len(c.name)))
    return named[0] if named else None


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
    customer = find_customer(f"{p.envelope.subject}\n{text}", customers, unit)
    recipients: list[Person] = [customer.hq_staff] if customer and customer.hq_staff else []
    if not recipients:
        recipients = duty_people(ctx.s, ctx.app.directory.duty_addresses())
    req, merged = open_or_merge(ctx.s, ctx.app.settings.requests, source="urgent", unit=unit, customer=customer,
                                category=None, text=text, inbound=msg,
                                assignee=recipients[0] if recipients else None)
    # Urgent means now: even a matter already open is forwarded again, under its existing number.
    ctx.queue(f"urgent:{msg.id}", "urgent_forward", urgent_forward_mail(
        ctx.department, p, msg.raw, req, recipients, unit, customer, msg.received_at, p.urgent_reasons,
        open_requests=_open_requests(ctx, customer), last_report=_last_report(ctx, customer)),
        request_id=req.id)
    if answer:
        ctx.queue(f"urgent-ack:{msg.id}", "urgent_ack", urgent_ack_mail(ctx.department, p, unit, req, recipients),
                  answers=p.envelope.from_addr, request_id=req.id)
    return f"urgent {req.number}{' (merged)' if merged else ''} → {', '.join(r.email for r in recipients)}"
