"""Fuzzing the decoder and the form parser: no exception escapes, every message ends somewhere.

The promise checked everywhere (`_check`): `parse_message` either returns a
ParsedMessage whose kind is one of FORM.md's and whose `as_json()` can be
printed as UTF-8 JSON, or raises `UnreadableMessage` with a reason (the
pipeline quarantines those).  Nothing else may escape.

Hypothesis runs derandomised and without its example database, so CI sees
the same examples every time and nothing is written into the work tree;
`max_examples` keeps the whole file well under 30 s.  For a deeper, random
hunt run e.g. `MAILBOT_FUZZ_EXAMPLES=3000 pytest tests/parsers/test_fuzz.py`.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import UnreadableMessage, parse_message, render_form
from parsers.tnef import read_tnef
from parsers.xlsxform import read_workbook

KINDS = {"bounce", "auto_reply", "monthly_report", "campaign_feedback", "survey_response", "urgent_report", "unknown"}
FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "replies").glob("*.eml"))
TOKEN = "KCR-202611-GD-3F9A"
FORM = render_form(token=TOKEN, unit_code="GD", unit_name="广东分公司", period="2026-11",
                   strategic=[("S001", "国家电网有限公司")], vip=[("V012", "深圳市燃气集团")])
DEEP = int(os.environ.get("MAILBOT_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=DEEP or 120, deadline=None, derandomize=not DEEP, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _check(raw: bytes) -> str:
    """Parse; the outcome is a kind or "unreadable" — anything else fails the test."""
    try:
        parsed = parse_message(raw)
    except UnreadableMessage as exc:
        assert exc.reason
        return "unreadable"
    assert parsed.kind in KINDS
    json.dumps(parsed.as_json(), ensure_ascii=False).encode("utf-8")
    if parsed.kind == "monthly_report":
        assert all(sorted(b.items) == sorted(str(n) for n in range(1, 10)) for b in parsed.strategic)
    return parsed.kind


def _mail(body: bytes, ctype: str = "text/plain; charset=utf-8", cte: str = "8bit", extra: str = "") -> bytes:
    return (f"From: a@gd.example.cn\r\nSubject: Re: [{TOKEN}]\r\n{extra}MIME-Version: 1.0\r\n"
            f"Content-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n").encode() + body


# --- random and mutated bytes -----------------------------------------------------------------

@FUZZ
@given(st.binary(max_size=4000))
def test_random_bytes(raw: bytes) -> None:
    # Arbitrary bytes parse or are refused as unreadable.
    _check(raw)


@FUZZ
@given(st.sampled_from(FIXTURES), st.lists(st.tuples(st.integers(0, 20000), st.integers(0, 64), st.binary(max_size=16)),
                                            min_size=1, max_size=6))
def test_mutated_fixture_messages(path: Path, edits: list[tuple[int, int, bytes]]) -> None:
    # Real-looking replies with bytes deleted, replaced and inserted anywhere (headers, boundaries, base64).
    raw = bytearray(path.read_bytes())
    for at, length, insert in edits:
        at %= len(raw) + 1
        raw[at:at + length] = insert
    _check(bytes(raw))


@FUZZ
@given(st.sampled_from(FIXTURES), st.floats(0, 1))
def test_truncated_fixture_messages(path: Path, fraction: float) -> None:
    # A message cut off anywhere (a broken download) still parses.
    raw = path.read_bytes()
    _check(raw[:int(len(raw) * fraction)])


# --- malformed MIME ---------------------------------------------------------------------------

CHARSETS = st.sampled_from(["utf-8", "gb2312", "gbk", "gb18030", "big5", "iso-8859-1", "utf-7", "x-unknown",
                            "base64", "", "\"utf-8", "utf-16"])
CTES = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "binary", "bogus", ""])
TYPES = st.sampled_from(["text/plain", "text/html", "application/ms-tnef", "application/octet-stream",
                         "message/rfc822", "multipart/mixed", "multipart/alternative", "multipart/report",
                         "text/rfc822-headers", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                         "", "text"])


@st.composite
def mime_trees(draw: st.DrawFn, depth: int = 0) -> bytes:
    """A random MIME part: odd types, charsets and encodings; boundaries sometimes missing or wrong."""
    ctype, charset, cte = draw(TYPES), draw(CHARSETS), draw(CTES)
    header = f"Content-Type: {ctype}; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n"
    if draw(st.booleans()):
        header += f'Content-Disposition: attachment; filename="{draw(st.sampled_from(["月报.xlsx", "winmail.dat", "a.xls", "x"]))}"\r\n'
    if ctype.startswith("multipart") and depth < 4:
        boundary = draw(st.sampled_from(["b", "--", "a b", "=_x", ""]))
        children = draw(st.lists(mime_trees(depth + 1), max_size=3))
        body = b"".join(f"--{boundary}\r\n".encode() + c + b"\r\n" for c in children)
        if draw(st.booleans()):
            body += f"--{boundary}--\r\n".encode()
        return f'{header[:-2]}; boundary="{boundary}"\r\n\r\n'.encode() + body
    text = draw(st.sampled_from([FORM, FORM.replace("填报人：", "填报人：李明"), "紧急：管线受损", "", "<p>表</p>"]))
    data = text.encode("gb18030") if "gb" in charset else text.encode("utf-8")
    if cte == "base64":
        encoded = base64.encodebytes(data)
        data = encoded[:draw(st.integers(0, len(encoded)))]   # truncated base64
    noise = draw(st.binary(max_size=40))
    return header.encode() + b"\r\n" + data + noise


@FUZZ
@given(mime_trees())
def test_malformed_mime_trees(part: bytes) -> None:
    # Random MIME structures with wrong boundaries, bogus encodings and truncated base64.
    _check(b"From: a@gd.example.cn\r\nSubject: =?gb2312?B?u9i4tA==?=\r\nMIME-Version: 1.0\r\n" + part)


@FUZZ
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300), CHARSETS, CTES)
def test_headers_and_encodings(value: str, charset: str, cte: str) -> None:
    # Random header text (raw and RFC 2047-wrapped) with random charset and encoding labels.
    word = base64.b64encode(value.encode("utf-8", "surrogatepass")).decode()
    extra = f"X-Priority: {value[:5]}\r\nAuto-Submitted: {value[:8]}\r\n".encode("utf-8", "surrogatepass").decode(
        "ascii", "replace")
    raw = _mail(value.encode("utf-8", "surrogatepass"), f"text/plain; charset={charset}", cte,
                extra=f"Cc: =?{charset}?B?{word}?= <c@d>\r\n{extra}")
    _check(raw)


# --- the form parser --------------------------------------------------------------------------

FORM_LINES = [line for line in FORM.split("\n")]
NOISE = ["", "> ", ">> 1. 执行情况：", "：", "【】", "[战略客户]", "【战略客户】S", "【VIP客户】V99999999", "风险等级：很高",
         "需总部协调：？", "1、", "（1）", "⑩ 其他：", "-----邮件原件-----", "发件人: x", "发自我的iPhone",
         "<td>1.</td><td>执行：好</td>", "\t", "\u3000\u3000", "无", "N/A", "1. 与省政府沟通：已完成"]


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(FORM_LINES), st.sampled_from(NOISE), st.text(max_size=30)),
                max_size=80), st.sampled_from(["", "> ", ">> "]))
def test_form_lines_shuffled_and_mixed_with_noise(lines: list[str], prefix: str) -> None:
    # Form labels, markers and answers in random order and quoting: read or ignored, never a crash.
    body = "\n".join(prefix + line for line in lines)
    _check(_mail(body.encode("utf-8")))
    _check(_mail(f"<html><body><p>{'</p><p>'.join(lines)}</p></body></html>".encode(), "text/html; charset=utf-8"))


# --- attachments: TNEF and workbooks ----------------------------------------------------------

TNEF_BLOBS = sorted((Path(__file__).resolve().parents[3] / "shared" / "corpus" / "tnefparse").rglob("*.tnef"))


@FUZZ
@given(st.data())
def test_mutated_tnef(data: st.DataObject) -> None:
    # Corrupted winmail.dat (a corpus blob, or random bytes after the signature) never raises or hangs.
    if TNEF_BLOBS:
        blob = bytearray(data.draw(st.sampled_from(TNEF_BLOBS)).read_bytes())
    else:
        blob = bytearray(b"\x78\x9f\x3e\x22\x01\x00" + data.draw(st.binary(min_size=20, max_size=500)))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(6, len(blob) - 1))
        blob[at] = data.draw(st.integers(0, 255))
    started = time.perf_counter()
    read_tnef(bytes(blob))
    _check(_mail(base64.encodebytes(bytes(blob)), 'application/ms-tnef; name="winmail.dat"', "base64"))
    assert time.perf_counter() - started < 5


def _small_workbook() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["【重点客户月报填报单】"], ["报告编号", TOKEN], ["【战略客户】S001"], ["风险等级", "一般"]):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


WORKBOOK = _small_workbook()


@settings(FUZZ, max_examples=DEEP or 40)
@given(st.lists(st.tuples(st.integers(0, len(WORKBOOK) - 1), st.integers(0, 255)), min_size=1, max_size=10))
def test_mutated_workbook(flips: list[tuple[int, int]]) -> None:
    # A corrupted .xlsx gives a form, no form, or a problem — never an exception.
    data = bytearray(WORKBOOK)
    for at, value in flips:
        data[at] = value
    result = read_workbook(bytes(data))
    assert result.copy is None or result.problem is None


# --- extremes: deep nesting and huge headers ----------------------------------------------------

def _nested_multipart(levels: int) -> bytes:
    body = b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + FORM.encode()
    for n in range(levels):
        b = f"lvl{n}".encode()
        body = (b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n--' + b + b"\r\n"
                + body + b"\r\n--" + b + b"--\r\n")
    return b"From: a@gd.example.cn\r\nSubject: deep\r\nMIME-Version: 1.0\r\n" + body


def test_200_levels_of_multipart_nesting() -> None:
    # 200 nested multiparts parse; the part beyond the depth limit is not read, with a warning.
    parsed = parse_message(_nested_multipart(200))
    assert parsed.kind == "unknown"
    assert any("嵌套超过" in w.message for w in parsed.warnings)


def test_nesting_beyond_the_stdlib_parser_keeps_the_headers() -> None:
    # 3000 levels overflow the stdlib parser's recursion: headers kept, body unread, a warning.
    parsed = parse_message(_nested_multipart(3000))
    assert parsed.envelope.from_addr == "a@gd.example.cn" and parsed.text == ""
    assert [w.message for w in parsed.warnings] == ["邮件的 MIME 结构嵌套层数过多，无法解析，正文未读取"]


def test_shallow_nesting_still_finds_the_form() -> None:
    # Within the depth limit, the form at the bottom of 30 nested multiparts is read.
    assert parse_message(_nested_multipart(30)).kind == "monthly_report"


def test_1000_nested_forwarded_messages() -> None:
    # message/rfc822 inside message/rfc822, 1000 deep: no recursion error.
    part = b"Content-Type: text/plain\r\n\r\nhi\r\n"
    for _ in range(1000):
        part = b"Content-Type: message/rfc822\r\n\r\n" + part
    assert _check(b"From: MAILER-DAEMON@x.cn\r\nSubject: Undelivered\r\n" + part) in KINDS


def test_one_megabyte_headers() -> None:
    # 1 MB subjects, addresses and Content-Type parameter lists, and 20k header lines: each parses in seconds.
    cases = [
        b"From: a@b.cn\r\nSubject: " + b"x" * 1_000_000 + b"\r\n\r\nbody",
        b"From: a@b.cn\r\nSubject: " + b"=?gb2312?B?1MKxqA==?= " * 45_000 + b"\r\n\r\nbody",
        b"From: " + b"a@b.cn, " * 125_000 + b"\r\nSubject: x\r\n\r\nbody",
        b"From: a@b.cn\r\n" + b"".join(b"X-H%d: v\r\n" % n for n in range(20_000)) + b"\r\nbody",
        b"From: a@b.cn\r\nContent-Type: text/plain; " + b"p=v; " * 200_000 + b"\r\n\r\nbody",
        b"From: a@b.cn\r\nContent-Type: multipart/mixed; " + b"p=v; " * 200_000
        + b'boundary="zz"\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nhi\r\n--zz--\r\n',
    ]
    for raw in cases:
        started = time.perf_counter()
        assert _check(raw) in KINDS
        assert time.perf_counter() - started < 10


def test_one_megabyte_body_line_without_breaks() -> None:
    # A 1 MB body line (no newline) with colons and brackets in it parses.
    assert _check(_mail(("【战略客户】S001 1. 执行：" * 50_000).encode())) in KINDS
