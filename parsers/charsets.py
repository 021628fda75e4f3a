"""Bytes → text for bodies and headers, tolerant of what Chinese clients send.

The declared charset is a hint, not a promise: gb2312/gbk/cp936 labels are
read as gb18030 (a strict superset, so GBK-only characters such as 镕 and
4-byte ones such as 䶮 survive), a BOM wins over any label, mislabelled
UTF-8 and GB text is recognised, and unknown labels never crash.  Whenever
the text was read with something other than what the message declared, the
caller gets a Chinese warning to pass on.
"""

from __future__ import annotations

import binascii
import codecs
import re

_GB_LABELS = frozenset({
    "gb2312", "gbk", "x-gbk", "cp936", "ms936", "windows-936", "gb_2312-80",
    "gb_2312", "gb-2312", "csgb2312", "csgbk", "euc-cn", "x-euc-cn", "euccn",
    "chinese", "gb18030", "x-gb18030", "gb_18030", "iso-ir-58", "x-cp936",
})
_ALIASES = {
    "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8", "x-unicode20utf8": "utf-8",
    "big5": "big5hkscs", "x-big5": "big5hkscs", "cn-big5": "big5hkscs",
    "ks_c_5601-1987": "cp949", "euc-kr": "cp949", "ks_c_5601": "cp949",
    "shift_jis": "cp932", "x-sjis": "cp932", "sjis": "cp932", "windows-31j": "cp932",
    "iso-8859-8-i": "iso-8859-8", "unicode-1-1-utf-7": "utf-7",
}
# Labels whose decoding never fails, so a wrong label would silently give mojibake.
_WESTERN = frozenset({"ascii", "latin-1", "iso8859-1", "cp1252", "iso8859-15"})
_SEVEN_BIT = frozenset({"utf-7", "hz"})

_BOM_UTF8 = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_HIGH_PAIR = re.compile(rb"[\x81-\xfe][\x40-\xfe]")
_GB2312_PAIR = re.compile(rb"[\xa1-\xf7][\xa1-\xfe]")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_ENCODED_WORD = re.compile(
    r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([BbQq])\?([^?\s]*)\?="
)
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_WS_ONLY = re.compile(r"^[ \t\r\n]*$")
_NOT_B64 = re.compile(r"[^A-Za-z0-9+/]")


def codec_for(label: str | None) -> str | None:
    """The Python codec to read a declared charset with, or None if unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    # Also odd spellings seen in the wild, such as "iso-gb2312" or "gbk2312".
    if name in _GB_LABELS or "gb2312" in name or "gbk" in name or "gb18030" in name:
        return "gb18030"
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    # Transform codecs such as base64_codec or rot13 are not charsets.
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None


def _looks_gb(data: bytes) -> bool:
    """Whether high bytes come in GB2312-style pairs, as in real Chinese text."""
    pairs = len(_HIGH_PAIR.findall(data))
    if pairs < 2:
        return False
    return len(_GB2312_PAIR.findall(data)) >= 0.8 * pairs


def _utf8_with_cjk(data: bytes) -> str | None:
    # A GB byte stream is practically never valid UTF-8 with 3-byte characters.
    text = _strict(data, "utf-8")
    if text is not None and any(ord(ch) >= 0x800 for ch in text):
        return text
    return None


def _guess(data: bytes) -> tuple[str, str] | None:
    """charset_normalizer's best guess (imported lazily: it is slow to load)."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - dependency is declared
        return None
    try:
        best = from_bytes(data[:65536]).best()
    except Exception:  # noqa: BLE001 - a third-party guesser must not crash us
        return None
    if best is None:
        return None
    codec = codec_for(best.encoding) or best.encoding
    try:
        return data.decode(codec, "replace"), codec
    except (LookupError, ValueError, TypeError):
        return None


def _fallbacks(data: bytes) -> tuple[str, str]:
    text = _strict(data, "utf-8")
    if text is not None:
        return text, "utf-8"
    if _looks_gb(data):
        text = _strict(data, "gb18030")
        if text is not None:
            return text, "gb18030"
    guessed = _guess(data)
    if guessed is not None:
        return guessed
    return data.decode("latin-1", "replace"), "latin-1"


