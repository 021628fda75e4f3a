"""A bounce of our own mail acts: a dead address is marked, the operator told once, the unit's mail rerouted.

A hard bounce (the address does not work) of a mail we sent marks each failed address of a registered contact
as bouncing: the operator hears it once per address, with the unit and the mail that bounced; `mailbot status`
lists it; and the unit's next mails go to its other contacts and its 单位负责人 (`directory.lookup
.unit_recipients`) until the directory is fixed, or mail from the address shows it works again. A soft bounce (the
server is still trying) and a bounce of mail that is not ours are only recorded.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from parsers import ParsedMessage
from parsers.bounce import addresses_in

from mailbot.db.models import InboundMessage, OutboxMail
from mailbot.directory.lookup import active_people
from mailbot.outbox.operator import operator_mail
from mailbot.pipeline.context import Ctx

_OURS = select(OutboxMail).where(OutboxMail.message_id == bindparam("mid"))


def handle_bounce(ctx: Ctx, msg: InboundMessage, p: ParsedMessage) -> tuple[str, str]:
    """Record what a bounce says; returns (status, note) — always `ignored`: a bounce is never answered."""
    b = p.bounce
    ours = ctx.s.scalar(_OURS, {"mid": b.message_id}) if b is not None and b.message_id else None
    if b is None or ours is None:
        return "ignored", "automatic: bounce (not of a mail we sent)"
    sent_to = ours.recipients.split(",")
    failed = [a for a in (b.recipients or addresses_in(p.text)) if a in sent_to]
    if not failed and len(sent_to) == 1:
        failed = sent_to
    if not b.permanent:
        return "ignored", f"automatic: soft bounce of {ours.idem_key} for {', '.join(failed) or '?'}"
    people = active_people(ctx.s)
    marked = []
    for addr in failed:
        person = people.get(addr)
        if person is None or person.role != "contact" or person.bounced_at is not None:
            continue
        person.bounced_at, person.bounce_note = ctx.app.now(), ours.idem_key[:300]
        marked.append(addr)
        unit = person.unit.name if person.unit else "（无单位）"
        ctx.queue(f"operator:bounce:{addr}", "operator", operator_mail(
            ctx.department, ctx.app.settings.operator, f"地址退信：{unit} {person.name}",
            f"发给{unit}联系人{person.name}（{addr}）的邮件被退回，地址无法使用（{ours.subject}）。"
            f"此后发给{unit}的邮件改发其他联系人和单位负责人。请核实后在 directory.yaml 中更正该地址；"
            f"该地址再有来信即视为恢复。",
            message={"id": msg.id, "from_addr": msg.from_addr or "", "subject": msg.subject or "",
                     "received_at": msg.received_at}))
    return "ignored", f"automatic: hard bounce of {ours.idem_key} for {', '.join(failed) or '?'}" + (
        f"; marked {', '.join(marked)}" if marked else "")
