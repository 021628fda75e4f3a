"""Build the RFC 5322 message for an outgoing mail: headers, text + HTML alternatives, attachments.

Every mail the bot writes is automatic: it carries `Auto-Submitted:
auto-generated` (so well-behaved servers don't auto-answer it) and our loop
header (so we never answer ourselves). Replies keep In-Reply-To/References so
the thread stays together in every client.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import datetime

LOOP_HEADER = "X-Mailbot-Loop"

# Python 3.11's header folder breaks a long CJK subject at a space and puts that space *between* two
# encoded-words, where RFC 2047 decoders drop it ("2026年11月 北京分公司" arrives as "2026年11月北京分公司").
# Generating with a long line limit keeps each header unfolded; clients read long encoded-words fine.
WIRE = email.policy.SMTP.clone(max_line_length=998)


def to_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=WIRE)


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    maintype: str = "application"
    subtype: str = "octet-stream"
    params: tuple[tuple[str, str], ...] = ()  # Content-Type parameters, e.g. (("method", "REQUEST"),)


@dataclass(frozen=True)
class Thread:
    """The message we answer: its Message-ID and References."""

    message_id: str | None
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class Identity:
    address: str
    display_name: str

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1]


@dataclass(frozen=True)
class Draft:
    to: Sequence[str]
    subject: str
    text: str
    html: str
    cc: Sequence[str] = ()
    thread: Thread | None = None
    attachments: Sequence[Attachment] = field(default_factory=tuple)
    original: bytes | None = None  # a received message to attach as message/rfc822


def compose(draft: Draft, sender: Identity, now: datetime) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = Address(sender.display_name, addr_spec=sender.address)
    msg["To"] = ", ".join(draft.to)
    if draft.cc:
        msg["Cc"] = ", ".join(draft.cc)
    msg["Subject"] = draft.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(idstring="kcr", domain=sender.domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg[LOOP_HEADER] = sender.address
    if draft.thread and draft.thread.message_id:
        msg["In-Reply-To"] = draft.thread.message_id
        refs = [*draft.thread.references, draft.thread.message_id]
        msg["References"] = " ".join(dict.fromkeys(refs))
    msg.set_content(draft.text, subtype="plain", charset="utf-8")
    msg.add_alternative(draft.html, subtype="html", charset="utf-8")
    if draft.attachments or draft.original is not None:
        msg.make_mixed()
    for a in draft.attachments:
        msg.add_attachment(a.data, maintype=a.maintype, subtype=a.subtype, filename=a.filename, params=dict(a.params))
    if draft.original is not None:
        _attach_original(msg, draft.original)
    return msg


def _attach_original(msg: EmailMessage, raw: bytes) -> None:
    """Attach a received mail so HQ staff open it as the message it was, in any client."""
    try:
        inner = email.message_from_bytes(raw, policy=email.policy.default)
        msg.add_attachment(inner, filename="原邮件.eml")
        to_bytes(msg)  # a message the generator cannot write must not reach the outbox
    except Exception:  # noqa: BLE001 - broken originals are attached as opaque bytes instead
        parts = msg.get_payload()
        if isinstance(parts, list) and len(parts) > 1 and isinstance(parts[-1], EmailMessage) \
                and parts[-1].get_content_type() == "message/rfc822":
            parts.pop()
        msg.add_attachment(raw, maintype="application", subtype="octet-stream", filename="原邮件.eml")
