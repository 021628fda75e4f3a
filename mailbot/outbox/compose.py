"""Build the RFC 5322 message for an outgoing mail: headers, text + HTML alternatives, attachments.

Every mail the bot writes is automatic: it carries `Auto-Submitted:
auto-generated` (so well-behaved servers don't auto-answer it) and our loop
header (so we never answer ourselves). Replies keep In-Reply-To/References so
the thread stays together in every client.

The message is built with the stdlib's compat32 classes (email.mime): they
write our few headers and base64 parts three to four times faster than
`EmailMessage`'s header registry, which matters when a busy morning's
answers are composed one per inbound message. Non-ASCII headers are RFC 2047
encoded-words, file names RFC 2231 parameters, every part base64.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import encoders
from email._policybase import Compat32
from email.charset import Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, getaddresses, make_msgid
from io import BytesIO
from typing import Any

LOOP_HEADER = "X-Mailbot-Loop"

# How much of someone else's text (a subject, a display name) a mail repeats: enough to recognise it. A sender
# controls its length, and a 1 MB subject echoed whole makes a header block no SMTP server accepts.
ECHO_CHARS = 200
# What compose writes whoever asked: the last line of defence behind the callers' clip().
SUBJECT_CHARS = 300       # ours are under 150, with an echoed subject about 240
NAME_CHARS = 100          # a display name in To/Cc
MSGID_CHARS = 250         # a Message-ID longer than this is no id we can thread on (ours are about 60)
REFERENCES_CHARS = 900    # RFC 5322 §3.6.4: the first id and the latest ones are what threading needs

# Python 3.11's header folder (policy.default) breaks a long CJK subject at a space and puts that space
# *between* two encoded-words, where RFC 2047 decoders drop it ("2026年11月 北京分公司" arrives as
# "2026年11月北京分公司"). Generating with a long line limit keeps each header unfolded. Our own mail is
# composed below with compat32, which encodes the whole text, spaces included; WIRE remains for the
# places that write an EmailMessage (test and demo mail, Exchange header blocks).
WIRE = email.policy.SMTP.clone(max_line_length=998)



class _Wire(Compat32):
    """compat32 with CRLF, writing a short ASCII header as it is.

    compat32 runs every header through email.header.Header to fold it, which was most of composing's time;
    a header that needs no folding and no encoding is the common case (From, To, Date, Message-ID …).
    """

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if isinstance(value, str) and value.isascii() and "\n" not in value \
                and len(name) + len(value) + 2 <= (self.max_line_length or 78):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)  # type: ignore[misc]


_CRLF = _Wire(linesep="\r\n")
_UTF8_8BIT = Charset("utf-8")
_UTF8_8BIT.body_encoding = None  # type: ignore[assignment]  # no transfer encoding: UTF-8 text written as is


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
    originals: Sequence[bytes] = ()  # more of them (the operator's digest)
    reply_to: Sequence[str] = ()   # where a reply should go instead of our address (a hand-over's sender)
    urgent: bool = False           # marked high priority, so mail clients flag it (urgent matters)


@dataclass(frozen=True)
class Composed:
    message_id: str
    raw: bytes  # CRLF line ends, ready for SMTP, a Maildir file or EWS MIME content


def clip(text: str, limit: int = ECHO_CHARS) -> str:
    """At most `limit` characters of `text`, the last one "…" where it was cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def compose(draft: Draft, sender: Identity, now: datetime) -> Composed:
    # An invitation also travels as the message's last alternative (iMIP, RFC 6047): that is where Outlook and
    # phone clients look for it to show Accept / Decline; the .ics stays attached for everyone else.
    invites = [_inner(_imip(a)) for a in draft.attachments if (a.maintype, a.subtype) == ("text", "calendar")]
    msg: Message = MIMEMultipart("alternative", _subparts=[_text(draft.text, "plain"), _text(draft.html, "html"),
                                                           *invites])
    originals = [*([draft.original] if draft.original is not None else []), *draft.originals]
    if draft.attachments or originals:
        msg = MIMEMultipart("mixed", _subparts=[_inner(msg), *map(_attachment, draft.attachments)])
        for raw in originals:
            msg.attach(_original(raw))
    mid = make_msgid(idstring="kcr", domain=sender.domain)
    msg["From"] = formataddr((sender.display_name, sender.address), charset="utf-8")
    msg["To"] = _addresses(draft.to)
    if draft.cc:
        msg["Cc"] = _addresses(draft.cc)
    if draft.reply_to:
        msg["Reply-To"] = _addresses(draft.reply_to)
    if draft.urgent:  # Outlook reads Importance, Foxmail and Coremail X-Priority, older Outlook X-MSMail-Priority
        msg["Importance"], msg["X-Priority"], msg["X-MSMail-Priority"] = "high", "1 (Highest)", "High"
    msg["Subject"] = _header(clip(draft.subject, SUBJECT_CHARS))  # type: ignore[assignment]  # or a Header
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = mid
    msg["Auto-Submitted"] = "auto-generated"
    msg[LOOP_HEADER] = sender.address
    if draft.thread and draft.thread.message_id and len(draft.thread.message_id) <= MSGID_CHARS:
        msg["In-Reply-To"] = draft.thread.message_id
        msg["References"] = _references([*draft.thread.references, draft.thread.message_id])
    return Composed(mid, _flatten(msg))


