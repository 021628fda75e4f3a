"""winmail.dat (TNEF) parts: body and attachments extracted, broken ones never crash.

The corpus holds raw TNEF blobs (tnefparse's own samples) but only one
TNEF-in-MIME message; the blobs are wrapped into MIME messages here, the
way Exchange sends them.  Chinese Outlook cases are built with the small
TNEF writer in tests/fixtures/replies/tnef_kit.py (plain, HTML and
compressed-RTF bodies, attachments).
"""

from __future__ import annotations

import base64
import io
import struct
import sys
import time
from pathlib import Path

import pytest

from parsers import parse_message, render_form
from parsers.model import Attachment
from parsers.tnef import read_tnef

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "replies"))
from tnef_kit import (  # noqa: E402
    PR_ATTACH_DATA_OBJ,
    PR_BODY,
    PR_BODY_HTML,
    PR_INTERNET_CPID,
    PR_RTF_COMPRESSED,
    PT_BINARY,
    PT_LONG,
    PT_UNICODE,
    lzfu,
    mapi,
    rtf_of,
    tnef,
    tnef_object,
)

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
BLOBS = CORPUS / "tnefparse" / "tests" / "examples"
TOKEN = "KCR-202611-GD-3F9A"
FORM = render_form(token=TOKEN, unit_code="GD", unit_name="广东分公司", period="2026-11",
                   strategic=[("S001", "国家电网有限公司")], vip=[])
FILLED = (FORM.replace("填报人：", "填报人：李明")
          .replace("1. 全国性天然气产品及服务方案执行情况：", "1. 全国性天然气产品及服务方案执行情况：已按方案执行")
          .replace("风险等级（无/一般/重大）：", "风险等级（无/一般/重大）：一般"))
needs_corpus = pytest.mark.skipif(not BLOBS.is_dir(), reason=f"shared corpus not found at {BLOBS}")

