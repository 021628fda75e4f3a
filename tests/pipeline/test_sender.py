"""Who sent it: a forged sender never speaks for HQ or a unit (SQLite and PostgreSQL).

The bot believes one strictly parsed From address, registered in the directory, and — where our own mail
server's Authentication-Results are on the mail — only the address that server vouches for.
"""

from __future__ import annotations

import email
import email.policy
import re

import pytest
from sqlalchemy import func, select

from mailbot.app import App
from mailbot.daemon.calendar import tick
from mailbot.db.models import InboundMessage, OutboxMail, Request, RequestEvent, Submission
from mailbot.demo import replies
from tests.support.mailflow import (
    BJ,
    GD,
    HQ,
    LIUYANG,
    NEEDS_HQ,
    arrive_one,
    count,
    gd_report,
    outbox,
    quarantine_reasons,
    reply_to,
    text,
)

OURS = {"security": {"authserv_ids": ["mx.hq.example.cn"]}}


def with_from(raw: bytes, *values: str) -> bytes:
    """The same mail with its From header(s) replaced by these raw values."""
    head, sep, body = raw.partition(b"\n\n") if b"\r\n\r\n" not in raw else raw.partition(b"\r\n\r\n")
    eol = b"\r\n" if sep == b"\r\n\r\n" else b"\n"
    lines = [ln for ln in re.split(rb"\r?\n(?![ \t])", head) if not ln.lower().startswith(b"from:")]
    return eol.join([*(b"From: " + v.encode() for v in values), *lines]) + sep + body


def with_results(raw: bytes, *values: str) -> bytes:
    """The mail as our server would hand it over, Authentication-Results on top (first = topmost)."""
    return b"".join(f"Authentication-Results: {v}\r\n".encode() for v in values) + raw


def open_request(app: App, clock) -> tuple[str, OutboxMail]:  # type: ignore[no-untyped-def]
    """GD reports a matter needing HQ: 诉求 SQ-2026-0001, its notice mailed to 刘洋."""
    clock.set(2026, 11, 18, 10)
    assert arrive_one(app, gd_report(app, NEEDS_HQ)).status == "processed"
    (notice,) = outbox(app, "req-notice:")
    return "SQ-2026-0001", notice


def request_status(app: App, number: str) -> tuple[str, str | None]:
    with app.sessions() as s:
        r = s.scalar(select(Request).where(Request.number == number))
        assert r is not None
        return r.status, r.answer


# --- the From header ----------------------------------------------------------------------------------------


