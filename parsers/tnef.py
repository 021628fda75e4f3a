"""winmail.dat (TNEF) → the body a person wrote and the files inside.

Outlook set to "Rich Text" sends its mail as an `application/ms-tnef`
part, usually named winmail.dat, that holds the real body (plain text,
HTML or compressed RTF) and the real attachments; what other clients show
may be only a stub.  `read_tnef` opens it with the `tnefparse` package
(imported only when such a part exists: the import costs time that
`mailbot parse` on an ordinary message should not pay).

tnefparse trusts its input: a damaged count field can make it loop for
billions of steps, and strings in unexpected codepages make it raise.  So
the stream is first walked here and rebuilt with only what we read —
complete objects, a known codepage, attribute lists whose counts fit their
bytes — before tnefparse sees it.  The body's MAPI properties are decoded
here too, so the body's charset is ours to choose (`charsets.decode_text`),
and RTF goes through `rtf.py`.  Nothing here raises on bad data: a part
that cannot be read yields a warning and no text.
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass

from parsers.charsets import decode_text
from parsers.htmltext import html_to_text
from parsers.rtf import rtf_body_text

_SIGNATURE = 0x223E9F78
_LEVEL_MESSAGE, _LEVEL_ATTACHMENT = 1, 2
# TNEF attribute ids (low word of the attribute) kept for tnefparse.
_ATT_BODY, _ATT_MAPIPROPS, _ATT_VERSION, _ATT_CODEPAGE = 0x800C, 0x9003, 0x9006, 0x9007
_ATT_RENDDATA, _ATT_DATA, _ATT_TITLE, _ATT_ATTACHMENT = 0x9002, 0x800F, 0x8010, 0x9005
# MAPI property ids we read.
_PR_BODY, _PR_BODY_HTML, _PR_RTF, _PR_INTERNET_CP = 0x1000, 0x1013, 0x1009, 0x3FDE
_PR_LONG_FILENAME, _PR_FILENAME, _PR_DATA_OBJ = 0x3707, 0x3704, 0x3701
_IMESSAGE_SIG = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
# MAPI property types → fixed value size; the variable-size ones carry counts.
_FIXED = {0x0002: 2, 0x000B: 2, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x0005: 8, 0x0006: 8,
          0x0007: 8, 0x0014: 8, 0x0040: 8, 0x0048: 16}
_VARIABLE = frozenset({0x001E, 0x001F, 0x000D, 0x0102, 0x0000})
_MAX_PROPERTIES = 10_000


@dataclass(frozen=True)
class TnefFile:
    """One file Outlook put inside winmail.dat."""

    name: str
    data: bytes


@dataclass(frozen=True)
class TnefContent:
    """What a winmail.dat held; `readable` is False when it could not be opened at all."""

    readable: bool
    text: str
    files: tuple[TnefFile, ...]
    warnings: tuple[str, ...]


def _u16(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<H", data, offset)[0])


def _u32(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<I", data, offset)[0])


def _mapi_end(data: bytes, offset: int = 0) -> int | None:
    """Where a MAPI attribute list ends, or None when its counts do not fit its bytes.

    Mirrors tnefparse's `decode_mapi` walk, so a list accepted here cannot
    make it loop on an absurd count.  Embedded Outlook messages are refused:
    tnefparse would parse them without this check.
    """
    size = len(data)
    if offset + 4 > size:
        return None
    count = _u32(data, offset)
    offset += 4
    if count > min(_MAX_PROPERTIES, (size - offset) // 4):
        return None
    try:
        for _ in range(count):
            kind, name = _u16(data, offset), _u16(data, offset + 2)
            offset += 4
            if name >= 0x8000:   # a named property: GUID, then an id or a name
                offset += 16
                if _u32(data, offset) == 0:
                    offset += 8
                else:
                    length = _u32(data, offset + 4)
                    offset += 8 + length + (-length % 4)
            values: int | None = None
            if kind & 0x1000:
                kind ^= 0x1000
                values = _u32(data, offset)
                offset += 4
                if values > (size - offset) // 2:
                    return None
            for _ in range(values or 1):
                if kind in _FIXED:
                    offset += _FIXED[kind]
                elif kind in _VARIABLE:
                    items = 1
                    if values is None:
                        items = _u32(data, offset)
                        offset += 4
                        if items > (size - offset) // 4:
                            return None
                    for _ in range(items):
                        length = _u32(data, offset)
                        if name == _PR_DATA_OBJ and data[offset + 4:offset + 20] == _IMESSAGE_SIG:
                            return None
                        offset += 4 + length + (-length % 4)
                else:
                    return None
                if offset > size:
                    return None
            if (values or 1) % 2 and kind in (0x0002, 0x000B):
                offset += 2
    except struct.error:
        return None
    return offset if offset <= size else None


def _object(level: int, attribute: int, kind: int, body: bytes) -> bytes:
    """One TNEF object as written on the wire, with its checksum."""
    return (struct.pack("<BHHI", level, attribute, kind, len(body)) + body
            + struct.pack("<H", sum(body) & 0xFFFF))


def _codec(codepage: int) -> str | None:
    """The Python codec for a Windows codepage number, if there is one."""
    name = {936: "gb18030", 54936: "gb18030", 65001: "utf-8", 20127: "ascii", 28591: "latin-1"}.get(
        codepage, f"cp{codepage}")
    try:
        codecs.lookup(name)
    except LookupError:
        return None
    return name


@dataclass
class _Walk:
    """The stream as rebuilt for tnefparse, plus what was set aside or dropped."""

    objects: list[bytes]
    mapi_blocks: list[bytes]
    codepage: int
    damaged: int
    truncated: bool


def _walk(data: bytes) -> _Walk:
    walk = _Walk(objects=[], mapi_blocks=[], codepage=1252, damaged=0, truncated=False)
    pos, size, attachment_open = 6, len(data), False
    while pos + 11 <= size:
        level, attribute, kind, length = struct.unpack_from("<BHHI", data, pos)
        if pos + 11 + length > size:
            walk.truncated = True
            break
        body = data[pos + 9:pos + 9 + length]
        if sum(body) & 0xFFFF != _u16(data, pos + 9 + length):
            walk.damaged += 1
        # Rebuilt with a fresh checksum, so tnefparse's own check passes quietly.
        obj = _object(level, attribute, kind, body)
        pos += 11 + length
        if level == _LEVEL_MESSAGE:
            if attribute == _ATT_CODEPAGE and length >= 4 and _codec(_u32(body, 0)) is not None:
                walk.codepage = _u32(body, 0)
            elif attribute == _ATT_MAPIPROPS and _mapi_end(body) is not None:
                walk.mapi_blocks.append(body)
            elif attribute in (_ATT_BODY, _ATT_VERSION):
                walk.objects.append(obj)
            # Everything else (subject, dates, recipients…) is not needed and is
            # where tnefparse is most fragile, so it never sees it.
        elif level == _LEVEL_ATTACHMENT:
            if attribute == _ATT_RENDDATA:
                attachment_open = True
                walk.objects.append(obj)
            elif not attachment_open:
                walk.damaged += 1
            elif attribute in (_ATT_DATA, _ATT_TITLE):
                walk.objects.append(obj)
            elif attribute == _ATT_ATTACHMENT and _mapi_end(body) is not None:
                walk.objects.append(obj)
    if 0 < size - pos and not walk.truncated and data[pos:].strip(b"\x00"):
        walk.damaged += 1
    return walk


def _text(value: object, codec: str) -> str:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, bytes):
        return decode_text(value.rstrip(b"\x00"), codec, "winmail.dat")[0]
    return ""


def _bodies(blocks: list[bytes], codec: str, oem_body: object) -> tuple[str, str, bytes]:
    """(plain, html, compressed rtf) from the message's MAPI properties."""
    from tnefparse.mapi import decode_mapi  # type: ignore[import-untyped]

    plain, html, rtf = _text(oem_body, codec), "", b""
    for block in blocks:
        props = {p.name: p for p in decode_mapi(block, codec)}
        html_codec = codec
        if _PR_INTERNET_CP in props and isinstance(props[_PR_INTERNET_CP].data, int):
            html_codec = _codec(props[_PR_INTERNET_CP].data) or codec
        if _PR_BODY in props:
            plain = _text(props[_PR_BODY].data, html_codec) or plain
        if _PR_BODY_HTML in props:
            html = _text(props[_PR_BODY_HTML].data, html_codec)
        if _PR_RTF in props and isinstance(props[_PR_RTF].data, bytes):
            rtf = props[_PR_RTF].data
    return plain, html, rtf


