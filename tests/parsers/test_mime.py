"""Reading MIME: which part is the body, attachments, flowed text (parsers.mime)."""

from __future__ import annotations

import base64

import pytest

from parsers.errors import UnreadableMessage
from parsers.mime import extract_body, read_message, unflow

HEAD = "From: a@b.cn\r\nTo: c@d.cn\r\nSubject: t\r\nMIME-Version: 1.0\r\n"


def body(raw: str | bytes) -> str:
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    return extract_body(read_message(data)).text


@pytest.mark.parametrize("raw", [b"", b"   \r\n\r\n", b"\x00\x01\x02binary\x00" * 50,
                                 b"x\x9f>\"\x10\x00\x01\x00\x06\x00garbage"])
def test_not_a_message_is_refused(raw: bytes) -> None:
    # Empty input and binary blobs without any header raise UnreadableMessage.
    with pytest.raises(UnreadableMessage):
        read_message(raw)


def test_headerless_text_and_html_fragment_are_read_as_bodies() -> None:
    # A pasted body without headers is readable; an HTML fragment is converted.
    assert body("Hi,\n\nthanks") == "Hi,\n\nthanks"
    assert body("<div>第一行</div><div>第二行</div>") == "第一行\n第二行"


def test_alternative_prefers_plain_and_falls_back_to_html() -> None:
    # text/plain wins in multipart/alternative; an empty plain part gives way to the HTML.
    template = (HEAD + 'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
                "Content-Type: text/plain; charset=utf-8\r\n\r\n{plain}\r\n--b\r\n"
                "Content-Type: text/html; charset=utf-8\r\n\r\n<p>网页</p><p>正文</p>\r\n--b--\r\n")
    assert body(template.format(plain="纯文本")) == "纯文本"
    assert body(template.format(plain="  ")) == "网页\n正文"


def test_lossy_plain_part_gives_way_to_html_holding_the_keyword() -> None:
    # A stub plain part without the form loses to an HTML part that has it.
    raw = (HEAD + 'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
           "Content-Type: text/plain; charset=utf-8\r\n\r\n请使用HTML方式查看\r\n--b\r\n"
           "Content-Type: text/html; charset=utf-8\r\n\r\n<p>【重点客户月报填报单】</p><p>填报人：李明</p>\r\n--b--\r\n")
    found = extract_body(read_message(raw.encode("utf-8")), keywords=("重点客户月报填报单",))
    assert found.text == "【重点客户月报填报单】\n填报人：李明" and found.from_html
    assert extract_body(read_message(raw.encode("utf-8"))).text == "请使用HTML方式查看"


def test_attachments_and_forwarded_messages_are_not_body() -> None:
    # A text attachment and an attached message/rfc822 are listed, not read as body text.
    name = base64.b64encode("附件二.txt".encode("gbk")).decode()
    raw = (HEAD + 'Content-Type: multipart/mixed; boundary="m"\r\n\r\n--m\r\n'
           "Content-Type: text/plain; charset=utf-8\r\n\r\n正文\r\n--m\r\n"
           f'Content-Type: text/plain; charset=utf-8\r\nContent-Disposition: attachment; filename="=?GBK?B?{name}?="\r\n\r\n附件内容\r\n--m\r\n'
           "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=gb2312''%D6%DC%B1%A8.pdf\r\n\r\nJVBERi0=\r\n--m\r\n"
           "Content-Type: message/rfc822\r\n\r\nSubject: old\r\n\r\n旧邮件正文\r\n--m--\r\n")
    found = extract_body(read_message(raw.encode("utf-8")))
    assert found.text == "正文"
    assert [a.filename for a in found.attachments] == ["附件二.txt", "周报.pdf", ""]
    assert found.attachments[1].content_type == "application/pdf"


def test_report_reads_only_the_notification_part() -> None:
    # In multipart/report only the human-readable first part is body text.
    raw = (HEAD + 'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n--r\r\n'
           "Content-Type: text/plain\r\n\r\nDelivery failed\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\n"
           "Action: failed\r\n--r\r\nContent-Type: text/plain\r\n\r\nnot body\r\n--r--\r\n")
    assert body(raw) == "Delivery failed"


def test_format_flowed_is_unwrapped() -> None:
    # RFC 3676 soft breaks are joined; quote depth is kept; the "-- " signature line is not joined.
    assert unflow("第一段 \n续写\n> 引用 \n> 续\n-- \n签名", delsp=False) == "第一段 续写\n> 引用 续\n-- \n签名"
    assert unflow("abc \ndef", delsp=True) == "abcdef"
    raw = HEAD + "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\r\n\r\n填报人：李 \r\n明\r\n"
    assert body(raw) == "填报人：李明"


def test_broken_mime_never_raises() -> None:
    # Missing boundaries, bad transfer encodings and deep nesting are survived.
    samples = [
        HEAD + 'Content-Type: multipart/mixed\r\n\r\nno boundary at all\r\n',
        HEAD + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n%%%not base64%%%\r\n",
        HEAD + "Content-Type: text/plain; charset=\"\xe4\xb8\xad\"\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nbody\r\n",
        HEAD + "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(200)) + "\r\ntext\r\n",
    ]
    for raw in samples:
        assert isinstance(body(raw.encode("utf-8", "surrogateescape")), str)
