"""The bulletins archive: every 重点客户月报 issued, every version — each one the PDF attached to a bulletin mail
of the outbox (a resend after a correction is a second version of its month), downloadable as it was mailed.

HQ staff see them all; anyone else only the issues the bulletin list mailed to their own address — so a unit
sees none unless `hq.bulletin` names one of its people, as the bulletin list says.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.db.models import OutboxMail
from mailbot.domain import due
from mailbot.web.scope import Viewer

KIND = "bulletin"


def _period(idem_key: str) -> str:
    return idem_key.split(":")[1]   # bulletin:2026-11 or, resent, bulletin:2026-11:20261202T093000


def _may_see(viewer: Viewer, recipients: str) -> bool:
    return viewer.is_hq or viewer.email.lower() in {r.strip().lower() for r in recipients.split(",")}


def bulletins_page(s: Session, viewer: Viewer) -> dict[str, Any]:
    """Issues newest month first, each month's versions in the order they were issued."""
    rows = s.execute(select(OutboxMail.id, OutboxMail.idem_key, OutboxMail.recipients, OutboxMail.created_at,
                            OutboxMail.sent_at, OutboxMail.status)
                     .where(OutboxMail.kind == KIND).order_by(OutboxMail.created_at, OutboxMail.id)).all()
    months: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        versions = months.setdefault(_period(r.idem_key), [])
        versions.append({"id": r.id, "version": len(versions) + 1, "created_at": r.created_at, "sent_at": r.sent_at,
                         "sent": r.status == "sent", "visible": _may_see(viewer, r.recipients)})
    issues = []
    for key in sorted(months, reverse=True):
        shown = [v for v in months[key] if v["visible"]]
        if shown:
            issues.append({"period": key, "label": due.Month.parse(key).label, "versions": shown})
    return {"issues": issues}


def bulletin_pdf(s: Session, viewer: Viewer, mail_id: int) -> tuple[str, bytes] | None:
    """The PDF of one issued version (file name, bytes); None: no such bulletin, or not for this viewer (404)."""
    row = s.get(OutboxMail, mail_id)
    if row is None or row.kind != KIND or not _may_see(viewer, row.recipients):
        return None
    msg = message_from_bytes(row.raw, policy=policy.default)
    for part in msg.iter_attachments():  # type: ignore[attr-defined]
        if part.get_content_type() == "application/pdf":
            return part.get_filename() or f"重点客户月报-{_period(row.idem_key)}.pdf", part.get_content()
    return None