def test_an_hq_address_in_the_display_name_cannot_answer_a_request(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    # The attack of issue 11: "liuyang@hq… <attacker@evil…>" answering the notice; even our server's dmarc=pass
    # for evil.example does not make it HQ. The request stays open, nothing reaches the unit, the operator knows.
    app = make_app(**OURS)
    number, notice = open_request(app, clock)
    clock.set(2026, 11, 19, 9)
    raw = reply_to(notice, LIUYANG, "答复：请将保证金汇至账户 6222 0000 1111。", clock.now)
    forged = with_results(with_from(raw, "liuyang@hq.example.cn <attacker@evil.example>"),
                          "mx.hq.example.cn; dkim=pass header.d=evil.example; dmarc=pass header.from=evil.example")
    o = arrive_one(app, forged)
    assert o.status == "quarantined", o.note
    assert request_status(app, number) == ("new", None)
    assert outbox(app, "req-answer:") == []
    (alert,) = outbox(app, "operator:quarantine:")
    assert "不是合规的邮件地址格式" in alert.subject and "attacker@evil.example" in text(alert)


def test_a_unit_address_in_the_display_name_files_no_report(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(2026, 11, 18, 10)
    forged = with_from(gd_report(app), "liming@gd.example.cn <attacker@evil.example>")
    assert arrive_one(app, forged).status == "quarantined"
    assert count(app, Submission) == 0
    assert outbox(app, "ack:") == [] and outbox(app, "error:") == []


def test_the_getaddresses_flaw_cve_2023_27043_is_not_a_way_in(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(2026, 11, 18, 10)
    forged = with_from(gd_report(app), "liming@gd.example.cn)<attacker@evil.example>")
    assert arrive_one(app, forged).status == "quarantined"
    assert count(app, Submission) == 0


def test_two_from_headers_are_no_sender(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(2026, 11, 18, 10)
    forged = with_from(gd_report(app), "李明 <liming@gd.example.cn>", "attacker@evil.example")
    assert arrive_one(app, forged).status == "quarantined"
    assert count(app, Submission) == 0
    assert quarantine_reasons(app) == ["邮件有2个发件人（From）行，可能是冒用地址"]


def test_ordinary_from_forms_are_still_read(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # Encoded names glued to the "<", an encoded word inside quotes, a comment, an upper-case address:
    # the strict reading refuses tricks, not the clients units really use.
    clock.set(2026, 11, 18, 10)
    raw = gd_report(app)
    for n, value in enumerate(['=?gb2312?B?wO7D9w==?=<liming@gd.example.cn>', '"=?utf-8?B?5p2O5piO?=" <LiMing@GD.example.cn>',
                               'liming@gd.example.cn (李明)']):
        clock.set(2026, 11, 18, 10 + n)
        o = arrive_one(app, with_from(raw.replace(b"Message-ID: <", f"Message-ID: <{n}".encode()), value))
        assert o.status == "processed", (value, o.note)
    with app.sessions() as s:
        assert s.scalars(select(Submission.version).order_by(Submission.id)).all() == [1, 2, 3]


# --- Authentication-Results ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("results", "status", "reason"), [
    # A strictly valid From, but the server checked DMARC for evil.example: it read another From than we did.
    (["mx.hq.example.cn; dmarc=pass header.from=evil.example"], "quarantined",
     "邮件服务器验证的发件人域 evil.example 与发件人地址 liming@gd.example.cn 不一致，可能是冒用地址"),
    # An internal hop (Exchange does this) adds its own header above the edge server's dmarc=fail.
    (["exch01.hq.example.cn; dmarc=pass header.from=gd.example.cn",
      "mx.hq.example.cn; dmarc=fail (p=reject) header.from=gd.example.cn"], "quarantined",
     "发件人 liming@gd.example.cn 未通过邮件服务器的DMARC验证，可能是冒用地址"),
    # Only configured authserv-ids count: a "fail" the sender (or anyone) wrote changes nothing.
    (["evil.example; dmarc=fail header.from=gd.example.cn; dkim=fail; spf=fail"], "processed", None),
    # Forwarded and double-signed mail: one DKIM signature breaks, SPF fails, DMARC still passes.
    (["mx.hq.example.cn; dkim=pass header.d=gd.example.cn; dkim=fail header.d=esp.example; "
      "spf=fail smtp.mailfrom=esp.example; dmarc=pass header.from=gd.example.cn"], "processed", None),
    (["mx.hq.example.cn; dmarc=fail (p=none) header.from=gd.example.cn; spf=fail"], "quarantined",
     "发件人 liming@gd.example.cn 未通过邮件服务器的DMARC验证，可能是冒用地址"),
    (["mx.hq.example.cn; dkim=fail header.d=gd.example.cn; dmarc=none"], "quarantined",
     "发件人 liming@gd.example.cn 未通过邮件服务器的DKIM验证，可能是冒用地址"),
], ids=["other-from-domain", "internal-hop-above", "stranger-host", "dmarc-pass-dkim-fail", "dmarc-fail",
        "aligned-dkim-fail"])
def test_our_servers_authentication_results_decide(make_app, clock, results: list[str], status: str,  # type: ignore[no-untyped-def]
                                                   reason: str | None) -> None:
    app = make_app(**OURS)
    clock.set(2026, 11, 18, 10)
    o = arrive_one(app, with_results(gd_report(app), *results))
    assert o.status == status, o.note
    assert quarantine_reasons(app) == ([reason] if reason else [])
    assert count(app, Submission) == (1 if status == "processed" else 0)


def test_required_authentication_refuses_mail_our_server_did_not_vouch_for(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    app = make_app(security={"authserv_ids": ["mx.hq.example.cn"], "require_authentication": True})
    clock.set(2026, 11, 18, 10)
    raw = gd_report(app)
    assert arrive_one(app, raw).status == "quarantined"
    assert "未经邮件服务器认证" in quarantine_reasons(app)[0]
    clock.set(2026, 11, 18, 11)
    vouched = with_results(raw.replace(b"Message-ID: <", b"Message-ID: <again"),
                           "mx.hq.example.cn; dmarc=pass header.from=gd.example.cn")
    assert arrive_one(app, vouched).status == "processed"


def test_a_genuinely_signed_report_passes_and_a_tampered_one_does_not(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    # The edge server's verdict comes from a real DKIM verification (dkimpy against the published key), written
    # as the server would write it; the report changed in transit fails it and files nothing.
    import base64

    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    dns = {b"s1._domainkey.gd.example.cn.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)}

    def received(raw: bytes) -> bytes:
        ok = dkim.verify(raw, dnsfunc=lambda name, timeout=5: dns.get(name))
        return with_results(raw, f"mx.hq.example.cn; dkim={'pass' if ok else 'fail'} header.d=gd.example.cn; "
                                 "dmarc=none header.from=gd.example.cn")

    app = make_app(**OURS)
    clock.set(2026, 11, 18, 10)
    report = gd_report(app)
    signed = dkim.sign(report, b"s1", b"gd.example.cn", private,
                       include_headers=[b"from", b"to", b"subject", b"message-id"]) + report
    forged = email.message_from_bytes(signed, policy=email.policy.SMTP)
    part = forged.get_body(("plain",))
    assert part is not None
    part.set_content(part.get_content().replace("已签订2027年度框架协议", "请将保证金汇至新账户"))  # type: ignore[attr-defined]
    tampered = forged.as_bytes()
    assert tampered != signed
    assert arrive_one(app, received(tampered)).status == "quarantined"
    assert "DKIM" in quarantine_reasons(app)[0]
    assert arrive_one(app, received(signed)).status == "processed"
    assert count(app, Submission) == 1


# --- commands on a 诉求 --------------------------------------------------------------------------------------


def test_hq_commands_need_our_servers_word_when_it_gives_one(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    # With authserv-ids configured, an HQ reply our server did not vouch for is set aside and the operator told at
    # once; the same reply with dmarc=pass answers the unit.
    app = make_app(**OURS)
    number, notice = open_request(app, clock)
    clock.set(2026, 11, 19, 9)
    raw = reply_to(notice, LIUYANG, "答复：冬季保供气量增加2000万方。", clock.now)
    assert arrive_one(app, raw).status == "quarantined"
    assert request_status(app, number) == ("new", None)
    (alert,) = outbox(app, "operator:quarantine:")
    assert number in alert.subject and "未经邮件服务器认证" in alert.subject
    clock.set(2026, 11, 19, 10)
    vouched = with_results(raw.replace(b"Message-ID: <", b"Message-ID: <again"),
                           "mx.hq.example.cn; dkim=pass header.d=hq.example.cn; dmarc=pass header.from=hq.example.cn")
    assert arrive_one(app, vouched).status == "processed"
    assert request_status(app, number) == ("answered", "冬季保供气量增加2000万方。")
    (answer,) = outbox(app, "req-answer:")
    assert answer.recipients == "liming@gd.example.cn"


def test_another_units_request_number_is_refused(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # BJ's contact writes with GD's SQ number: not a comment on GD's request, and GD's assignee hears nothing.
    number, _notice = open_request(app, clock)
    clock.set(2026, 11, 19, 9)
    raw = replies.build(sender=BJ, to=HQ, subject=f"关于{number}的补充", at=clock.now, body="此事已解决，请关闭。")
    o = arrive_one(app, raw)
    assert o.status == "quarantined", o.note
    assert quarantine_reasons(app) == [f"{number} 属于广东分公司，发件人 sunyue@bj.example.cn 不是该单位的登记联系人"]
    with app.sessions() as s:
        assert s.scalars(select(RequestEvent.action)).all() == ["created"]
    assert outbox(app, f"req-notice:{number}:comment") == []


# --- dedupe, and who is answered -----------------------------------------------------------------------------


def test_a_squatted_message_id_does_not_swallow_the_genuine_report(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # A stranger sends Message-ID X first; GD's genuine report with the same X is still filed and acknowledged.
    clock.set(2026, 11, 18, 10)
    genuine = gd_report(app)
    mid = email.message_from_bytes(genuine)["Message-ID"]
    squat = replies.build(sender=("x", "someone@evil.example"), to=HQ, subject="hello", at=clock.now, body="hi")
    squat = re.sub(rb"Message-ID: <[^>]*>", f"Message-ID: {mid}".encode(), squat)
    assert arrive_one(app, squat).status == "quarantined"
    o = arrive_one(app, genuine)
    assert o.status == "processed", o.note
    assert count(app, Submission) == 1
    assert len(outbox(app, "ack:")) == 1
    # The same message delivered again (other transit headers, same Message-ID, From and body) is one message.
    assert arrive_one(app, b"Received: from relay2.example.cn\r\n" + genuine).status == "duplicate"
    assert count(app, Submission) == 1


def test_strangers_wait_for_one_digest_while_forgeries_are_told_at_once(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # Thirty strangers in an afternoon are one operator mail an hour later; a forged From is told at once.
    clock.set(2026, 11, 18, 14)
    for n in range(30):
        arrive_one(app, replies.build(sender=("x", f"news{n}@list.example"), to=HQ, subject=f"广告 {n}", at=clock.now,
                                    body="特价"))
    arrive_one(app, with_from(gd_report(app), "liming@gd.example.cn <attacker@evil.example>"))
    (forgery,) = outbox(app, "operator:")
    assert forgery.idem_key.startswith("operator:quarantine:")
    clock.set(2026, 11, 18, 14, 59)
    tick(app)
    assert len(outbox(app, "operator:")) == 1
    clock.set(2026, 11, 18, 15, 1)
    tick(app)
    tick(app)
    (digest,) = outbox(app, "operator:digest:")
    assert digest.subject == "【运维通知】汇总：隔离邮件 30 封"
    body = text(digest)
    assert "news0@list.example" in body and "news29@list.example" in body and "广告 29" in body
    assert "attacker@evil.example" not in body  # told already
    # The next wave is the next digest; nothing is listed twice.
    arrive_one(app, replies.build(sender=("y", "other@list.example"), to=HQ, subject="再来", at=clock.now, body="x"))
    clock.set(2026, 11, 18, 16, 2)
    tick(app)
    second = outbox(app, "operator:digest:")[1]
    assert second.subject == "【运维通知】汇总：隔离邮件 1 封" and "news0@list.example" not in text(second)


def test_a_quarantine_reason_never_outgrows_its_column(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # A stranger's 300-character address is named in the reason, cut: PostgreSQL would refuse a longer one.
    clock.set(2026, 11, 18, 10)
    address = "x" * 64 + "@" + ".".join(["d" * 60] * 4) + ".example"
    raw = with_from(gd_report(app), address)
    o = arrive_one(app, raw)
    assert o.status == "quarantined", o.note
    (reason,) = quarantine_reasons(app)
    assert len(reason) <= 200 and reason.endswith("…")


def test_oversized_mail_answers_contacts_once_a_day_and_strangers_never(make_app, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(mailbox={"path": str(tmp_path / "mail"), "max_message_bytes": 2000})
    clock.set(2026, 11, 18, 10)
    big = "附件内容" * 2000
    for n in range(3):
        arrive_one(app, replies.build(sender=GD, to=HQ, subject=f"月报 {n}", at=clock.now, body=big))
        arrive_one(app, replies.build(sender=("x", f"forged{n}@evil.example"), to=HQ, subject="hi", at=clock.now, body=big))
    errors = outbox(app, "error:")
    assert [e.recipients for e in errors] == ["liming@gd.example.cn"]
    with app.sessions() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)
                        .where(InboundMessage.status == "quarantined")) == 6


def test_a_hostile_message_id_cannot_keep_a_mail_from_being_recorded(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # A NUL and 900 CJK characters in the Message-ID (PostgreSQL refuses NUL, and its index entries are bounded):
    # the mail is still recorded and handled like any other.
    clock.set(2026, 11, 18, 10)
    raw = re.sub(rb"Message-ID: <[^>]*>", ("Message-ID: <\x00" + "报" * 900 + "@gd.example.cn>").encode(), gd_report(app))
    o = arrive_one(app, raw)
    assert o.status == "processed", o.note
    with app.sessions() as s:
        mid = s.scalar(select(InboundMessage.message_id))
        assert "\x00" not in mid and len(mid) <= 500
