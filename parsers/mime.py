"""Raw message bytes → the displayed text, the attachments and decoding notes.

Built on the stdlib parser with the compat32 policy: it is the fastest of
the stdlib policies and never raises on broken MIME, and we do all charset
work ourselves (see `charsets.py`).  The body a person saw is the text/plain
alternative when there is one with content, else the HTML converted to
lines; forwarded `message/rfc822` parts and attachments are not body.

Two kinds of attachment are opened here because a form may be inside them:
an Outlook winmail.dat (`application/ms-tnef`, read by `tnef.py`: its body
stands in for a missing or form-less body, its files are listed as the
message's attachments) and an .xlsx workbook (handed to the caller as bytes;
`xlsxform.py` reads it).  The stdlib parser recurses once per nesting
level, so a message nested deeper than it can follow keeps its headers and
loses its body, with a warning; everything after parsing walks the tree
with an explicit stack or a depth limit.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.errors import MessageDefect
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import unquote
from typing import NamedTuple

from parsers.charsets import decode_header, decode_text, header_text_8bit
from parsers.errors import UnreadableMessage
from parsers.filetypes import (
    content_type_for,
    is_document,
    is_old_document,
    is_old_spreadsheet,
    is_tnef,
    is_workbook,
    not_mail_reason,
)
from parsers.htmltext import html_to_text
from parsers.model import Attachment
from parsers.tnef import read_tnef

_MAX_DEPTH = 40
_MAX_PARAM_HEADER = 8192
_CONTENT_TYPE = re.compile(rb"^content-type:[^\n]*(?:\n[ \t][^\n]*)*", re.I | re.M)
_BOUNDARY = re.compile(rb'\bboundary\s*=\s*("[^"\r\n]*"|[^;\s]+)', re.I)
_NEWLINES = re.compile(r"\r\n?")
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_HTML_START = re.compile(r"^\s*<(?:!doctype|html|head|body|div|p|table|span|meta)\b", re.I)
_PARSE_ERRORS = (ValueError, TypeError, IndexError, LookupError, AttributeError, UnicodeError)


class FormFile(NamedTuple):
    """An attachment that may hold the form: its name, bytes, and which reader reads it."""

    name: str
    data: bytes
    kind: str   # "workbook" (.xlsx) | "document" (.docx)


@dataclass(frozen=True)
class Body:
    """What `extract_body` found: the text a person saw and what was guessed."""

    text: str
    from_html: bool
    attachments: tuple[Attachment, ...]
    warnings: tuple[str, ...]
    # every attached .xlsx and .docx, in MIME order (forwarded mails' and winmail.dat's too)
    form_files: tuple[FormFile, ...] = ()


class NestingTooDeep(MessageDefect):
    """The MIME tree is nested deeper than the stdlib parser can follow."""


def iter_parts(message: Message, max_depth: int = _MAX_DEPTH) -> Iterator[Message]:
    """Every part, depth first like `Message.walk`, but without recursion."""
    stack = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        yield part
        # Only a multipart's payload: a leaf's would be decoded with its charset parameter.
        payload = part.get_payload() if part.is_multipart() else None
        if depth < max_depth and isinstance(payload, list):
            stack.extend((c, depth + 1) for c in reversed(payload) if isinstance(c, Message))


def _drop_nul_in_headers(message: Message) -> None:
    """Remove NUL from every header name and value of every part, keeping their order.

    A NUL has no use in a header, and left in one it breaks what reads it:
    the stdlib decodes a leaf's payload with the charset parameter as given
    (`charset="utf-8\\x00"` raises ValueError there), and PostgreSQL refuses
    NUL in the text columns addresses and ids are stored in.
    """
    for part in iter_parts(message, max_depth=sys.maxsize):
        items = list(part.raw_items())
        if not any("\x00" in f"{name}{value}" for name, value in items):
            continue
        for name in {str(name).lower() for name, _value in items}:
            del part[name]
        for name, value in items:
            part[str(name).replace("\x00", "")] = str(value).replace("\x00", "")


def _shorten(match: re.Match[bytes]) -> bytes:
    """A huge Content-Type cut to its first parameters, keeping the boundary."""
    value = match.group(0)
    if len(value) <= _MAX_PARAM_HEADER:
        return value
    head = value[:_MAX_PARAM_HEADER]
    head = head[:head.rfind(b";")] if b";" in head else head
    boundary = _BOUNDARY.search(value)
    return head + (b"; boundary=" + boundary.group(1) if boundary else b"")


def read_message(raw: bytes) -> Message:
    """Parse bytes into a message; raise UnreadableMessage if they are not one."""
    data = bytes(raw)
    if not data.strip():
        raise UnreadableMessage("邮件为空：文件没有任何内容")
    # The stdlib reads a multipart's boundary with a splitter that is quadratic in
    # the header's length; a hostile megabyte Content-Type would stall the parse.
    data = _CONTENT_TYPE.sub(_shorten, data)
    try:
        message = BytesParser(policy=compat32).parsebytes(data)
    except RecursionError:
        # Hundreds of nested multiparts: keep the headers, leave the body unread.
        message = BytesParser(policy=compat32).parsebytes(data, headersonly=True)
        message.defects.append(NestingTooDeep())
    except _PARSE_ERRORS as exc:  # the stdlib parser is lenient; this is a last resort
        raise UnreadableMessage(f"无法按邮件格式读取：{exc}") from exc
    if b"\x00" in data:
        _drop_nul_in_headers(message)
    if not message.keys():
        reason = not_mail_reason(data)
        if reason is not None:
            raise UnreadableMessage(reason)
        head = data[:8192]
        if b"\x00" in head or len(_CONTROL.findall(head)) > len(head) // 20:
            raise UnreadableMessage("不是邮件：没有邮件头，内容是二进制数据")
    return message


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except _PARSE_ERRORS:
        return None


def _params_of(part: Message, header: str) -> Message:
    """`part`, or a stand-in holding a repaired copy of `header` for reading its parameters.

    Two repairs.  compat32 turns raw 8-bit bytes into U+FFFD when parameters
    are read, losing a name such as 月报.xlsx that Foxmail or a phone sent
    unencoded (the raw value still holds the bytes, surrogate-escaped).  And
    the stdlib's parameter splitter is quadratic: a hostile 1 MB header
    would take minutes, so only its first `_MAX_PARAM_HEADER` characters are
    read — real ones are far shorter.
    """
    raw = next((str(v) for k, v in part.raw_items() if str(k).lower() == header), None)
    if raw is None or (raw.isascii() and len(raw) <= _MAX_PARAM_HEADER):
        return part
    holder = Message()
    holder[header] = header_text_8bit(raw[:_MAX_PARAM_HEADER])
    return holder


def param(part: Message, name: str, header: str) -> object:
    """A header parameter, or None when the header is too broken to read."""
    try:
        return _params_of(part, header).get_param(name, None, header)
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
    value = param(part, "charset", "content-type")
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


def _is_tnef(part: Message) -> bool:
    return is_tnef(filename_of(part), part.get_content_type())


class _Walker:
    """Collects the displayed text parts, the attachments and the files that may hold the form."""

    def __init__(self, keywords: tuple[str, ...]) -> None:
        self.keywords = keywords
        self.attachments: list[Attachment] = []
        self.warnings: list[str] = []
        self.form_files: list[FormFile] = []
        self.tnef_texts: list[str] = []
        self.too_deep = False

    def warn(self, warning: str) -> None:
        if warning not in self.warnings:
            self.warnings.append(warning)

    def text_of(self, part: Message) -> str:
        text, warning = decode_text(_payload(part), _charset(part))
        if warning:
            self.warn(warning)
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
            self.too_deep = True
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
        if _is_tnef(part):
            self._read_tnef(part, depth)
            return [], []
        self._attach(part, depth)
        return [], []

    def _read_tnef(self, part: Message, depth: int) -> None:
        """winmail.dat: its body is a candidate body, its files are the attachments."""
        content = read_tnef(_payload(part), self.keywords)
        for warning in content.warnings:
            self.warn(warning)
        if not content.readable:
            self._attach(part, max(depth, 1))   # then at least list winmail.dat itself
            return
        if content.text.strip():
            self.tnef_texts.append(content.text.replace("\x00", ""))
        for file in content.files:
            self._add(file.name, content_type_for(file.name), lambda: file.data)

    def _attach(self, part: Message, depth: int) -> None:
        if depth == 0:
            return
        name = filename_of(part)
        # A forwarded message counts as an attachment even without a name; the files it carries count too.
        if name is not None or _disposition(part) == "attachment" or part.get_content_maintype() == "message":
            self._add(name or "", part.get_content_type(), lambda: _payload(part))
        inner = part.get_payload() if part.get_content_type() == "message/rfc822" else None
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            self._files_of(inner[0], depth + 1)

    def _files_of(self, message: Message, depth: int) -> None:
        """The attached files of a forwarded message (not its text: that is the forwarded mail, not ours)."""
        for part in iter_parts(message, max(_MAX_DEPTH - depth, 0)):
            if part is message or part.is_multipart():
                continue
            if _is_tnef(part):
                content = read_tnef(_payload(part))
                for file in content.files if content.readable else ():
                    self._add(file.name, content_type_for(file.name), lambda f=file: f.data)  # type: ignore[misc]
            elif filename_of(part) is not None or part.get_content_maintype() == "message":
                self._attach(part, depth)

    def _add(self, name: str, content_type: str, data: Callable[[], bytes]) -> None:
        """List an attachment; keep the bytes of workbooks and Word documents (only those are ever read)."""
        name = name.replace("\x00", "")   # a TNEF name is not decoded by charsets.py
        self.attachments.append(Attachment(name, content_type))
        if is_document(name, content_type):
            self.form_files.append(FormFile(name, data(), "document"))
        elif is_workbook(name, content_type):
            self.form_files.append(FormFile(name, data(), "workbook"))
        elif is_old_spreadsheet(name):
            self.warn(f"附件“{name}”是旧版 Excel/WPS 格式，系统无法读取；"
                      "如填报单填写在其中，请另存为 .xlsx 格式后重新发送")
        elif is_old_document(name):
            self.warn(f"附件“{name}”是旧版 Word/WPS 格式，系统无法读取；"
                      "如填报单填写在其中，请另存为 .docx 格式后重新发送")


def extract_body(message: Message, keywords: tuple[str, ...] = ()) -> Body:
    """The text the sender's client displayed, plus attachments and warnings.

    With `keywords` (the forms' titles): if the plain alternative lacks them
    all but the HTML part has one, the HTML is used — some clients write a
    stub or lossy plain part.
    """
    def has_form(text: str) -> bool:
        return any(k in text for k in keywords)

    walker = _Walker(keywords)
    if any(isinstance(d, NestingTooDeep) for d in message.defects):
        walker.warn("邮件的 MIME 结构嵌套层数过多，无法解析，正文未读取")
    if not message.keys():
        # Headerless input read as a bare body; sniff pasted HTML fragments.
        raw = walker.text_of(message)
        if _HTML_START.match(raw):
            return Body(html_to_text(raw), True, (), tuple(walker.warnings))
        return Body(raw.strip("\n"), False, (), tuple(walker.warnings))
    plain_parts, html_parts = walker.collect(message)
    plain = "\n".join(walker.text_of(p) for p in plain_parts)
    text, from_html = plain, False
    if html_parts and (not plain.strip() or (keywords and not has_form(plain))):
        sources = [walker.text_of(h) for h in html_parts]
        if not plain.strip() or any(has_form(src) for src in sources):
            text, from_html = "\n".join(html_to_text(src) for src in sources), True
    tnef = walker.tnef_texts
    # Outlook's TNEF body is the real one when the MIME body is empty or lacks the form.
    if tnef and (not text.strip() or (keywords and not has_form(text) and any(has_form(t) for t in tnef))):
        text, from_html = "\n".join(tnef), False
    if walker.too_deep:
        walker.warn(f"邮件的 MIME 结构嵌套超过{_MAX_DEPTH}层，更深处的内容未读取")
    return Body(text.strip("\n"), from_html, tuple(walker.attachments), tuple(walker.warnings),
                tuple(walker.form_files))
