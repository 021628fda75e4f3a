"""Outlook's rich-text body → plain text: LZFu decompression and an RTF reader.

A TNEF winmail.dat (see `tnef.py`) often carries the body only as
PR_RTF_COMPRESSED: RTF squeezed with Microsoft's LZFu scheme ([MS-OXRTFCP]).
`decompress` undoes that; `rtf_to_text` reads the RTF.  When Outlook wrapped
an HTML mail into RTF (`\\fromhtml1`, [MS-OXRTFEX]) the HTML is rebuilt from
its `\\*\\htmltag` groups and handed to `htmltext.html_to_text`, so the form's
table rows read the same as in an HTML reply.

Only what a reader of the text needs is understood: paragraphs, tabs,
cells and rows, `\\uN` and `\\'hh` characters in the codepage of the
document or of the current font (so GBK text from a Chinese Outlook reads),
and the destinations that hold no body text are skipped.  Both functions
are iterative and bounded by their input, so broken or hostile data cannot
recurse or loop; they never raise on bad input.

Why not the libraries msg-extractor and tnefparse use (measured with
bench/bench_rtf.py, README "Dependencies"): compressed-rtf decompresses 2-4
times slower and refuses a stream whose CRC does not match, which a stream
cut short by even one byte (tnefparse's own rtf.tnef) does; RTFDE reads the
same text from every \\fromhtml1 sample but 15-900 times slower, and raises on
deep nesting; striprtf loses a \\fcharset134 font's GBK in a Western document,
leaves \\uN surrogate pairs unjoined and writes table cells as "|".
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, replace

from parsers.charsets import decode_text
from parsers.htmltext import html_to_text

# [MS-OXRTFCP] 2.1.3.1.1: the dictionary's initial contents.
_PREBUF = (
    b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss "
    b"\\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier"
    b"{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx"
)
_COMPRESSED = 0x75465A4C     # "LZFu"
_UNCOMPRESSED = 0x414C454D   # "MELA"
_MAX_OUTPUT = 16 * 1024 * 1024

_TOKEN = re.compile(
    rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?|\\'([0-9a-fA-F]{2})|\\([^a-zA-Z'])|([{}])|([^\\{}\r\n]+)|[\r\n]+|\\"
)
# Destinations whose text is never body text.
_SKIP = frozenset({
    "fonttbl", "colortbl", "stylesheet", "info", "pict", "object", "header", "footer", "headerl",
    "headerr", "headerf", "footerl", "footerr", "footerf", "themedata", "listtable",
    "listoverridetable", "rsidtbl", "generator", "xmlnstbl", "latentstyles", "datastore",
    "colorschememapping", "fldinst", "bkmkstart", "bkmkend", "filetbl", "revtbl", "pgdsctbl",
    "mmathPr", "userprops", "template", "nonshppict", "shppict", "wgrffmtfilter", "pnseclvl",
    "xe", "tc", "txe", "comment", "annotation", "atnid", "atnauthor", "mhtmltag",
})
_SYMBOLS = {
    "par": "\n", "line": "\n", "sect": "\n", "page": "\n", "row": "\n", "tab": "\t", "cell": "\t",
    "emdash": "—", "endash": "–", "bullet": "•", "lquote": "‘", "rquote": "’",
    "ldblquote": "“", "rdblquote": "”", "emspace": " ", "enspace": " ", "qmspace": " ",
}
_CONTROL_SYMBOLS = {b"~": "\u00a0", b"_": "-", b"-": "", b"\\": "\\", b"{": "{", b"}": "}", b"\t": "\t"}
# \fcharset → Windows codepage, for \'hh bytes in a font's own charset.
_CHARSET_CODEPAGE = {128: 932, 129: 949, 134: 936, 136: 950, 161: 1253, 162: 1254,
                     177: 1255, 178: 1256, 186: 1257, 204: 1251, 222: 874, 238: 1250}


def decompress(data: bytes) -> bytes | None:
    """PR_RTF_COMPRESSED → RTF bytes, or None when the header is not LZFu/MELA."""
    if len(data) < 16:
        return None
    _size, raw_size, kind, _crc = struct.unpack_from("<IIII", data)
    if kind == _UNCOMPRESSED:
        return data[16:16 + raw_size]
    if kind != _COMPRESSED:
        return None
    limit = min(raw_size, _MAX_OUTPUT)
    window = bytearray(4096)
    window[:len(_PREBUF)] = _PREBUF
    write = len(_PREBUF)
    out = bytearray()
    pos, end = 16, len(data)
    while pos < end and len(out) < limit:
        flags = data[pos]
        pos += 1
        for bit in range(8):
            if pos >= end or len(out) >= limit:
                break
            if not flags & (1 << bit):
                window[write] = data[pos]
                out.append(data[pos])
                write = (write + 1) & 0xFFF
                pos += 1
                continue
            if pos + 1 >= end:
                return bytes(out)
            ref = (data[pos] << 8) | data[pos + 1]
            pos += 2
            offset, length = ref >> 4, (ref & 0xF) + 2
            if offset == write:   # the end-of-stream marker points at the write position
                return bytes(out)
            for i in range(length):
                byte = window[(offset + i) & 0xFFF]
                window[write] = byte
                out.append(byte)
                write = (write + 1) & 0xFFF
    return bytes(out[:limit])


@dataclass(frozen=True)
class _State:
    """What a `{` group inherits and a `}` restores."""

    skip: bool = False
    codepage: int | None = None   # of the current font; None means the document's
    uc: int = 1                   # fallback characters after \uN
    in_fonttbl: bool = False
    htmltag: bool = False
    htmlrtf: bool = False


class _Reader:
    """Collects output text and decodes runs of \\'hh bytes together (DBCS needs pairs)."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.pending = bytearray()
        self.pending_cp = 1252
        self.document_cp = 1252
        self.fonts: dict[int, int] = {}
        self.font: int | None = None

    def flush(self) -> None:
        if self.pending:
            cp = self.pending_cp
            label = "gb18030" if cp in (936, 54936) else f"cp{cp}"
            self.out.append(decode_text(bytes(self.pending), label, "RTF")[0])
            self.pending.clear()

    def byte(self, value: int, cp: int) -> None:
        if self.pending and cp != self.pending_cp:
            self.flush()
        self.pending_cp = cp
        self.pending.append(value)

    def text(self, value: str) -> None:
        self.flush()
        self.out.append(value)


