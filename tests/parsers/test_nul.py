"""NUL in a message: never a crash, never in the text the parser returns.

PostgreSQL refuses NUL in text columns, so a NUL that reached a subject,
an address, a body or a form answer failed the store and quarantined a
good report as a crash; a NUL inside a `charset` parameter (like a charset
given in RFC 2231 form) made the stdlib raise while reading the payload.  The promise: `parse_message` raises only
`UnreadableMessage`, and no string anywhere in what it returns — envelope,
blocks, problems, attachments, texts — holds a NUL; the text around a NUL
is kept as written.
"""

from __future__ import annotations

import base64
import dataclasses
import quopri
from collections.abc import Iterator
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import UnreadableMessage, parse_message, render_form

TOKEN = "KCR-202611-GD-3F9A"
FORM = render_form(token=TOKEN, unit_code="GD", unit_name="广东分公司", period="2026-11",
                   strategic=[("S001", "国家电网有限公司")], vip=[("V012", "深圳市燃气集团")])
FILLED = (FORM.replace("填报人：", "填报人：李明")
          .replace("1. 全国性天然气产品及服务方案执行情况：", "1. 全国性天然气产品及服务方案执行情况：按方案执行")
          .replace("风险等级（无/一般/重大）：", "风险等级（无/一般/重大）：一般"))
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def strings(value: object) -> Iterator[str]:
    """Every str inside a parse result: dataclass fields, dict keys and values, tuple items."""
    if isinstance(value, str):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from strings(getattr(value, field.name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from strings(item)


def nul_free(raw: bytes) -> object:
    """The parse of `raw`, checked: no string in it holds a NUL (None if refused as no message)."""
    try:
        parsed = parse_message(raw)
    except UnreadableMessage:
        return None
    found = [s for s in strings(parsed) if "\x00" in s]
    assert found == []
    assert not any("\x00" in s for s in strings(parsed.as_json()))
    return parsed


def test_nul_in_the_charset_label_with_an_8bit_body_is_read() -> None:
    # charset="utf-8\0" used to raise ValueError inside the stdlib; the body is read as the UTF-8 it is.
    raw = (b'From: a@gd.example.cn\r\nSubject: t\r\nContent-Type: text/plain; charset="utf-8\x00"\r\n'
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + "月报已填写，见下。".encode())
    parsed = parse_message(raw)
    assert parsed.text == "月报已填写，见下。" and parsed.kind == "unknown"
    assert nul_free(raw) is not None


def test_charset_in_rfc2231_form_with_an_8bit_body_is_read() -> None:
    # Same root cause: charset*= makes the stdlib decode the payload with a tuple and raise TypeError.
    raw = (b"From: a@gd.example.cn\r\nSubject: t\r\nContent-Type: text/plain; charset*=utf-8''utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + "月报已填写".encode())
    assert parse_message(raw).text == "月报已填写"


def test_nul_in_the_subject_and_names_is_dropped_and_the_rest_kept() -> None:
    # Raw NUL and NUL inside RFC 2047 words: the subject, the display name and the ids read without them.
    word = base64.b64encode("月报\x00提交".encode()).decode()
    name = base64.b64encode("张\x00三".encode()).decode()
    raw = (f"From: =?utf-8?B?{name}?= <a@gd.example.cn>\r\n"
           f"To: hq@hq.example.cn\r\nSubject: =?utf-8?B?{word}?= [{TOKEN}]\x00\r\n"
           f"Message-ID: <id\x001@gd.example.cn>\r\n\r\n见附件").encode()
    parsed = nul_free(raw)
    assert parsed is not None
    envelope = parsed.envelope   # type: ignore[attr-defined]
    assert envelope.subject == f"月报提交 [{TOKEN}]"
    assert (envelope.from_name, envelope.from_addr) == ("张三", "a@gd.example.cn")
    assert envelope.message_id == "<id1@gd.example.cn>"


def test_nul_in_attachment_names_is_dropped() -> None:
    # RFC 2231 (%00), RFC 2047 and raw 8-bit names all give the name without the NUL.
    encoded = base64.b64encode("说明\x00.pdf".encode()).decode()
    percent = quote("月报\x00.pdf")
    parts = [f"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=utf-8''{percent}",
             f'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="=?utf-8?B?{encoded}?="',
             'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="图\x00.pdf"']
    body = "".join(f"--b\r\n{p}\r\n\r\n%PDF-1.4\r\n" for p in parts)
    raw = ('From: a@gd.example.cn\r\nSubject: t\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
           f"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n见附件\r\n{body}--b--\r\n").encode()
    parsed = nul_free(raw)
    assert [a.filename for a in parsed.attachments] == ["月报.pdf", "说明.pdf", "图.pdf"]  # type: ignore[attr-defined]


# --- the property: NULs anywhere ----------------------------------------------------------------

def sprinkled(text: str) -> st.SearchStrategy[str]:
    """`text` with up to five NULs put in at random places."""
    def put(places: list[int]) -> str:
        out = text
        for at in sorted(places, reverse=True):
            out = out[:at] + "\x00" + out[at:]
        return out

    return st.lists(st.integers(0, len(text)), max_size=5).map(put)


def header_value(text: str, how: str) -> str:
    """`text` as a header value: raw (UTF-8 bytes surrogate-escaped by the caller) or an RFC 2047 word."""
    if how == "b":
        return f"=?utf-8?B?{base64.b64encode(text.encode()).decode()}?="
    if how == "q":
        return f"=?utf-8?Q?{quopri.encodestring(text.encode(), header=True).decode()}?="
    return text


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """A reply with NULs sprinkled into its headers, parameters, body and attachment name."""
    how = st.sampled_from(["raw", "b", "q"])
    subject = header_value(draw(sprinkled(f"Re: 月报 [{TOKEN}]")), draw(how))
    name = header_value(draw(sprinkled("张三")), draw(how))
    address = draw(sprinkled("a@gd.example.cn"))
    message_id = draw(sprinkled("<m1@gd.example.cn>"))
    charset = draw(sprinkled(draw(st.sampled_from(["utf-8", "gb18030", "gbk", "x-bogus"]))))
    codec = "gb18030" if "gb" in charset else "utf-8"
    cte = draw(st.sampled_from(["8bit", "base64", "quoted-printable"]))
    cte_header = draw(sprinkled(cte))
    text = draw(st.sampled_from([FILLED, "【紧急】管线受损", "<p>见附件</p>" + FILLED]))
    data = draw(sprinkled(text)).encode(codec)
    if cte == "base64":
        data = base64.encodebytes(data)
    elif cte == "quoted-printable":
        data = quopri.encodestring(data)
    subtype = "html" if text.startswith("<p>") else "plain"
    filename = draw(sprinkled("月报.xlsx"))
    attachment = draw(st.sampled_from([
        f'filename="{filename}"', f"filename*=utf-8''{quote(filename)}",
        f'filename="{header_value(filename, "b")}"']))
    head = (f"From: {name} <{address}>\r\nTo: hq@hq.example.cn\r\nSubject: {subject}\r\n"
            f"Message-ID: {message_id}\r\nIn-Reply-To: {message_id}\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="{draw(sprinkled("b1"))}"\r\n\r\n')
    leaf = (f'--b1\r\nContent-Type: text/{subtype}; charset="{charset}"\r\n'
            f"Content-Transfer-Encoding: {cte_header}\r\n\r\n")
    tail = (f"\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; {attachment}\r\n"
            "\r\n%PDF-1.4\r\n--b1--\r\n")
    return (head + leaf).encode("utf-8") + data + tail.encode("utf-8")


@FUZZ
@given(messages())
def test_nul_anywhere_never_crashes_and_never_comes_out(raw: bytes) -> None:
    # Whatever NULs a message holds, the parse raises nothing but UnreadableMessage and returns no NUL.
    nul_free(raw)
