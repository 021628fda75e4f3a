"""A unit contact's mail that no capability before this one took: handed to a person, never answered as a report.

The route comes last (`pipeline.routes.ROUTES`): visits, 诉求 and the monthly report had their say, and the
report capability lets through only mail that does not attempt a report (`domain.report_attempt`).
"""

from __future__ import annotations

from sqlalchemy import select

from parsers import ParsedMessage

from mailbot.correspondence.mails import handover_ack_mail, handover_mail
from mailbot.db.models import Handover, InboundMessage
from mailbot.pipeline.context import Ctx, Sender


def route(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, known: Sender) -> tuple[str, str] | None:
    """A unit contact's mail: forwarded to the unit's 总部对接人 (else the correspondence list) with the original,
    recorded, and the sender told who has it. Anyone else's: not ours."""
    sender = known.person
    if sender.role != "contact" or sender.unit is None:
        return None
    unit = sender.unit
    directory = ctx.app.directory
    staff = directory.correspondence_staff(unit.code)
    designated = directory.unit_hq_staff(unit.code) is not None
    to = ",".join(s.email for s in staff)
    msg.unit_id = unit.id
    ctx.queue(f"handover:{msg.id}", "handover", handover_mail(ctx.department, p, msg.raw, unit, sender, staff,
                                                             msg.received_at, designated=designated))
    # `reparse` may hand the same message over again: one record, the latest recipients.
    record = ctx.s.scalar(select(Handover).where(Handover.inbound_id == msg.id))
    if record is None:
        ctx.s.add(Handover(inbound_id=msg.id, unit_id=unit.id, recipients=to, created_at=ctx.app.now()))
    else:
        record.recipients, record.notified_at = to, None
    if ctx.may_answer(p.envelope.from_addr):
        ctx.queue(f"handover-ack:{msg.id}", "handover_ack",
                  handover_ack_mail(ctx.department, p, unit, staff, designated=designated),
                  answers=p.envelope.from_addr)
    return "handed_over", f"handed over to {to}"