def mime(tnef_data: bytes, plain: str | None = "", single: bool = False) -> bytes:
    """A message as Exchange sends rich text: a plain stub plus winmail.dat (or winmail.dat alone)."""
    head = (f"From: liming@gd.example.cn\r\nSubject: =?gb2312?B?tPC4tDog1MKxqA==?= [{TOKEN}]\r\n"
            "X-MS-TNEF-Correlator: <00000000@gd.example.cn>\r\nMIME-Version: 1.0\r\n")
    att = ('Content-Type: application/ms-tnef; name="winmail.dat"\r\n'
           'Content-Disposition: attachment; filename="winmail.dat"\r\n'
           "Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(tnef_data).decode())
    if single:
        return (head + att).encode()
    text = "" if plain is None else (
        "Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(plain.encode("gb18030")).decode() + "\r\n--tnef\r\n")
    return (head + 'Content-Type: multipart/mixed; boundary="tnef"\r\n\r\n--tnef\r\n' + text + att
            + "\r\n--tnef--\r\n").encode()


# --- the corpus blobs, wrapped into MIME ----------------------------------------------------

@needs_corpus
@pytest.mark.parametrize(("blob", "names"), [
    ("one-file.tnef", ["AUTHORS"]),
    ("two-files.tnef", ["AUTHORS", "README"]),
    ("long-filename.tnef", ["allproductsmar2000.dat"]),
    ("umlaut.tnef", ["TBZ PARIV GmbH.jpg", "image003.jpg", "UmlautAnhang-äüö.txt"]),
    ("missing-filenames.tnef", ["generpts.src", "TechlibDEC99.doc", "TechlibDEC99-JAN00.doc", "TechlibNOV99.doc"]),
])
def test_corpus_blob_attachments_are_listed(blob: str, names: list[str]) -> None:
    # The files inside winmail.dat are the message's attachments (winmail.dat itself is not listed); an old .doc
    # among them could have held the form, so each is named in a warning (FORM.md "The form in an attachment").
    parsed = parse_message(mime((BLOBS / blob).read_bytes()))
    assert [a.filename for a in parsed.attachments] == names
    assert [w.message.split("”")[0] for w in parsed.warnings] == [f"附件“{n}" for n in names if n.endswith(".doc")]


@needs_corpus
@pytest.mark.parametrize(("blob", "start"), [
    ("body.tnef", "THE BILL OF RIGHTS"),                       # HTML body only
    ("rtf.tnef", "aafgag'alga'kgk"),                           # compressed RTF only
    ("long-filename.tnef", "I've attached a temp. license"),   # RTF \fromtext
    ("umlaut.tnef", "TEST äöü"),                               # RTF \fromhtml1 (encapsulated HTML)
    ("triples.tnef", "Sample description"),                    # plain body, cp1251
    ("unicode-mapi-attr.tnef", "hello world"),                 # PT_UNICODE body
])
def test_corpus_blob_body_stands_in_for_an_empty_mime_body(blob: str, start: str) -> None:
    # With an empty MIME body, the TNEF body (plain, HTML or RTF, converted) is the text.
    parsed = parse_message(mime((BLOBS / blob).read_bytes(), plain=None))
    assert parsed.text.lstrip("\u200b").startswith(start)


@needs_corpus
def test_garbage_after_the_last_object_is_a_warning() -> None:
    # Trailing garbage is noticed and reported, and does not stop the message from parsing.
    parsed = parse_message(mime((BLOBS / "garbage-at-end.tnef").read_bytes(), plain="你好"))
    assert parsed.text == "你好"
    assert [w.message for w in parsed.warnings] == ["附件 winmail.dat（TNEF）已损坏或不完整，其中部分内容可能未能读取"]


@needs_corpus
def test_corpus_tnef_in_mime_sample_with_a_non_tnef_payload() -> None:
    # zbateson m4006: an application/ms-tnef part that really holds a PNG → listed, with a warning.
    raw = (CORPUS / "zbateson-mail-mime-parser" / "tests" / "_data" / "emails" / "m4006.txt").read_bytes()
    parsed = parse_message(raw)
    assert parsed.attachments == (Attachment("winmail.dat", "application/ms-tnef"),)
    assert [w.message for w in parsed.warnings] == ["附件 winmail.dat 不是有效的 TNEF 数据，未能读取其中的正文和附件"]


@needs_corpus
@pytest.mark.parametrize("blob", sorted(p.name for p in BLOBS.glob("*.tnef")) if BLOBS.is_dir() else [])
def test_every_truncation_of_a_corpus_blob_is_survived(blob: str) -> None:
    # Cut anywhere (as a broken transfer would), a blob gives some result and never an exception.
    data = (BLOBS / blob).read_bytes()
    step = max(1, len(data) // 60)
    for cut in range(0, len(data), step):
        content = read_tnef(data[:cut])
        assert isinstance(content.text, str)


# --- Chinese Outlook, built here -------------------------------------------------------------

def test_form_filled_in_outlook_unicode_body() -> None:
    # Outlook rich text: the MIME part is a stub without the form, winmail.dat holds the filled form.
    data = tnef([(PT_UNICODE, PR_BODY, FILLED), (PT_LONG, PR_INTERNET_CPID, 936)])
    parsed = parse_message(mime(data, plain="此邮件为 RTF 格式。"))
    assert parsed.kind == "monthly_report" and parsed.token == TOKEN
    assert (parsed.reporter_name, parsed.strategic[0].items["1"], parsed.strategic[0].risk) == ("李明", "已按方案执行", "一般")


def test_form_in_gbk_html_body_with_table_rows() -> None:
    # Only PR_BODY_HTML, in GBK (internet codepage 936), the form as table rows: read as an HTML reply.
    rows = "".join(f"<tr><td>{line.split('：')[0]}：</td><td>{line.split('：', 1)[1]}</td></tr>"
                   if "：" in line else f"<tr><td colspan=2>{line}</td></tr>" for line in FILLED.split("\n") if line)
    html = f"<html><body><p>请查收</p><table>{rows}</table></body></html>".encode("gb18030")
    parsed = parse_message(mime(tnef([(PT_BINARY, PR_BODY_HTML, html), (PT_LONG, PR_INTERNET_CPID, 936)]), plain=None))
    assert parsed.kind == "monthly_report"
    assert (parsed.reporter_name, parsed.strategic[0].risk) == ("李明", "一般")


def test_form_in_compressed_rtf_only() -> None:
    # Only PR_RTF_COMPRESSED (LZFu), GBK bytes under \ansicpg936: decompressed, decoded and read.
    data = tnef([(PT_BINARY, PR_RTF_COMPRESSED, lzfu(rtf_of(FILLED)))])
    parsed = parse_message(mime(data, single=True))
    assert parsed.kind == "monthly_report"
    assert (parsed.reporter_name, parsed.strategic[0].items["1"]) == ("李明", "已按方案执行")


def test_workbook_inside_winmail_dat_is_read() -> None:
    # An Outlook user returns the filled workbook; Outlook wraps it into winmail.dat; it is still read.
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["【重点客户月报填报单】"], ["报告编号", TOKEN], ["【战略客户】S001"], ["风险等级", "重大"], ["【填报结束】"]):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    data = tnef([(PT_UNICODE, PR_BODY, "见附件")], files=[("月报.xlsx", out.getvalue())])
    parsed = parse_message(mime(data, plain="见附件"))
    assert parsed.attachments[0].filename == "月报.xlsx"
    assert parsed.form_source == "月报.xlsx" and parsed.strategic[0].risk == "重大"


def test_plain_mime_body_with_the_form_wins_over_tnef() -> None:
    # When the MIME text already holds the form, it is used as is; TNEF files are still listed.
    data = tnef([(PT_UNICODE, PR_BODY, "不同的正文")], files=[("说明.txt", b"hello")])
    parsed = parse_message(mime(data, plain=FILLED))
    assert parsed.reporter_name == "李明"
    assert parsed.attachments == (Attachment("说明.txt", "text/plain"),)


@pytest.mark.parametrize("props", [
    b"\xff\xff\xff\xff",                                          # 4 billion properties
    struct.pack("<IHHI", 1, 0x1002, 0x1000, 0xFFFFFFFF),          # multi-valued short, 4 billion values
    struct.pack("<IHHI", 1, PT_BINARY, 0x1009, 0xFFFFFFFF),       # binary with 4 billion values
    struct.pack("<IHH", 1, 0x7777, 0x1000) + b"\x00" * 8,         # unknown property type
])
def test_absurd_counts_do_not_hang(props: bytes) -> None:
    # A damaged count must not make the decoder loop: the property list is refused quickly.
    data = struct.pack("<IH", 0x223E9F78, 1) + tnef_object(1, 0x9003, 0x0006, props)
    started = time.perf_counter()
    parsed = parse_message(mime(data, plain="正文"))
    assert time.perf_counter() - started < 2
    assert parsed.text == "正文"


def test_embedded_message_attachment_is_not_parsed_recursively() -> None:
    # An attached Outlook item (IMESSAGE) is listed by title only; its own TNEF is not trusted.
    embedded = (b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
                + struct.pack("<IH", 0x223E9F78, 1) + b"\xff" * 40)
    data = tnef([(PT_UNICODE, PR_BODY, "转发")])
    data += tnef_object(2, 0x9002, 0x0006, b"\x05\x00" + b"\xff" * 12)
    data += tnef_object(2, 0x8010, 0x0001, b"item.msg\x00")
    data += tnef_object(2, 0x9005, 0x0006, mapi([(0x000D, PR_ATTACH_DATA_OBJ, embedded)]))
    content = read_tnef(data)
    assert content.readable and [f.name for f in content.files] == ["item.msg"]


@pytest.mark.parametrize(("data", "names"), [
    (b"", ["winmail.dat"]),                                         # empty part
    (b"\x78\x9f\x3e\x22", ["winmail.dat"]),                         # the signature alone
    (b"PNG\x00garbage", ["winmail.dat"]),                           # not TNEF at all
    (b"\x78\x9f\x3e\x22\x01\x00" + b"\x01" * 30, []),                # TNEF header, then garbage
])
def test_unreadable_tnef_is_a_warning(data: bytes, names: list[str]) -> None:
    # No usable TNEF: the message still parses with a warning; winmail.dat is listed if nothing was read.
    parsed = parse_message(mime(data, plain="正文"))
    assert parsed.text == "正文" and len(parsed.warnings) == 1
    assert [a.filename for a in parsed.attachments] == names
