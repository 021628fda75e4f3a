"""The operator's digest: quarantines that can wait, in one mail per interval.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from mailbot.app import App
from mailbot.db.models import Quarantine
from mailbot.db.session import transaction
from mailbot.outbox.operator import operator_digest_mail
from mailbot.outbox.queue import Plan


def operator_digest(app: App, *, dry_run: bool = False) -> Plan:
    """Quarantines that wait for the digest (strangers' mail), in one mail once the oldest has waited long enough.

    A spam wave of thirty strangers is one operator mail, not thirty; a forged sender or a crash is told at once
    by `intake.quarantine` and never waits here. The rows are marked in the transaction that queues the mail.
    """
    plan = Plan()
    with transaction(app.sessions, dry_run=dry_run) as s:
        pending = s.scalars(select(Quarantine).where(Quarantine.notified_at.is_(None),
                                                     Quarantine.released_at.is_(None))
                            .order_by(Quarantine.id)).all()
        wait = timedelta(minutes=app.settings.limits.operator_digest_minutes)
        if not pending or app.now() - pending[0].created_at < wait:
            return plan
        items: list[dict[str, object]] = [
            {"id": q.inbound_id, "from_addr": q.inbound.from_addr, "subject": q.inbound.subject,
             "received_at": q.inbound.received_at, "reason": q.reason} for q in pending]
        plan.queue(s, f"operator:digest:{pending[0].id}", "operator",
                   operator_digest_mail(app.settings.identity.department, app.settings.operator, items),
                   sender=app.identity, now=app.now())
        for q in pending:
            q.notified_at = app.now()
    return plan