def rtf_to_text(rtf: bytes) -> str:
    """The text an RTF document shows (HTML-in-RTF is rebuilt and converted)."""
    reader = _Reader()
    stack: list[_State] = []
    state = _State()
    from_html = False
    skip_chars = 0   # fallback characters still to drop after a \uN
    pos, end = 0, len(rtf)
    group_start = False   # just after "{": a "\*" or a destination word may follow
    while pos < end:
        match = _TOKEN.match(rtf, pos)
        if match is None:   # cannot happen with the final "\\" branch; be safe anyway
            pos += 1
            continue
        pos = match.end()
        word, number, hexbyte, symbol, brace, chunk = match.groups()
        starting, group_start = group_start, False
        if brace == b"{":
            stack.append(state)
            group_start = True
            continue
        if brace == b"}":
            state = stack.pop() if stack else _State()
            skip_chars = 0
            continue
        if symbol == b"*":
            # An ignorable destination: skip unless it is the encapsulated HTML.
            following = _TOKEN.match(rtf, pos)
            name = following.group(1) if following else None
            if name not in (b"htmltag",):
                state = replace(state, skip=True)
            group_start = True
            continue
        if word is not None:
            name = word.decode("ascii")
            value = int(number) if number is not None else None
            if name == "bin":
                pos += max(0, value or 0)   # raw binary data is never text
                continue
            if starting and name in _SKIP:
                state = replace(state, skip=True)
            if name == "fonttbl":
                state = replace(state, in_fonttbl=True)
            elif name == "htmltag":
                state = replace(state, htmltag=True, skip=False)
            elif name == "fromhtml" and value != 0:
                from_html = True
            elif name == "htmlrtf":
                state = replace(state, htmlrtf=value != 0)
            elif name == "ansicpg" and value:
                reader.document_cp = value
            elif name == "uc" and value is not None:
                state = replace(state, uc=max(0, value))
            elif name == "f" and value is not None:
                if state.in_fonttbl:
                    reader.font = value
                else:
                    state = replace(state, codepage=reader.fonts.get(value))
            elif name == "fcharset" and value is not None and state.in_fonttbl and reader.font is not None:
                codepage = _CHARSET_CODEPAGE.get(value)
                if codepage:
                    reader.fonts[reader.font] = codepage
            elif name == "u" and value is not None:
                if _visible(state, from_html):
                    reader.text(chr(value % 0x10000) if -0x8000 <= value < 0x10000 else "\ufffd")
                skip_chars = state.uc
            elif name in _SYMBOLS and _visible(state, from_html):
                reader.text(_SYMBOLS[name])
            continue
        if skip_chars and (hexbyte is not None or chunk is not None):
            if hexbyte is not None:
                skip_chars -= 1
                continue
            assert chunk is not None
            dropped = min(skip_chars, len(chunk))
            chunk, skip_chars = chunk[dropped:], skip_chars - dropped
            if not chunk:
                continue
        if not _visible(state, from_html):
            continue
        if hexbyte is not None:
            reader.byte(int(hexbyte, 16), state.codepage or reader.document_cp)
        elif symbol is not None:
            reader.text(_CONTROL_SYMBOLS.get(symbol, ""))
        elif chunk is not None:
            if chunk.isascii():
                reader.text(chunk.decode("ascii"))
            else:   # raw 8-bit bytes: the same as \'hh escapes
                for b in chunk:
                    if b < 0x80:
                        reader.text(chr(b))
                    else:
                        reader.byte(b, state.codepage or reader.document_cp)
    reader.flush()
    # \uN pairs may spell a surrogate pair; join them, and never let a lone one through.
    text = "".join(reader.out).encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    text = text.replace("\x00", "")
    if from_html:
        return html_to_text(text)
    return "\n".join(line.rstrip() for line in text.replace("\r", "").split("\n")).strip("\n")


def _visible(state: _State, from_html: bool) -> bool:
    """Whether text in this state is part of the body (or of the rebuilt HTML)."""
    if state.skip or state.in_fonttbl:
        return False
    if from_html:
        return state.htmltag or not state.htmlrtf
    return not state.htmlrtf


def rtf_body_text(compressed: bytes) -> str:
    """PR_RTF_COMPRESSED → the text it shows ("" when it is not LZFu/MELA)."""
    rtf = decompress(compressed)
    return rtf_to_text(rtf) if rtf else ""
