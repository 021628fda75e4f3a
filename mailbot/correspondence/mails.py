"""What the correspondence capability mails: the hand-over to HQ and the sender's short acknowledgement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.utils import formataddr

from parsers import ParsedMessage

from mailbot.db.models import Person, Unit
from mailbot.directory.config import StaffEntry
from mailbot.outbox.compose import Draft, clip
from mailbot.outbox.drafts import draft, echoed_subject, thread_of, unit_context

TEXT_CHARS = 3000  # what the sender wrote, as the hand-over shows it; the whole mail is attached


def handover_mail(department: str, p: ParsedMessage, raw: bytes, unit: Unit, sender: Person,
                  staff: Sequence[StaffEntry], received_at: datetime, *, designated: bool) -> Draft:
    """To HQ: the mail, attached; a reply goes straight to the sender (Reply-To), not through the bot."""
    return draft("handover", [s.email for s in staff], original=raw, reply_to=[formataddr((sender.name, sender.email))],
                 department=department, recipient_name="、".join(s.name for s in staff), designated=designated,
                 unit=unit_context(unit), sender={"name": clip(sender.name), "addr": sender.email},
                 original_subject=echoed_subject(p), received_at=received_at,
                 text=clip(p.new_text.strip() or p.text.strip(), TEXT_CHARS))


def handover_ack_mail(department: str, p: ParsedMessage, unit: Unit, staff: Sequence[StaffEntry], *,
                      designated: bool) -> Draft:
    """To the sender: who has the mail now."""
    return draft("handover_ack", [p.envelope.from_addr], thread=thread_of(p), department=department,
                 unit=unit_context(unit), original_subject=echoed_subject(p), designated=designated,
                 handled_by=[s.name for s in staff])
