"""parse_message end to end: envelope, kinds, winning copy, token checks, JSON shape."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from parsers import UnreadableMessage, parse_message, render_form

TOKEN = "KCR-202611-GD-3F9A"
FORM = render_form(token=TOKEN, unit_code="GD", unit_name="广东分公司", period="2026-11",
                   strategic=[("S001", "国家电网有限公司")], vip=[])


def message(body: str, subject: str = f"回复: 月报 [{TOKEN}]", extra: str = "") -> bytes:
    head = (f"From: =?utf-8?B?5p2O5piO?= <LiMing@GD.example.cn>\r\nTo: KCR <kcr@hq.example.cn>, x@y.cn\r\n"
            f"Cc: boss@gd.example.cn\r\nSubject: {subject}\r\nDate: Wed, 25 Nov 2026 09:30:12 +0800\r\n"
            "Message-ID: < abc@gd.example.cn >\r\nIn-Reply-To: <kcr-1@hq.example.cn>\r\n"
            "References: <kcr-0@hq.example.cn>\r\n <kcr-1@hq.example.cn>\r\n" + extra +
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
    return head.encode() + body.replace("\n", "\r\n").encode("utf-8")


def test_envelope_fields() -> None:
    # Addresses are lower-cased bare addresses, names decoded, ids normalised, date tz-aware.
    env = parse_message(message("你好")).envelope
    assert (env.from_addr, env.from_name) == ("liming@gd.example.cn", "李明")
    assert env.to == ("kcr@hq.example.cn", "x@y.cn") and env.cc == ("boss@gd.example.cn",)
    assert env.message_id == "<abc@gd.example.cn>" and env.in_reply_to == "<kcr-1@hq.example.cn>"
    assert env.references == ("<kcr-0@hq.example.cn>", "<kcr-1@hq.example.cn>")
    assert env.date is not None and env.date.utcoffset() == timedelta(hours=8)
    assert env.automatic_reasons == ()


def test_envelope_tolerates_missing_and_broken_headers() -> None:
    # No From, a bracketless Message-ID and a nonsense Date give empty values, not exceptions.
    raw = b"Subject: x\r\nMessage-ID: abc@host\r\nDate: not a date\r\n\r\nbody"
    env = parse_message(raw).envelope
    assert (env.from_addr, env.message_id, env.date, env.to) == ("", "<abc@host>", None, ())


def test_automatic_reasons_on_envelope() -> None:
    # Precedence: bulk and our own loop header mark the message automatic.
    env = parse_message(message("x", extra="Precedence: bulk\r\nX-Mailbot-Loop: 1\r\n")).envelope
    assert env.automatic_reasons == ("Precedence: bulk", "X-Mailbot-Loop（本系统发出的邮件）")


def test_as_json_has_exactly_the_form_md_keys_in_order() -> None:
    # The JSON object has FORM.md's keys in FORM.md's order and serialises.
    got = parse_message(message(FORM.replace("填报人：", "填报人：李明"))).as_json()
    assert list(got) == ["kind", "token", "unit", "period", "urgent", "urgent_reasons", "reporter",
                         "strategic", "vip", "urgent_text", "errors", "warnings"]
    assert list(got["strategic"][0]) == ["customer", "items", "risk", "needs_hq"]  # type: ignore[index]
    assert list(got["strategic"][0]["items"]) == [str(n) for n in range(1, 10)]  # type: ignore[index]
    json.dumps(got, ensure_ascii=False)


@pytest.mark.parametrize("raw", [b"", b"\x00" * 100])
def test_unreadable_input_raises(raw: bytes) -> None:
    # Only bytes that are no message at all raise UnreadableMessage, with a Chinese reason.
    with pytest.raises(UnreadableMessage) as info:
        parse_message(raw)
    assert info.value.reason


def test_two_filled_copies_topmost_wins_with_warning() -> None:
    # When two copies have answers the topmost wins and the choice is warned about.
    top = FORM.replace("9. 其他重要事项：", "9. 其他重要事项：新的")
    old = FORM.replace("9. 其他重要事项：", "9. 其他重要事项：旧的")
    parsed = parse_message(message(top + "\n-----邮件原件-----\n发件人: a\n发送时间: b\n\n" + old))
    assert parsed.strategic[0].items["9"] == "新的"
    assert ("", "邮件中有2份填写过的填报单，已采用最上面的一份") in [(w.where, w.message) for w in parsed.warnings]


def test_blank_copy_above_never_overrides_filled_copy_below() -> None:
    # A blank copy on top loses to a filled copy further down.
    filled = FORM.replace("风险等级（无/一般/重大）：", "风险等级（无/一般/重大）：重大")
    parsed = parse_message(message(FORM + "\n" + "\n".join("> " + x for x in filled.split("\n"))))
    assert parsed.strategic[0].risk == "重大" and parsed.has_answers
    assert parsed.form_text is not None and "风险等级（无/一般/重大）：重大" in parsed.form_text


def test_unit_and_period_mismatch_warn() -> None:
    # 所属单位 and 报告期 that contradict the report number are warned about.
    body = FORM.replace("（GD）", "（SZ）").replace("2026年11月", "2026年10月").replace("填报人：", "填报人：李明")
    wheres = [w.where for w in parse_message(message(body)).warnings]
    assert wheres == ["所属单位", "报告期"]


def test_form_and_subject_token_disagree() -> None:
    # The form's report number wins over a different one in the subject, with a warning.
    parsed = parse_message(message(FORM.replace("填报人：", "填报人：李明"), subject="回复 [KCR-202610-GD]"))
    assert parsed.token == TOKEN
    assert [w.where for w in parsed.warnings] == ["报告编号"]


def test_invalid_token_without_subject_token_is_an_error() -> None:
    # A mangled 报告编号 and no number in the subject is an error quoting what was written.
    body = FORM.replace(TOKEN, "KCR-11-GD").replace("填报人：", "填报人：李明")
    parsed = parse_message(message(body, subject="月报"))
    assert parsed.token is None
    assert [(e.where, e.message) for e in parsed.errors] == [
        ("报告编号", "报告编号“KCR-11-GD”无法识别，应为 KCR-年月-单位代码 的形式，请勿修改")]


def test_auto_reply_quoting_a_form_reports_no_form_problems() -> None:
    # An auto-reply quoting a form stays auto_reply and carries no form data or warnings.
    parsed = parse_message(message("我在休假。\n\n" + FORM, subject=f"自动回复: 月报 [{TOKEN}]"))
    assert parsed.kind == "auto_reply" and parsed.strategic == () and parsed.warnings == ()
    assert parsed.token == TOKEN and parsed.form_text is None


def test_urgent_report_text_excludes_quote_and_signature() -> None:
    # urgent_text of an urgent_report is only what the sender wrote.
    parsed = parse_message(message("门站泄漏，请协调。\n--\n李明\n\n> 原文\n> 更多", subject="【紧急】门站泄漏"))
    assert parsed.kind == "urgent_report" and parsed.urgent_text == "门站泄漏，请协调。"
    assert parsed.new_text == "门站泄漏，请协调。" and parsed.token is None


def test_unknown_mail_has_no_form_fields() -> None:
    # Mail without a form or urgency is unknown with nothing filled in.
    parsed = parse_message(message("请问月报模板有变化吗？", subject="问题"))
    assert (parsed.kind, parsed.form_text, parsed.has_answers, parsed.urgent) == ("unknown", None, False, False)
    assert parsed.as_json()["reporter"] == {"name": None, "phone": None}


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "replies"


@pytest.mark.parametrize("name, expected", [
    ("qq_quoted_form", "您好，已在原邮件中填写，请查收。"),
    ("iphone_quoted", "已填，见下。"),
    ("outlook_zh_html_mso", "您好，已在下方原邮件中填写，请查收。\n\n李明\n广东分公司市场部"),
    ("coremail_gt_entity_interleaved", "见下方填写，谢谢。\n\n李明\n已按方案执行。\n一般\n否\n已按方案执行。\n一般\n否\n否"),
    ("importance_high_no_form", "S007客户通知12月起减少用气量30%，涉及年度合同约2亿元，请总部尽快与客户总部沟通。"),
])
def test_new_text_of_client_replies(name: str, expected: str) -> None:
    # new_text is what the sender wrote: above the quote, or between ">" lines, never the original.
    assert parse_message((FIXTURES / f"{name}.eml").read_bytes()).new_text == expected


def test_form_text_is_the_winning_copy_without_quote_prefixes() -> None:
    # form_text runs from the title to 【填报结束】 with prefixes removed and the answers kept.
    parsed = parse_message((FIXTURES / "qq_quoted_form.eml").read_bytes())
    assert parsed.form_text is not None
    lines = parsed.form_text.split("\n")
    assert lines[0] == "【重点客户月报填报单】" and lines[-1] == "【填报结束】"
    assert "填报人：李明" in lines and not any(line.startswith(">") for line in lines)


def test_text_of_html_only_mail_keeps_lines() -> None:
    # HTML-only mail is converted to text lines for `text`.
    parsed = parse_message((FIXTURES / "outlook_zh_html_table.eml").read_bytes())
    assert "1. 全国性天然气产品及服务方案执行情况：已执行。\n12月继续按方案供气。" in parsed.text


def test_bounce_keeps_kind_and_finds_token_in_returned_message() -> None:
    # A DSN quoting the request is a bounce matched by the returned subject's report number.
    parsed = parse_message((FIXTURES / "dsn_bounce_postfix.eml").read_bytes())
    assert (parsed.kind, parsed.token, parsed.errors, parsed.warnings) == ("bounce", TOKEN, (), ())
    assert "multipart/report（delivery-status）" in parsed.envelope.automatic_reasons


def test_bounce_with_an_odd_charset_label_on_the_returned_headers_still_finds_the_token() -> None:
    # `charset*=utf-8''utf-8` on the returned headers with 8-bit text made the stdlib raise while decoding them.
    raw = ("From: MAILER-DAEMON@gd.example.cn\r\nTo: kcr@hq.example.cn\r\nSubject: Undelivered Mail Returned to Sender\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
           "--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
           "Status: 5.1.1\r\n--b\r\nContent-Type: text/rfc822-headers; charset*=utf-8''utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\nSubject: 【月度报送通知】2026年11月 KCR-202611-GD\r\n"
           "From: kcr@hq.example.cn\r\n--b--\r\n").encode()
    p = parse_message(raw)
    assert (p.kind, p.token) == ("bounce", "KCR-202611-GD")
