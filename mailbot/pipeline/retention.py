"""Raw mail is kept for `limits.keep_raw_months`, then its bytes are deleted and its record kept.

The bytes are personal data (names, phone numbers, whatever a unit wrote); what the bot filed from them — the
report, the 诉求, the survey answer — and the record of the message (sender, subject, when, outcome) stay, so
history and figures do not change. A message still waiting to be processed is never pruned, and neither is one
in open quarantine (someone may still release it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select, update

from mailbot.app import App
from mailbot.db.models import InboundMessage, Quarantine
from mailbot.db.session import transaction
from mailbot.outbox.queue import Plan

BATCH = 1000   # rows per calendar tick: the first run on an old database must not hold one long transaction


def months_before(now: datetime, months: int) -> datetime:
    """The same moment `months` calendar months earlier (the 31st becomes the month's last day)."""
    year, month = divmod(now.year * 12 + now.month - 1 - months, 12)
    month += 1
    for day in range(now.day, 27, -1):
        try:
            return now.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return now.replace(year=year, month=month, day=min(now.day, 28))


def prune_raw(app: App, *, dry_run: bool = False) -> Plan:
    """The calendar's call: empty the bytes of messages older than the retention (at most BATCH per call)."""
    months = app.settings.limits.keep_raw_months
    if not months:
        return Plan()
    cutoff = months_before(app.now(), months)
    open_quarantine = exists().where(Quarantine.inbound_id == InboundMessage.id, Quarantine.released_at.is_(None))
    with transaction(app.sessions, dry_run=dry_run) as s:
        ids = list(s.scalars(select(InboundMessage.id).where(
            InboundMessage.received_at < cutoff, InboundMessage.raw_pruned_at.is_(None),
            InboundMessage.status != "received", ~open_quarantine).order_by(InboundMessage.id).limit(BATCH)))
        if ids:
            s.execute(update(InboundMessage).where(InboundMessage.id.in_(ids))
                      .values(raw=b"", raw_pruned_at=app.now()))
    return Plan()
