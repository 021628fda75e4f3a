"""Report numbers, urgency, automatic mail and bounces (parsers.classify)."""

from __future__ import annotations

import pytest

from parsers import looks_urgent
from parsers.classify import (
    automatic_reasons,
    bare_subject,
    find_token,
    is_auto_reply,
    is_bounce,
    urgent_header_reasons,
    urgent_subject_reason,
)


@pytest.mark.parametrize("text, token, unit, period", [
    ("[KCR-202611-GD-3F9A]", "KCR-202611-GD-3F9A", "GD", "2026-11"),
    ("报告编号：KCR-202601-SZGAS01", "KCR-202601-SZGAS01", "SZGAS01", "2026-01"),
    ("kcr-202611-gd-3f9a", "KCR-202611-GD-3F9A", "GD", "2026-11"),
])
def test_token_found_and_normalised(text: str, token: str, unit: str, period: str) -> None:
    # The report number is found anywhere, upper-cased, with unit and yyyy-mm period.
    found = find_token(text)
    assert found is not None and (found.text, found.unit, found.period) == (token, unit, period)


@pytest.mark.parametrize("text", ["KCR-202613-GD", "KCR-2026-GD", "KCR-202611-G", "XKCR-202611-GD", "KCR-202611-GD-3F9AZ", None])
def test_invalid_tokens_are_not_found(text: str | None) -> None:
    # Month 13, short dates, one-letter units, glued prefixes and non-hex tags are no report number.
    assert find_token(text) is None


def test_bare_subject_strips_reply_prefixes() -> None:
    # Re:/RE:/回复:/答复:/Fw:/转发: prefixes, full or half width and repeated, are removed.
    assert bare_subject("回复：答复: RE: Fw: 转发：紧急：停气") == "紧急：停气"


@pytest.mark.parametrize("subject", ["【紧急】S001停气", "[紧急] 停气", "［紧急］停气", "回复: 紧急：停气", "Re: 紧急:停气",
                                     "[URGENT] gas leak", "[urgent] gas leak", "RE: URGENT gas leak", "转发: urgent - leak",
                                     "答复: [重点客户月报] 2026年11月 【紧急】"])
def test_urgent_subjects(subject: str) -> None:
    # Every FORM.md urgent marker is recognised after any reply/forward prefixes.
    assert urgent_subject_reason(subject) is not None


@pytest.mark.parametrize("subject", ["非紧急：例行报告", "关于紧急预案的演练", "Urgently needed: nothing", "月报"])
def test_not_urgent_subjects(subject: str) -> None:
    # "紧急" in the middle of a sentence or "URGENTLY" is no urgent marker.
    assert urgent_subject_reason(subject) is None


def test_urgent_headers() -> None:
    # Importance: high, X-Priority 1/2 and Priority: urgent are urgent; X-Priority 3 is not.
    assert urgent_header_reasons({"importance": "High", "x-priority": "2 (High)", "priority": "urgent"}) == [
        "邮件头 Importance: high", "邮件头 X-Priority: 2 (High)", "邮件头 Priority: urgent"]
    assert urgent_header_reasons({"x-priority": "3 (Normal)", "importance": "normal"}) == []


@pytest.mark.parametrize("subject", ["自动回复: 月报", "自动答复：月报", "Automatic reply: report", "Auto-Reply: x",
                                     "Out of Office: x", "AutoReply: x"])
def test_auto_reply_subjects(subject: str) -> None:
    # Out-of-office subjects make an auto-reply even without headers.
    assert is_auto_reply({}, "text/plain", subject)


def test_auto_reply_headers() -> None:
    # Auto-Submitted other than no, and X-Auto-Response-Suppress, make an auto-reply.
    assert is_auto_reply({"auto-submitted": "auto-generated"}, "text/plain", "x")
    assert is_auto_reply({"x-auto-response-suppress": "All"}, "text/plain", "x")
    assert not is_auto_reply({"auto-submitted": "no"}, "text/plain", "回复: 自动回复: x")


def test_automatic_reasons() -> None:
    # Every DESIGN.md automatic-mail signal is named; a person's mail has none.
    headers = {"auto-submitted": "auto-replied", "precedence": "bulk", "return-path": "<>", "x-mailbot-loop": "1"}
    reasons = automatic_reasons(headers, "no-reply@x.cn", "multipart/report", "delivery-status", "Out of Office: x")
    assert len(reasons) == 7
    assert automatic_reasons({"precedence": "first-class"}, "liming@gd.example.cn", "text/plain", "", "回复: 月报") == ()
    for sender in ("MAILER-DAEMON@x.cn", "postmaster@x.cn", "noreply@x.cn", "do-not-reply@x.cn"):
        assert automatic_reasons({}, sender.lower(), "text/plain", "", "x")


def test_bounce_rules() -> None:
    # DSNs are bounces; so is a postmaster notice with a returned message or bounce wording.
    assert is_bounce("x@y", "multipart/report", "delivery-status", "x", "", False)
    assert not is_bounce("x@y", "multipart/report", "disposition-notification", "x", "", False)
    assert is_bounce("postmaster@y.cn", "text/plain", "", "系统退信", "", False)
    assert is_bounce("mailer-daemon@y.cn", "multipart/mixed", "", "x", "", True)
    assert not is_bounce("postmaster@y.cn", "text/plain", "", "请更新通讯录", "您好", False)
    assert not is_bounce("liming@gd.example.cn", "text/plain", "", "Undelivered", "", True)


@pytest.mark.parametrize("head, urgent", [
    ("Subject: 【紧急】管线泄漏\r\n\r\n".encode(), True),                      # raw 8-bit, as some clients send it
    (b"Subject: =?utf-8?b?44CQ57Sn5oCl44CR?= S005\r\n\r\n", True),           # encoded word
    (b"Subject: x\r\nImportance: High\r\n\r\n", True),
    (b"Subject: x\r\nX-Priority: 1 (Highest)\r\n\r\n", True),
    (b"Subject: =?gb2312?b?1MKxqA==?=\r\n\r\n", False),                       # 月报
    (b"\xff\xfe not a header at all", False),
])
def test_urgent_mail_is_known_by_its_headers_alone(head: bytes, urgent: bool) -> None:
    assert looks_urgent(head) is urgent
