"""Urgent matters (§8.1.4 "report at any time"): forwarded on arrival to the right HQ person.

The right person is the designated HQ staff of the customer the mail is about;
when no customer can be identified (or a VIP customer has no designated
staff), the duty list. The matter is recorded as an urgent request and the
sender gets its number.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import select

from parsers import ParsedMessage

from mailbot import mails
from mailbot.db.models import Customer, InboundMessage, Person, Unit
from mailbot.reports import duty_people
from mailbot.request_flow import open_or_merge

if TYPE_CHECKING:
    from mailbot.intake import Ctx

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


def handle_urgent(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, unit: Unit | None, *, answer: bool) -> str:
    text = p.urgent_text or p.new_text.strip() or p.envelope.subject
    customers = list(ctx.s.scalars(select(Customer).where(Customer.active.is_(True))))
    customer = find_customer(f"{p.envelope.subject}\n{text}", customers, unit)
    recipients: list[Person] = [customer.hq_staff] if customer and customer.hq_staff else []
    if not recipients:
        recipients = duty_people(ctx.s, ctx.app.directory.duty_addresses())
    req, merged = open_or_merge(ctx.s, ctx.app.settings.requests, source="urgent", unit=unit, customer=customer,
                                category=None, text=text, inbound=msg,
                                assignee=recipients[0] if recipients else None)
    # Urgent means now: even a matter already open is forwarded again, under its existing number.
    ctx.queue(f"urgent:{msg.id}", "urgent_forward", mails.urgent_forward_mail(
        ctx.department, p, msg.raw, req, recipients, unit, customer, msg.received_at, p.urgent_reasons),
        request_id=req.id)
    if answer:
        ctx.queue(f"urgent-ack:{msg.id}", "urgent_ack", mails.urgent_ack_mail(ctx.department, p, unit, req, recipients),
                  answers=p.envelope.from_addr, request_id=req.id)
    return f"urgent {req.number}{' (merged)' if merged else ''} → {', '.join(r.email for r in recipients)}"
