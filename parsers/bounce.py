"""What a bounce says: which message came back, for whom, and whether for good.

A standard delivery status notification (RFC 3464) names each recipient with its Action and Status: `failed` or
a 5.x.x status is permanent (the address does not work), `delayed` or 4.x.x is not (the server keeps trying).
Bounces without one (many Chinese providers write prose) are permanent unless they speak of a delay. The
returned message's Message-ID — from its attached copy, its attached headers, or a header line quoted in the
text — is how the caller finds which of its mails bounced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from parsers.mime import iter_parts

_MESSAGE_ID = re.compile(r"^\s*message-id:\s*(<[^<>\s]{1,500}>)", re.I | re.M)
_ACTION = re.compile(r"^\s*action:\s*([a-z]+)", re.I | re.M)
_STATUS = re.compile(r"^\s*status:\s*([245])\.\d{1,3}\.\d{1,3}", re.I | re.M)
_RECIPIENT = re.compile(r"^\s*(?:final|original)-recipient:\s*[^;\n]*;\s*<?([^\s<>;]+@[^\s<>;]+?)>?\s*$", re.I | re.M)
_ADDRESS = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_DELAY_WORDS = re.compile(r"delay|will (?:be )?retr|still trying|temporar|延迟|仍在尝试|将继续尝试|暂时无法", re.I)


@dataclass(frozen=True)
class Bounce:
    message_id: str | None        # the returned message's Message-ID, if the bounce carries it
    recipients: tuple[str, ...]   # the addresses the report names as failed (lower case), in order
    permanent: bool               # a hard bounce: the address does not work


def read_bounce(message: Message, returned: list[Message], text: str) -> Bounce:
    """The bounce `message` (with its returned parts and decoded text) as a `Bounce`."""
    status = "\n".join(_part_text(p) for p in iter_parts(message)
                       if p.get_content_type() == "message/delivery-status")
    actions = [a.lower() for a in _ACTION.findall(status)] + [
        {"5": "failed", "4": "delayed", "2": "delivered"}[s] for s in _STATUS.findall(status)]
    if actions:
        permanent = "failed" in actions
        recipients = _RECIPIENT.findall(status)
    else:
        subject = str(message.get("subject", ""))
        permanent = _DELAY_WORDS.search(f"{subject}\n{text[:4000]}") is None
        recipients = []
    return Bounce(message_id=_returned_id(returned, text), permanent=permanent,
                  recipients=tuple(dict.fromkeys(r.lower() for r in recipients)))


def addresses_in(text: str) -> tuple[str, ...]:
    """Every address a bounce's prose mentions (lower case), for when it has no status report."""
    return tuple(dict.fromkeys(a.lower() for a in _ADDRESS.findall(text)))


def _returned_id(returned: list[Message], text: str) -> str | None:
    for part in returned:
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            value = payload[0].get("message-id")
            if value:
                return str(value).strip()[:500]
            continue
        found = _MESSAGE_ID.search(_part_text(part))
        if found:
            return found.group(1)
    found = _MESSAGE_ID.search(text)
    return found.group(1) if found else None


def _part_text(part: Message) -> str:
    """A part's text however the stdlib parsed it: delivery-status and rfc822 parts come as lists of headers.

    The bytes, not get_payload(): the stdlib decodes text by its charset label as written, and some labels make
    it raise (see message._returned_subject_token).
    """
    try:
        if part.is_multipart():
            return "\n\n".join(p.as_string() if isinstance(p, Message) else str(p) for p in part.get_payload())
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - a payload the stdlib cannot even hand over says nothing
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else ""
