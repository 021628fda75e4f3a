"""Outlook's compressed RTF: what our path reads, pinned, side by side with the libraries we measured and refused.

Issue 21 asked whether compressed-rtf, RTFDE and striprtf could replace parsers/rtf.py. bench/bench_rtf.py
measured it (README "Dependencies, and why each"); these tests pin the comparison for the TNEF and .msg
samples of the shared corpus, so a library release that changes the verdict shows up here. They need the
corpus (skipped without it, as in CI without ../shared) and, for the library side, the libraries themselves
(not project dependencies: skipped unless installed). The Chinese Outlook cases and hostile bodies are read
through `rtf_body_text`, the function read_tnef uses.
"""

from __future__ import annotations

import hashlib
import re
import struct
import sys
import time
from pathlib import Path

import pytest

from parsers.rtf import decompress, rtf_body_text, rtf_to_text
from parsers.tnef import _codec, _walk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "replies"))
from tnef_kit import lzfu, rtf_of  # noqa: E402

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
BLOBS = CORPUS / "tnefparse" / "tests" / "examples"
MSGS = CORPUS / "msg-extractor" / "example-msg-files"
needs_corpus = pytest.mark.skipif(not BLOBS.is_dir(), reason=f"shared corpus not found at {BLOBS}")

# sample: (the start of our text, sha256 of all of it, the library path's verdict, the library reader's verdict
# on the bytes our decompressor gave). "equal": the same text; "same words": equal once whitespace is collapsed
# (RTFDE keeps trailing spaces we strip, e.g. "-- "); "CRC refused": compressed-rtf raises on the stream.
SAMPLES = {
    "long-filename.tnef": ("I've attached a temp. license", "c55cae3d3de95b23", "same words", "same words"),
    "missing-filenames.tnef": ("Hi Stephen,\n\nSue has", "65bdfc2913f9c9dc", "same words", "same words"),
    # One byte shorter than its header says: the CRC cannot match, and compressed-rtf then reads nothing.
    "rtf.tnef": ("aafgag'alga'kgk\n\nagka;kgag", "b577cd11ccd03c96", "CRC refused", "same words"),
    "triples.tnef": ("Sample description", "a1904eb651367cc7", "equal", "equal"),
    "umlaut.tnef": ("TEST äöü +-*/~", "9bdc3ca1e14a2022", "equal", "equal"),
    "strangeDate.msg": ("MSG test file\nPurpose:", "c3440a8a0039ee4f", "equal", "equal"),
    "unicode.msg": ("This is a test email to experiment", "20bd35dfa88ee03c", "equal", "equal"),
}


def _compressed_rtf(name: str) -> bytes:
    """The sample's PR_RTF_COMPRESSED, found as read_tnef finds it (or in the .msg's property stream)."""
    if name.endswith(".msg"):
        olefile = pytest.importorskip("olefile", reason="olefile (comes with RTFDE) reads the .msg samples")
        with olefile.OleFileIO(str(MSGS / name)) as ole:
            return bytes(ole.openstream("__substg1.0_10090102").read())
    from tnefparse.mapi import decode_mapi  # type: ignore[import-untyped]

    walk = _walk((BLOBS / name).read_bytes())
    for block in walk.mapi_blocks:
        for prop in decode_mapi(block, _codec(walk.codepage) or "cp1252"):
            if prop.name == 0x1009:
                return bytes(prop.data)
    raise AssertionError(f"{name} has no PR_RTF_COMPRESSED")


def _tidy(text: str) -> str:
    # As read_tnef tidies every candidate body.
    return text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")


def _library_read(rtf: bytes) -> str:
    """RTFDE for Outlook's encapsulated bodies, striprtf for plain RTF: the path issue 21 proposed."""
    if re.search(rb"\\from(html1|text)", rtf[:500]):
        from RTFDE.deencapsulate import DeEncapsulator  # type: ignore[import-untyped]

        from parsers.htmltext import html_to_text

        reader = DeEncapsulator(rtf)
        reader.deencapsulate()
        if reader.content_type == "html":
            return _tidy(html_to_text(reader.html.decode("utf-8")))
        return _tidy(reader.text.decode("utf-8"))
    from striprtf.striprtf import rtf_to_text as strip  # type: ignore[import-untyped]

    return _tidy(strip(rtf.decode("latin-1"), errors="ignore"))


def _verdict(ours: str, theirs: str) -> str:
    if ours == theirs:
        return "equal"
    return "same words" if ours.split() == theirs.split() else "different"


@needs_corpus
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_our_text_of_each_corpus_rtf_body(name: str) -> None:
    # What our path reads from each real RTF body, pinned whole (by hash), so a change to the reader shows.
    start, digest, _, _ = SAMPLES[name]
    text = _tidy(rtf_body_text(_compressed_rtf(name)))
    assert text.startswith(start)
    assert hashlib.sha256(text.encode()).hexdigest()[:16] == digest


@needs_corpus
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_libraries_side_by_side(name: str) -> None:
    # compressed-rtf + RTFDE/striprtf read the same words as we do, except where compressed-rtf refuses the CRC.
    compressed_rtf = pytest.importorskip("compressed_rtf", reason="compressed-rtf is not a project dependency")
    pytest.importorskip("RTFDE", reason="RTFDE is not a project dependency")
    pytest.importorskip("striprtf", reason="striprtf is not a project dependency")
    _, _, whole, reader = SAMPLES[name]
    data = _compressed_rtf(name)
    ours = _tidy(rtf_body_text(data))
    try:
        theirs = _library_read(compressed_rtf.decompress(data))
    except Exception as exc:  # noqa: BLE001 - the library's way of refusing is what is pinned
        assert "CRC" in str(exc)
        assert whole == "CRC refused"
    else:
        assert _verdict(ours, theirs) == whole
    our_bytes = decompress(data)
    assert our_bytes is not None
    assert _verdict(ours, _library_read(our_bytes)) == reader


