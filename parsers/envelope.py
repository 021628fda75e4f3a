"""Message headers → `Envelope`: addresses, subject, ids and date, decoded.

Header values are taken raw (`Message.raw_items`) so 8-bit bytes that some
clients put in headers survive, then decoded by `charsets.decode_header`.
Addresses are split before their display names are decoded, so a comma
inside an encoded name cannot split an address.

The sender is read strictly (`read_sender`): exactly one From header holding
exactly one mailbox that an RFC 5322 parser accepts, obsolete syntax
included. An address is never taken out of a display name, and CPython's
lenient `getaddresses` (CVE-2023-27043) is not used for it: a From that
needs guessing is no sender at all, and `Envelope.from_problem` says why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from email import errors
from email.headerregistry import AddressHeader, HeaderRegistry
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import cast

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


# An encoded-word only ever stands for text in a phrase or comment, so it is read as a plain atom for the
# structure; the real display name is decoded apart (with the GB upgrades of charsets.py). Clients that glue it
# to the "<" or put it inside quotes then parse like everyone else.
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_FORGIVEN = (errors.ObsoleteHeaderDefect, errors.NonASCIILocalPartDefect, errors.UndecodableBytesDefect,
             errors.CharsetError)
_REGISTRY = HeaderRegistry()
_MAX_FROM = 4096   # one mailbox with a long encoded name fits easily; the strict parser is slow on megabytes


def read_sender(values: Sequence[str]) -> tuple[str, str, str | None]:
    """(display name, address, problem) of the From headers; the address is empty whenever there is a problem.

    No From at all is no problem of form (the mail simply has no sender); anything else that is not exactly one
    strictly parsed mailbox is, and the problem (Chinese) says what was wrong.
    """
    if not values:
        return "", "", None
    if len(values) > 1:
        return "", "", f"邮件有{len(values)}个发件人（From）行"
    text = _FOLD.sub(" ", values[0])
    if len(text) > _MAX_FROM:
        return "", "", f"发件人（From）长达{len(text)}个字符，不是一个邮件地址"
    if not text.isascii():
        text = header_text_8bit(text)
    try:
        parsed = _REGISTRY("from", _ENCODED_WORD.sub(" ew ", text))
        header = cast(AddressHeader, parsed)
        valid = not any(not isinstance(d, _FORGIVEN) for d in parsed.defects) and all(
            g.display_name is None for g in header.groups)
        mailboxes = header.addresses
    except Exception:  # noqa: BLE001 - the stdlib parser itself trips on some garbage (":;a@b"): not an address
        valid, mailboxes = False, ()
    if not valid:
        return "", "", f"发件人（From）“{_shown(text)}”不是合规的邮件地址格式"
    if len(mailboxes) != 1 or not mailboxes[0].domain:
        return "", "", f"发件人（From）“{_shown(text)}”应当有且只有一个邮件地址"
    addr = mailboxes[0].addr_spec.strip().lower()
    # The display name is decoded from the original text: the strict reading above has only placeholders.
    names = [name for name, a in _addresses([text]) if a == addr]
    return names[0] if names else "", addr, None


def _shown(text: str) -> str:
    return text if len(text) <= 120 else text[:120] + "…"


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
    from_name, from_addr, from_problem = read_sender(headers.get("from", []))
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
        from_problem=from_problem,
        auth_results=tuple(_FOLD.sub(" ", v) for v in headers.get("authentication-results", [])),
    )