def decode_text(data: bytes, declared: str | None, what: str = "正文") -> tuple[str, str | None]:
    """Decode `data` declared as `declared`; return (text, warning or None), neither holding NUL.

    NUL is dropped because PostgreSQL refuses it in text columns and no
    person typed it; a label holding one is no charset name and is guessed past.
    """
    text, warning = _decoded(data, declared, what)
    return _without_nul(text), _without_nul(warning) if warning else None


def _without_nul(text: str) -> str:
    return text.replace("\x00", "") if "\x00" in text else text


def _decoded(data: bytes, declared: str | None, what: str) -> tuple[str, str | None]:
    if not data:
        return "", None
    if data.startswith(_BOM_UTF8):
        return data[3:].decode("utf-8", "replace"), None
    if data.startswith(_UTF16_BOMS):
        return data.decode("utf-16", "replace"), None
    codec = codec_for(declared)
    if data.isascii():
        # 7-bit text reads the same in every charset except the 7-bit ones.
        if codec is not None and (codec in _SEVEN_BIT or codec.startswith("iso2022")):
            text = _strict(data, codec)
            if text is not None:
                return text, None
        return data.decode("ascii"), None
    if codec == "gb18030":
        text = _utf8_with_cjk(data)
        if text is not None:
            return text, _note(what, declared, "utf-8")
    elif codec in _WESTERN:
        text = _strict(data, "utf-8")
        if text is not None:
            return text, _note(what, declared, "utf-8")
        if _looks_gb(data):
            text = _strict(data, "gb18030")
            if text is not None and len(_CJK.findall(text)) >= 2:
                return text, _note(what, declared, "gb18030")
        if codec == "ascii":
            return data.decode("cp1252", "replace"), _note(what, declared, "cp1252")
    if codec is not None:
        text = _strict(data, codec)
        if text is not None:
            return text, None
        # Mostly right with a few broken bytes: keep the declared reading.
        lossy = data.decode(codec, "replace")
        if lossy.count("\ufffd") <= max(1, len(lossy) // 100):
            return lossy, f"{what}有少量字符无法按“{declared}”解码，已用替换字符代替"
    text, used = _fallbacks(data)
    return text, _note(what, declared, used)


def _note(what: str, declared: str | None, used: str) -> str:
    if declared:
        return f"{what}声明的字符集“{declared}”与内容不符，已按 {used} 解码"
    return f"{what}未声明字符集，已按 {used} 解码"


def header_text_8bit(value: str) -> str:
    """Headers carrying raw 8-bit bytes arrive surrogate-escaped; read them (NUL dropped)."""
    try:
        data = value.encode("ascii", "surrogateescape")
    except UnicodeError:
        return _without_nul(value)
    text = _strict(data, "utf-8")
    if text is None:
        text = _strict(data, "gb18030")
    if text is None:
        text = data.decode("utf-8", "replace")
    return _without_nul(text)


def _word_bytes(encoding: str, payload: str) -> bytes:
    if encoding in "Bb":
        cleaned = _NOT_B64.sub("", payload)
        if len(cleaned) % 4 == 1:  # one stray character can never be decoded
            cleaned = cleaned[:-1]
        try:
            return binascii.a2b_base64(cleaned + "=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError):
            return b""
    try:
        return binascii.a2b_qp(payload.encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return payload.encode("ascii", "replace")


def decode_header(value: str | None) -> str:
    """Unfold and decode one header value (RFC 2047, GB labels as gb18030); NUL is dropped, raw or encoded."""
    if not value:
        return ""
    if not isinstance(value, str):
        value = str(value)
    text = _FOLD.sub("", _without_nul(value))
    if not text.isascii():
        text = header_text_8bit(text)
    if "=?" not in text:
        return text.strip()
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset = ""
    pos = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            data = b"".join(pending)
            out.append(decode_text(data, pending_charset, "邮件头")[0])
        pending, pending_charset = [], ""

    for match in _ENCODED_WORD.finditer(text):
        between = text[pos:match.start()]
        # Whitespace between two encoded words is not part of the text (RFC 2047 §6.2).
        if between and not (pending and _WS_ONLY.match(between)):
            flush()
            out.append(between)
        charset = match.group(1).lower()
        if pending and charset != pending_charset:
            flush()
        pending.append(_word_bytes(match.group(2), match.group(3)))
        pending_charset = charset
        pos = match.end()
    flush()
    out.append(text[pos:])
    return "".join(out).strip()
