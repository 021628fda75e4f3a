"""What every outgoing mail shares: a template rendered into a Draft, the thread, the echoed subject.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from parsers import ParsedMessage

from mailbot.db.models import Unit
from mailbot.domain.due import Month
from mailbot.outbox.compose import Attachment, Draft, Thread, clip
from mailbot.render.mail import render_mail


@dataclass(frozen=True)
class PeriodView:
    key: str
    label: str


def period_view(key: str) -> PeriodView:
    return PeriodView(key=key, label=Month.parse(key).label)


def draft(name: str, to: Sequence[str], *, cc: Sequence[str] = (), thread: Thread | None = None,
           attachments: Sequence[Attachment] = (), original: bytes | None = None, originals: Sequence[bytes] = (),
           reply_to: Sequence[str] = (), urgent: bool = False, **ctx: object) -> Draft:
    r = render_mail(name, **ctx)
    return Draft(to=list(to), cc=list(cc), subject=r.subject, text=r.text, html=r.html, thread=thread,
                 attachments=list(attachments), original=original, originals=list(originals),
                 reply_to=list(reply_to), urgent=urgent)


def thread_of(p: ParsedMessage) -> Thread:
    return Thread(message_id=p.envelope.message_id, references=p.envelope.references)


def echoed_subject(p: ParsedMessage) -> str:
    """The sender's subject as our mails repeat it (subject line and body): cut to a recognisable length,
    because its length is the sender's choice and a huge one would make our answer undeliverable."""
    return clip(p.envelope.subject) or "（无主题）"


def unit_context(unit: Unit) -> dict[str, str | None]:
    contact = next((p for p in unit.contacts if p.active), None)
    return {"code": unit.code, "name": unit.name, "contact_name": contact.name if contact else "",
            "leader_name": unit.leader_name or ""}
