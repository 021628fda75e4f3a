"""What a bounce says (parsers.bounce): the returned Message-ID, the failed recipients, hard or soft."""

from __future__ import annotations

import pytest

from parsers import parse_message

ORIGINAL = "From: kcr@hq.example.cn\r\nTo: liming@gd.example.cn\r\nSubject: x\r\nMessage-ID: <ours-1@hq.example.cn>\r\n"


def dsn(action: str, status: str) -> bytes:
    return ("From: MAILER-DAEMON@mx.gd.example.cn\r\nTo: kcr@hq.example.cn\r\nSubject: Delivery Status Notification\r\n"
            'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
            "--B\r\nContent-Type: text/plain\r\n\r\nDelivery to the following recipient failed.\r\n"
            "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
            "Final-Recipient: rfc822; LiMing@gd.example.cn\r\n"
            f"Action: {action}\r\nStatus: {status}\r\n--B\r\nContent-Type: message/rfc822\r\n\r\n{ORIGINAL}\r\nhi\r\n"
            "--B--\r\n").encode()


@pytest.mark.parametrize("action, status, permanent", [("failed", "5.1.1", True), ("delayed", "4.4.1", False)])
def test_a_delivery_status_report_says_who_failed_and_for_how_long(action: str, status: str, permanent: bool) -> None:
    p = parse_message(dsn(action, status))
    assert p.kind == "bounce" and p.bounce is not None
    assert (p.bounce.message_id, p.bounce.recipients, p.bounce.permanent) == (
        "<ours-1@hq.example.cn>", ("liming@gd.example.cn",), permanent)


@pytest.mark.parametrize("words, permanent", [("收件人地址不存在，邮件被退回。", True),
                                              ("邮件投递延迟，系统将继续尝试投递。", False)])
def test_a_bounce_in_prose_is_hard_unless_it_speaks_of_a_delay(words: str, permanent: bool) -> None:
    raw = ("From: postmaster@gd.example.cn\r\nTo: kcr@hq.example.cn\r\nSubject: 系统退信\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           f"{words}\r\n\r\n原邮件头：\r\n{ORIGINAL}").encode()
    p = parse_message(raw)
    assert p.kind == "bounce" and p.bounce is not None
    assert (p.bounce.message_id, p.bounce.permanent) == ("<ours-1@hq.example.cn>", permanent)


def test_mail_that_is_not_a_bounce_has_no_bounce() -> None:
    assert parse_message(b"From: a@b.cn\r\nSubject: hi\r\n\r\nhello\r\n").bounce is None
