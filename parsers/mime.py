"""Raw message bytes → the displayed text, the attachments and decoding notes.

Built on the stdlib parser with the compat32 policy: it is the fastest of
the stdlib policies and never raises on broken MIME, and we do all charset
work ourselves (see `charsets.py`).  The body a person saw is the text/plain
alternative when there is one with content, else the HTML converted to
lines; forwarded `message/rfc822` parts and attachments are not body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import unquote

from parsers.charsets import decode_header, decode_text
from parsers.errors import UnreadableMessage
from parsers.htmltext import html_to_text
from parsers.model import Attachment

_MAX_DEPTH = 40
_NEWLINES = re.compile(r"\r\n?")
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_HTML_START = re.compile(r"^\s*<(?:!doctype|html|head|body|div|p|table|span|meta)\b", re.I)
_PARSE_ERRORS = (ValueError, TypeError, IndexError, LookupError, AttributeError, UnicodeError)


@dataclass(frozen=True)
class Body:
    """What `extract_body` found: the text a person saw and what was guessed."""

    text: str
    from_html: bool
    attachments: tuple[Attachment, ...]
    warnings: tuple[str, ...]


def read_message(raw: bytes) -> Message:
    """Parse bytes into a message; raise UnreadableMessage if they are not one."""
    data = bytes(raw)
    if not data.strip():
        raise UnreadableMessage("邮件为空：文件没有任何内容")
    try:
        message = BytesParser(policy=compat32).parsebytes(data)
    except _PARSE_ERRORS as exc:  # the stdlib parser is lenient; this is a last resort
        raise UnreadableMessage(f"无法按邮件格式读取：{exc}") from exc
    if not message.keys():
        head = data[:8192]
        if b"\x00" in head or len(_CONTROL.findall(head)) > len(head) // 20:
            raise UnreadableMessage("不是邮件：没有邮件头，内容是二进制数据")
    return message


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except _PARSE_ERRORS:
        return None


def param(part: Message, name: str, header: str) -> object:
    """A header parameter, or None when the header is too broken to read."""
    try:
        return part.get_param(name, None, header)
    except _PARSE_ERRORS:
        return None


def filename_of(part: Message) -> str | None:
    """The decoded attachment name (RFC 2231 `filename*`, RFC 2047, raw 8-bit)."""
    for name, header in (("filename", "content-disposition"), ("name", "content-type")):
        value = param(part, name, header)
        if value is None:
            continue
        if isinstance(value, tuple):
            charset, _language, text = value
            data = str(text).encode("latin-1", "replace")
            return decode_text(data, charset or "utf-8", "附件名")[0]
        return decode_header(unquote(str(value)))
    return None


def _charset(part: Message) -> str | None:
    try:
        value = part.get_param("charset")
    except _PARSE_ERRORS:
        return None
    if isinstance(value, tuple):
        value = value[2]
    return unquote(str(value)).strip() if value else None


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except _PARSE_ERRORS:
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    return raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else b""


def unflow(text: str, delsp: bool) -> str:
    """Join RFC 3676 format=flowed soft line breaks (keeps quote depth)."""
    out: list[str] = []
    current: str | None = None
    depth = 0
    for line in text.split("\n"):
        level = len(line) - len(line.lstrip(">"))
        content = line[level:]
        if content.startswith(" "):
            content = content[1:]   # space-stuffing
        if current is not None and level != depth:
            out.append(">" * depth + (" " if depth else "") + current)
            current = None
        current = content if current is None else current + content
        depth = level
        if content.endswith(" ") and content != "-- ":
            if delsp:
                current = current[:-1]
            continue
        out.append(">" * depth + (" " if depth else "") + current)
        current = None
    if current is not None:
        out.append(">" * depth + (" " if depth else "") + current)
    return "\n".join(out)


class _Walker:
    """Collects the displayed text parts and the attachments of a message."""

    def __init__(self) -> None:
        self.attachments: list[Attachment] = []
        self.warnings: list[str] = []

    def text_of(self, part: Message) -> str:
        text, warning = decode_text(_payload(part), _charset(part))
        if warning and warning not in self.warnings:
            self.warnings.append(warning)
        text = _NEWLINES.sub("\n", text).replace("\x00", "")
        if text.startswith("\ufeff"):
            text = text[1:]
        fmt = param(part, "format", "content-type")
        if isinstance(fmt, str) and fmt.lower() == "flowed" and part.get_content_subtype() == "plain":
            delsp = param(part, "delsp", "content-type")
            text = unflow(text, isinstance(delsp, str) and delsp.lower() == "yes")
        return text

    def collect(self, part: Message, depth: int = 0) -> tuple[list[Message], list[Message]]:
        """(plain parts, html parts) a reader is shown, in order."""
        if depth > _MAX_DEPTH:
            return [], []
        maintype = part.get_content_maintype()
        if maintype == "message" or (part.is_multipart() and maintype != "multipart"):
            self._attach(part, depth)
            return [], []
        if part.is_multipart():
            children = [c for c in part.get_payload() if isinstance(c, Message)]
            subtype = part.get_content_subtype()
            if subtype == "report":
                children = children[:1]
            results = [self.collect(c, depth + 1) for c in children]
            if subtype == "alternative":
                plain = next((p for p, _h in results if p), [])
                html = next((h for _p, h in reversed(results) if h), [])
                return plain, html
            return [p for r in results for p in r[0]], [h for r in results for h in r[1]]
        disposition = _disposition(part)
        subtype = part.get_content_subtype()
        is_attachment = disposition == "attachment" or (
            disposition is None and depth > 0 and filename_of(part) is not None
        )
        if maintype == "text" and not is_attachment and subtype in ("plain", "html"):
            return ([part], []) if subtype == "plain" else ([], [part])
        self._attach(part, depth)
        return [], []

    def _attach(self, part: Message, depth: int) -> None:
        if depth == 0:
            return
        name = filename_of(part)
        # A forwarded message counts as an attachment even without a name.
        if name is not None or _disposition(part) == "attachment" or part.get_content_maintype() == "message":
            self.attachments.append(Attachment(name or "", part.get_content_type()))


def extract_body(message: Message, keyword: str | None = None) -> Body:
    """The text the sender's client displayed, plus attachments and warnings.

    With `keyword`: if the plain alternative lacks it but the HTML part has
    it, the HTML is used — some clients write a stub or lossy plain part.
    """
    walker = _Walker()
    if not message.keys():
        # Headerless input read as a bare body; sniff pasted HTML fragments.
        raw = walker.text_of(message)
        if _HTML_START.match(raw):
            return Body(html_to_text(raw), True, (), tuple(walker.warnings))
        return Body(raw.strip("\n"), False, (), tuple(walker.warnings))
    plain_parts, html_parts = walker.collect(message)
    plain = "\n".join(walker.text_of(p) for p in plain_parts)
    text, from_html = plain, False
    if html_parts and (not plain.strip() or (keyword and keyword not in plain)):
        sources = [walker.text_of(h) for h in html_parts]
        if not plain.strip() or any(keyword in src for src in sources if keyword):
            text, from_html = "\n".join(html_to_text(src) for src in sources), True
    return Body(text.strip("\n"), from_html, tuple(walker.attachments), tuple(walker.warnings))