def _file_name(attachment: object, codec: str) -> str:
    for prop in getattr(attachment, "mapi_attrs", []):
        if prop.name == _PR_LONG_FILENAME:
            name = _text(prop.data, codec).strip()
            if name:
                return name
    return _text(getattr(attachment, "_name", b""), codec).strip()


def read_tnef(data: bytes, keywords: tuple[str, ...] = ()) -> TnefContent:
    """The body text and files of a winmail.dat.

    The body is the plain-text one when it is there, else the HTML or the RTF
    converted to text; with `keywords`, the first of them that contains one.
    """
    if len(data) < 6 or _u32(data, 0) != _SIGNATURE:
        return TnefContent(False, "", (), ("附件 winmail.dat 不是有效的 TNEF 数据，未能读取其中的正文和附件",))
    walk = _walk(data)
    codec = _codec(walk.codepage) or "cp1252"
    warnings: list[str] = []
    if walk.truncated or walk.damaged:
        warnings.append("附件 winmail.dat（TNEF）已损坏或不完整，其中部分内容可能未能读取")
    stream = data[:6] + _object(_LEVEL_MESSAGE, _ATT_CODEPAGE, 0x0006,
                                struct.pack("<II", walk.codepage, 0)) + b"".join(walk.objects)
    try:
        from tnefparse.tnef import TNEF  # type: ignore[import-untyped]

        tnef = TNEF(stream, do_checksum=True)
        files = tuple(TnefFile(_file_name(a, codec) or "未命名附件", a.data if isinstance(a.data, bytes) else b"")
                      for a in tnef.attachments)
        plain, html, rtf = _bodies(walk.mapi_blocks, codec, tnef.body)
    except Exception as exc:  # noqa: BLE001 - a third-party decoder on untrusted bytes must not crash us
        return TnefContent(False, "", (), (f"附件 winmail.dat（TNEF）无法解读：{type(exc).__name__}",))
    candidates = [lambda: plain, lambda: html_to_text(html) if html else "", lambda: rtf_body_text(rtf)]
    texts: list[str] = []
    for make in candidates:
        text = make().replace("\r\n", "\n").replace("\r", "\n").strip("\n")
        if text.strip():
            if not keywords or any(k in text for k in keywords):
                return TnefContent(True, text, files, tuple(warnings))
            texts.append(text)
    return TnefContent(True, texts[0] if texts else "", files, tuple(warnings))
