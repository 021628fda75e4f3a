"""An attendee's answer to a calendar invitation (iTIP REPLY, RFC 5546) found in a message.

Outlook, Apple Mail and phone clients answer an invitation with a mail carrying a `text/calendar; method=REPLY`
part: the event's UID, and the attendee with PARTSTAT ACCEPTED, DECLINED or TENTATIVE. Read with a few regular
expressions over the unfolded text (no calendar library here: the parser stays light and pure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from parsers.mime import iter_parts

_UNFOLD = re.compile(r"\r?\n[ \t]")
_METHOD = re.compile(r"^METHOD:\s*REPLY\s*$", re.I | re.M)
_UID = re.compile(r"^UID:\s*(\S{1,300})\s*$", re.I | re.M)
_ATTENDEE = re.compile(r"^ATTENDEE([^:\n]*):\s*(?:mailto:)?([^\s;]+@[^\s;]+)\s*$", re.I | re.M)
_PARTSTAT = re.compile(r";PARTSTAT=([A-Z-]+)", re.I)
_MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class CalendarReply:
    uid: str
    attendee: str   # lower case
    partstat: str   # ACCEPTED | DECLINED | TENTATIVE | …


def read_calendar_reply(message: Message) -> CalendarReply | None:
    """The first iTIP REPLY in the message's calendar parts, or None."""
    for part in iter_parts(message):
        if part.is_multipart() or part.get_content_type() not in ("text/calendar", "application/ics"):
            continue
        try:
            data = part.get_payload(decode=True)
        except Exception:  # noqa: BLE001 - a payload the stdlib cannot hand over says nothing
            continue
        if not isinstance(data, bytes) or len(data) > _MAX_BYTES:
            continue
        text = _UNFOLD.sub("", data.decode("utf-8", "replace"))
        uid, attendee = _UID.search(text), _ATTENDEE.search(text)
        if _METHOD.search(text) and uid and attendee:
            status = _PARTSTAT.search(attendee.group(1))
            return CalendarReply(uid.group(1), attendee.group(2).lower(),
                                 status.group(1).upper() if status else "NEEDS-ACTION")
    return None