# --- what users rely on, through the public function ------------------------------------------------

def _gbk(text: str) -> bytes:
    return "".join(f"\\'{b:02x}" for b in text.encode("gbk")).encode()


def test_gbk_under_the_documents_codepage() -> None:
    # A zh-CN Outlook: \ansicpg936 and GBK as \'hh pairs, LZFu-compressed as in winmail.dat.
    assert rtf_body_text(lzfu(b"{\\rtf1\\ansi\\ansicpg936 " + _gbk("风险等级：一般") + b"}")) == "风险等级：一般"


def test_gbk_in_a_chinese_font_of_a_western_document() -> None:
    # An English Outlook with SimSun (\fcharset134): that font's bytes are GBK. striprtf reads them as cp1252.
    rtf = (b"{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}{\\f1\\fcharset134 SimSun;}}\\f0 Name: {\\f1 "
           + _gbk("李明") + b"}}")
    assert rtf_body_text(lzfu(rtf)) == "Name: 李明"


def test_unicode_escapes_and_surrogate_pairs() -> None:
    # \uN with its fallback dropped; a pair of \uN halves is one character (striprtf leaves two lone halves).
    assert rtf_body_text(lzfu(b"{\\rtf1\\uc1 \\u26446?\\u26126\\'3f ok \\u-10179?\\u-8704?}")) == "李明 ok \U0001f600"


def test_table_rows_read_as_label_tab_answer() -> None:
    # Each RTF table row is one line with its cells tab-separated, as the form reader expects (striprtf: "|").
    row = b"\\trowd\\cellx2000\\cellx6000 %s\\cell %s\\cell\\row"
    rtf = (b"{\\rtf1\\ansi\\ansicpg936 " + row % (_gbk("填报人："), _gbk("李明"))
           + row % (_gbk("风险等级："), _gbk("一般")) + b"}")
    assert rtf_body_text(lzfu(rtf)) == "填报人：\t李明\n风险等级：\t一般"


def test_outlook_html_in_rtf_form_table() -> None:
    # \fromhtml1: the rebuilt HTML's table rows read as in an HTML reply ("label：answer" run together).
    rtf = (b"{\\rtf1\\ansi\\ansicpg936\\fromhtml1 {\\*\\htmltag19 <table>}{\\*\\htmltag <tr><td>}"
           + _gbk("填报人：") + b"{\\*\\htmltag </td><td>}\\htmlrtf {\\f0 x}\\htmlrtf0 " + _gbk("李明")
           + b"{\\*\\htmltag </td></tr></table>}}")
    assert rtf_body_text(lzfu(rtf)) == "填报人：李明"


def test_the_chinese_form_as_outlook_writes_it() -> None:
    # The whole monthly form in Outlook's zh-CN RTF: every line back.
    form = "【重点客户月报填报单】\n报告编号：KCR-202611-GD-3F9A\n填报人：李明\n风险等级（无/一般/重大）：一般"
    assert rtf_body_text(lzfu(rtf_of(form))) == form


def test_a_truncated_stream_still_gives_its_text() -> None:
    # Cut short (a broken transfer, or rtf.tnef's missing last byte): what was decoded is read, nothing raises.
    data = lzfu(rtf_of("填报人：李明\n风险等级：一般"))
    assert rtf_body_text(data[:-40]).startswith("填报人：李明")
    assert rtf_body_text(data[:20]) == ""


@pytest.mark.parametrize("body", [
    b"{\\rtf1\\ansi\\fromhtml1 " + b"{" * 200_000 + b"x" + b"}" * 200_000 + b"}",   # RTFDE: RecursionError
    b"{\\rtf1\\ansi " + b"\\b\\i0\\htmlrtf " * 100_000 + b"}",                        # 1.4 MB of control words
    b"{\\rtf1\\ansi " + b"\\bin999999999 " + b"x" * 1000 + b"}",                        # a \bin past the end
])
def test_hostile_bodies_are_bounded(body: bytes) -> None:
    # Deep nesting, long runs of control words and absurd lengths are read in linear time without raising.
    data = struct.pack("<IIII", len(body) + 12, len(body), 0x414C454D, 0) + body   # stored uncompressed ("MELA")
    started = time.perf_counter()
    assert isinstance(rtf_body_text(data), str)
    assert time.perf_counter() - started < 5


def test_an_lzfu_stream_that_expands_eightfold_is_capped_by_its_header() -> None:
    # Every flag bit a 17-byte reference: the output is cut at the size the header declares.
    body, write = bytearray(), 207
    for _ in range(20_000):
        body.append(0xFF)
        for _ in range(8):
            body += struct.pack(">H", (((write + 64) & 0xFFF) << 4) | 0xF)
            write = (write + 17) & 0xFFF
    data = struct.pack("<IIII", len(body) + 12, 100_000, 0x75465A4C, 0) + bytes(body)
    started = time.perf_counter()
    rtf = decompress(data)
    assert rtf is not None and len(rtf) == 100_000
    assert isinstance(rtf_to_text(rtf), str)
    assert time.perf_counter() - started < 5
