"""parsers.rtf: LZFu decompression and RTF → text, as Outlook writes them."""

from __future__ import annotations

import struct

import pytest

from parsers.rtf import decompress, rtf_to_text


def test_uncompressed_mela_stream() -> None:
    # A "MELA" stream is stored raw after the 16-byte header.
    rtf = b"{\\rtf1 hello}"
    assert decompress(struct.pack("<IIII", len(rtf) + 12, len(rtf), 0x414C454D, 0) + rtf) == rtf


def test_lzfu_reference_into_the_preloaded_dictionary() -> None:
    # A back-reference to the dictionary's initial "{\rtf1\ansi\mac" text is expanded.
    ref = struct.pack(">H", (0 << 4) | (len(b"{\\rtf1\\ansi") - 2))
    end = struct.pack(">H", ((207 + 11) & 0xFFF) << 4)
    body = bytes([0b11]) + ref + end
    assert decompress(struct.pack("<IIII", len(body) + 12, 11, 0x75465A4C, 0) + body) == b"{\\rtf1\\ansi"


@pytest.mark.parametrize("data", [b"", b"short", struct.pack("<IIII", 0, 10, 0x12345678, 0) + b"x" * 10])
def test_unknown_or_short_header_is_none(data: bytes) -> None:
    # Not LZFu/MELA: None, never an exception.
    assert decompress(data) is None


def test_truncated_lzfu_stops_quietly() -> None:
    # A stream cut inside a reference returns what was decoded so far.
    body = b"\x00abcdefgh" + bytes([0b1])
    assert decompress(struct.pack("<IIII", len(body) + 12, 100, 0x75465A4C, 0) + body + b"\x01") == b"abcdefgh"


def test_paragraphs_tabs_and_skipped_destinations() -> None:
    # \par and \tab become line breaks and tabs; font, colour and info tables are not text.
    rtf = (b"{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}{\\colortbl;\\red0;}{\\info{\\title T}}"
           b"{\\*\\generator Riched20;}\\f0 Line one\\par Line\\tab two\\par}")
    assert rtf_to_text(rtf) == "Line one\nLine\ttwo"


def test_gbk_bytes_under_ansicpg936() -> None:
    # A zh-CN Outlook writes Chinese as \'hh pairs of GBK bytes; pairs decode together.
    escaped = "".join(f"\\'{b:02x}" for b in "风险等级：一般".encode("gbk")).encode()
    assert rtf_to_text(b"{\\rtf1\\ansi\\ansicpg936 " + escaped + b"}") == "风险等级：一般"


def test_font_charset_134_in_a_western_document() -> None:
    # An English Outlook with a Chinese font: \fcharset134 makes that font's bytes GBK.
    escaped = "李明".encode("gbk").hex()
    pairs = "".join(f"\\'{escaped[i:i + 2]}" for i in range(0, len(escaped), 2)).encode()
    rtf = b"{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}{\\f1\\fcharset134 SimSun;}}\\f0 Name: {\\f1 " + pairs + b"}}"
    assert rtf_to_text(rtf) == "Name: 李明"


def test_unicode_escapes_skip_their_fallback() -> None:
    # \uN gives the character and drops the \uc fallback that follows (a ? or a \'hh).
    assert rtf_to_text(b"{\\rtf1\\uc1 \\u26446?\\u26126\\'3f ok}") == "李明 ok"
    assert rtf_to_text(b"{\\rtf1\\u-10179?\\u-8704?}") == "\U0001f600"   # a surrogate pair joined


def test_encapsulated_html_is_rebuilt() -> None:
    # \fromhtml1: the HTML comes from \*\htmltag groups; \htmlrtf text is RTF-only and dropped.
    rtf = (b"{\\rtf1\\ansi\\fromhtml1{\\*\\htmltag19 <table>}{\\*\\htmltag <tr><td>}\\htmlrtf {\\b x}\\htmlrtf0 "
           b"\\'b1\\'a8\\'b8\\'e6{\\*\\htmltag </td><td>}ok{\\*\\htmltag </td></tr></table>}}")
    assert rtf_to_text(rtf.replace(b"\\ansi", b"\\ansi\\ansicpg936")) == "报告\tok"


def test_binary_data_and_unbalanced_braces_are_survived() -> None:
    # \binN skips N raw bytes; extra closing braces and a trailing backslash do not raise.
    assert rtf_to_text(b"{\\rtf1 a{\\bin3 {\\}b}}}} c\\") == "ab c"
