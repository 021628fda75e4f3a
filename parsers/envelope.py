"""Message headers → `Envelope`: addresses, subject, ids and date, decoded.

Header values are taken raw (`Message.raw_items`) so 8-bit bytes that some
clients put in headers survive, then decoded by `charsets.decode_header`.
Addresses are split before their display names are decoded, so a comma
inside an encoded name cannot split an address.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from parsers.charsets import decode_header, header_text_8bit
from parsers.model import Envelope

_FOLD = re.compile(r"\r?\n[ \t]*")
_MSGID = re.compile(r"<([^<>]*)>")
_SPACE = re.compile(r"\s+")


def raw_headers(message: Message) -> dict[str, list[str]]:
    """Lower-case header name → raw values in order of appearance."""
    headers: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        headers.setdefault(str(name).strip().lower(), []).append(str(value))
    return headers


# The headers classification rules look at; decoding every Received line is waste.
RULE_HEADERS = frozenset({
    "auto-submitted", "precedence", "x-auto-response-suppress", "x-autoreply",
    "x-autorespond", "return-path", "x-mailbot-loop", "importance", "x-priority", "priority",
})


def first_values(headers: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Lower-case header name → first value, decoded, for the rule headers only."""
    return {name: decode_header(headers[name][0]) for name in RULE_HEADERS
            if headers.get(name)}


def _addresses(values: Sequence[str]) -> list[tuple[str, str]]:
    cleaned = []
    for value in values:
        text = _FOLD.sub(" ", value)
        if not text.isascii():
            text = header_text_8bit(text)
        cleaned.append(text)
    try:
        pairs = getaddresses(cleaned)
    except (ValueError, TypeError, IndexError):
        return []
    return [(decode_header(name), addr.strip().lower()) for name, addr in pairs if addr.strip()]


def _ids(value: str | None) -> list[str]:
    if not value:
        return []
    text = _FOLD.sub(" ", value)
    ids = [f"<{_SPACE.sub('', inner)}>" for inner in _MSGID.findall(text) if inner.strip()]
    if ids:
        return ids
    # Some clients drop the angle brackets; keep what looks like an id.
    return [f"<{word}>" for word in text.split() if "@" in word]


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(_FOLD.sub(" ", value).strip())
    except (ValueError, TypeError, IndexError, OverflowError):
        return None


def _first(headers: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def build_envelope(headers: Mapping[str, Sequence[str]]) -> Envelope:
    """The Envelope for raw headers; `automatic_reasons` is filled in by the caller."""
    sender = _addresses(headers.get("from", []))
    from_name, from_addr = sender[0] if sender else ("", "")
    if not from_addr and headers.get("from"):
        from_name = decode_header(headers["from"][0])
    message_ids = _ids(_first(headers, "message-id"))
    replied = _ids(_first(headers, "in-reply-to"))
    return Envelope(
        from_addr=from_addr,
        from_name=from_name,
        to=tuple(addr for _n, addr in _addresses(headers.get("to", []))),
        cc=tuple(addr for _n, addr in _addresses(headers.get("cc", []))),
        subject=decode_header((headers.get("subject") or [""])[0]),
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=replied[0] if replied else None,
        references=tuple(_ids(" ".join(headers.get("references", [])))),
        date=_date(_first(headers, "date")),
        automatic_reasons=(),
    )

