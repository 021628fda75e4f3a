"""What a 需总部协调 row says when the unit left item 4 (or the VIP issue) empty: the 诉求 opened for it.

The report store opens a 诉求 for every 需总部协调 block and, with item 4
empty, gives it the block's other matters (§8.1.2) — so the 诉求's one-line
title says what the unit needs, where the form field says nothing. When the
block's 诉求 was merged into one already open for the same unit and
customer, that one carries the matter.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.db.models import Request, Submission
from mailbot.requests.store import title_of

UNWRITTEN = "（未写明事项）"


def ask_of(s: Session, sub: Submission, customer_id: int, source: str, written: str | None) -> tuple[str, str]:
    """(text, 诉求 number) for one 需总部协调 row: what the unit wrote, else the title of the 诉求 opened for it."""
    q = _request(s, sub, customer_id, source)
    if written and written.strip():
        return written, q.number if q else ""
    return (title_of(q), q.number) if q else (UNWRITTEN, "")

def _request(s: Session, sub: Submission, customer_id: int, source: str) -> Request | None:
    opened = s.scalar(select(Request).where(Request.submission_id == sub.id, Request.customer_id == customer_id,
                                            Request.source == source).order_by(Request.id).limit(1))
    if opened is not None:
        return opened
    # Merged: the report told an open 诉求 it was reported again; the latest one registered before it is that one.
    return s.scalar(select(Request).where(Request.unit_id == sub.unit_id, Request.customer_id == customer_id,
                                          Request.source == source, Request.created_at <= sub.received_at)
                    .order_by(Request.created_at.desc(), Request.id.desc()).limit(1))