def _references(ids: Sequence[str]) -> str:
    """The thread's ids within REFERENCES_CHARS: the first (the thread's root) and as many of the latest as fit.

    The ids come from the mail we answer, so their number and length are the sender's choice.
    """
    usable = list(dict.fromkeys(i for i in ids if len(i) <= MSGID_CHARS))
    root, rest = usable[0], usable[1:]
    latest: list[str] = []
    room = REFERENCES_CHARS - len(root)
    for i in reversed(rest):
        if len(i) + 1 > room:
            break
        latest.insert(0, i)
        room -= len(i) + 1
    return " ".join([root, *latest])


def _addresses(values: Sequence[str]) -> str:
    """`李明 <liming@gd.example.cn>` with the name as an encoded-word and the address left readable."""
    return ", ".join(_address(clip(name, NAME_CHARS), addr) for name, addr in getaddresses(list(values)))


def _address(name: str, addr: str) -> str:
    if addr.isascii():
        return formataddr((name, addr), charset="utf-8")
    # An internationalised address (RFC 6532, sent with SMTPUTF8) stays raw UTF-8: compat32 writes a header
    # unchanged when its 8-bit bytes come as surrogate escapes (and would encode it otherwise).
    label = Header(name, "utf-8").encode() + " " if name else ""
    return f"{label}<{addr}>".encode().decode("ascii", "surrogateescape")


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


def _inner(part: Message) -> Message:
    del part["MIME-Version"]  # the email.mime classes stamp every part; it belongs on the message alone
    return part


def _text(text: str, subtype: str) -> Message:
    """UTF-8 text sent as 8bit (readable in the outbox, a third smaller), base64 where a line is too long for SMTP."""
    text = text.replace("\r\n", "\n")
    fits = all(len(line.encode()) <= 998 for line in text.split("\n"))
    return _inner(MIMEText(text, subtype, _UTF8_8BIT if fits else "utf-8"))  # type: ignore[arg-type]


def _imip(a: Attachment) -> Message:
    part = MIMEText(a.data.decode("utf-8"), "calendar", "utf-8")
    for param, value in a.params:
        if param != "charset":
            part.set_param(param, value)
    return part


def _attachment(a: Attachment) -> Message:
    part = _inner(MIMEBase(a.maintype, a.subtype))
    for param, value in a.params:
        part.set_param(param, value)
    part.set_payload(a.data)
    encoders.encode_base64(part)
    name: str | tuple[str, str, str] = a.filename if a.filename.isascii() else ("utf-8", "", a.filename)
    part.add_header("Content-Disposition", "attachment", filename=name)
    return part


def _original(raw: bytes) -> Message:
    """A received mail as message/rfc822, so HQ staff open it as the message it was, in any client.

    An original the generator cannot write back goes as opaque bytes instead: it must not stop the forward.
    """
    try:
        part = _inner(MIMEMessage(email.message_from_bytes(raw)))
        _flatten(part)
    except Exception:  # noqa: BLE001 - broken originals are attached as opaque bytes
        return _attachment(Attachment("原邮件.eml", raw))
    part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "原邮件.eml"))
    return part


def _flatten(msg: Message) -> bytes:
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=_CRLF).flatten(msg)
    return out.getvalue()
