"""The operator's digest: what can wait — quarantines of strangers' and unreadable mail, and the mail handed to
HQ staff — in one mail per interval, the quarantined originals attached.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from mailbot.app import App
from mailbot.db.models import Handover, InboundMessage, Quarantine
from mailbot.db.session import transaction
from mailbot.outbox.operator import operator_digest_mail
from mailbot.outbox.queue import Plan

ORIGINALS, ORIGINAL_BYTES = 20, 10 * 1024 * 1024  # what the digest attaches at most; `mailbot status` has the rest


def operator_digest(app: App, *, dry_run: bool = False) -> Plan:
    """What waits for the digest, in one mail once the oldest of it has waited long enough.

    A spam wave of thirty strangers is one operator mail, not thirty; a forged sender or a crash is told at once
    by `pipeline.context.quarantine` and never waits here. The rows are marked in the transaction that queues
    the mail.
    """
    plan = Plan()
    with transaction(app.sessions, dry_run=dry_run) as s:
        quarantined = s.scalars(select(Quarantine).where(Quarantine.notified_at.is_(None),
                                                         Quarantine.released_at.is_(None))
                                .order_by(Quarantine.id)).all()
        handed = s.scalars(select(Handover).where(Handover.notified_at.is_(None)).order_by(Handover.id)).all()
        oldest = min([q.created_at for q in quarantined] + [h.created_at for h in handed], default=None)
        wait = timedelta(minutes=app.settings.limits.operator_digest_minutes)
        if oldest is None or app.now() - oldest < wait:
            return plan
        originals: list[bytes] = []
        room = ORIGINAL_BYTES
        for q in quarantined[:ORIGINALS]:
            if len(q.inbound.raw) <= room:
                originals.append(q.inbound.raw)
                room -= len(q.inbound.raw)
        draft = operator_digest_mail(
            app.department, app.settings.operator,
            [{**_about(q.inbound), "reason": q.reason} for q in quarantined],
            [{**_about(h.inbound), "to": h.recipients, "unit": h.unit.name} for h in handed], originals)
        first = quarantined[0].id if quarantined else 0
        plan.queue(s, f"operator:digest:{first}:{handed[0].id if handed else 0}", "operator", draft,
                   sender=app.identity, now=app.now())
        for q in quarantined:
            q.notified_at = app.now()
        for h in handed:
            h.notified_at = app.now()
    return plan


def _about(msg: InboundMessage) -> dict[str, object]:
    return {k: getattr(msg, k) for k in ("id", "from_addr", "subject", "received_at")}
