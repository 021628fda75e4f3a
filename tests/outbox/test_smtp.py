"""The SMTP transport against a real aiosmtpd server on 127.0.0.1: delivery, TLS, AUTH, refusals, outages, the queue."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailbot.db.migrate import upgrade
from mailbot.db.models import OutboxMail
from mailbot.db.session import make_engine, session_factory, transaction
from mailbot.outbox.compose import Attachment, Draft, Identity
from mailbot.outbox.queue import PermanentFailure, enqueue, send_pending
from mailbot.outbox.smtp import (
    Refusal,
    SmtpDeferred,
    SmtpError,
    SmtpRefused,
    SmtpTransport,
    SmtpUnavailable,
    envelope_recipients,
)
from tests.servers.smtpsink import HOST, TEST_USER, SmtpSink, Stage

MakeSink = Callable[..., SmtpSink]
MakeTransport = Callable[..., SmtpTransport]
MakeMail = Callable[..., OutboxMail]
Sessions = sessionmaker[Session]
BOT = Identity("kcr@hq.example.cn", "总部资源与市场部")  # the same identity the fixtures send as


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


# --- delivery -------------------------------------------------------------------------------------


def test_round_trip_keeps_the_bytes_and_the_envelope(sink: SmtpSink, make_transport: MakeTransport,
                                                     make_mail: MakeMail) -> None:
    # A composed Chinese mail arrives byte for byte, from the bot's address, to each envelope recipient once.
    mail = make_mail(to=("李明 <liming@gd.example.cn>", "wang@gd.example.cn", "liming@gd.example.cn"),
                     subject="[重点客户月报] 2026年11月 广东分公司 请报送", text="李明同志：\n.以点开头的一行\n请报送。\n")
    make_transport(sink).send(mail)
    [got] = sink.messages
    assert got.mail_from == BOT.address
    assert got.rcpt_tos == ("liming@gd.example.cn", "wang@gd.example.cn")
    assert got.raw == mail.raw  # dot-stuffing undone, nothing added or re-encoded
    assert "BODY=8BITMIME" in got.mail_options and f"SIZE={len(mail.raw)}" in got.mail_options
    parsed = parse(got.raw)
    assert parsed["Subject"] == "[重点客户月报] 2026年11月 广东分公司 请报送"
    assert parsed["Message-ID"] == mail.message_id
    assert ".以点开头的一行" in parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_recipients_column_is_parsed_as_addresses() -> None:
    # Display names (also with commas inside quotes) and repeats do not reach RCPT TO.
    assert envelope_recipients('"Li, Ming" <li@x.cn>, 王 <wang@x.cn>,li@x.cn, ') == ["li@x.cn", "wang@x.cn"]


def test_one_connection_serves_many_sends(sink: SmtpSink, make_transport: MakeTransport, make_mail: MakeMail) -> None:
    # send_pending sends mails in a row: they share one connection; close() ends it and the next send reconnects.
    t = make_transport(sink)
    for _ in range(3):
        t.send(make_mail())
    assert (sink.connections, len(sink.messages)) == (1, 3)
    t.close()
    t.send(make_mail())
    assert (sink.connections, len(sink.messages)) == (2, 4)


def test_a_connection_the_server_dropped_is_replaced(sink: SmtpSink, make_transport: MakeTransport,
                                                     make_mail: MakeMail) -> None:
    # The server restarted between two sends: the kept connection is dead, the next send reconnects and delivers once.
    t = make_transport(sink)
    t.send(make_mail())
    sink.stop()
    sink.start()
    t.send(make_mail())
    assert (sink.connections, len(sink.messages)) == (2, 2)


def test_non_ascii_recipient_uses_smtputf8(make_sink: MakeSink, make_transport: MakeTransport,
                                           make_mail: MakeMail) -> None:
    # An internationalised address goes out with SMTPUTF8 where offered, and is refused for good where it is not.
    utf8 = make_sink(smtputf8=True)
    make_transport(utf8).send(make_mail(to=("李明@例子.中国",)))
    assert utf8.messages[0].rcpt_tos == ("李明@例子.中国",) and "SMTPUTF8" in utf8.messages[0].mail_options
    ascii_only = make_sink(smtputf8=False)
    with pytest.raises(SmtpRefused, match="SMTPUTF8"):
        make_transport(ascii_only).send(make_mail(to=("李明@例子.中国",)))
    assert ascii_only.messages == []


def test_message_over_the_servers_size_limit_is_refused_before_data(make_sink: MakeSink, make_transport: MakeTransport,
                                                                    make_mail: MakeMail) -> None:
    # The server advertises SIZE 20000: a 30 kB bulletin is refused for good without uploading it.
    small = make_sink(data_size_limit=20_000)
    big = make_mail(attachments=(Attachment("简报.pdf", b"%PDF" + b"x" * 30_000, "application", "pdf"),))
    with pytest.raises(SmtpRefused, match="accepts at most 20000") as e:
        make_transport(small).send(big)
    assert e.value.stage == "mail" and small.messages == []


# --- TLS and AUTH ---------------------------------------------------------------------------------


@pytest.mark.parametrize("exclude", [(), ("PLAIN",)], ids=["PLAIN", "LOGIN"])
def test_starttls_and_auth(make_sink: MakeSink, make_transport: MakeTransport, make_mail: MakeMail,
                           caplog: pytest.LogCaptureFixture, exclude: tuple[str, ...]) -> None:
    # STARTTLS with a verified certificate, then AUTH PLAIN (or LOGIN) with a UTF-8 password read at login; not logged.
    sink = make_sink(tls="starttls", user=TEST_USER, exclude_auth=exclude)
    reads: list[str] = []

    def password() -> str:
        reads.append("read")
        return TEST_USER.password

    caplog.set_level(logging.DEBUG)
    t = make_transport(sink, security="starttls", username=TEST_USER.login, password=password)
    t.send(make_mail())
    t.send(make_mail())
    assert [(m.tls, m.login) for m in sink.messages] == [(True, TEST_USER.login)] * 2
    assert reads == ["read"]  # one login for the kept connection
    assert TEST_USER.password not in caplog.text


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # aiosmtpd counts only STARTTLS as TLS
def test_implicit_tls(make_sink: MakeSink, make_transport: MakeTransport, make_mail: MakeMail) -> None:
    # security="tls": the handshake comes before the greeting (port 465 style).
    sink = make_sink(tls="implicit", user=TEST_USER)
    t = make_transport(sink, security="tls", username=TEST_USER.login, password=lambda: TEST_USER.password)
    t.send(make_mail())
    assert sink.messages[0].tls and sink.messages[0].login == TEST_USER.login


def test_xoauth2_for_microsoft_365(make_sink: MakeSink, make_transport: MakeTransport, make_mail: MakeMail,
                                   caplog: pytest.LogCaptureFixture) -> None:
    # AUTH XOAUTH2 with a bearer token; a stale token is refused with 535 after the JSON challenge, and never logged.
    sink = make_sink(tls="starttls", user=TEST_USER)
    caplog.set_level(logging.DEBUG)
    make_transport(sink, security="starttls", username=TEST_USER.login,
                   oauth_token=lambda: TEST_USER.token).send(make_mail())
    assert sink.messages[0].login == TEST_USER.login
    stale = make_transport(sink, security="starttls", username=TEST_USER.login, oauth_token=lambda: "stale-token-xyz")
    with pytest.raises(SmtpUnavailable) as e:
        stale.send(make_mail())
    assert (e.value.stage, e.value.code) == ("auth", 535)
    assert "stale-token-xyz" not in caplog.text and TEST_USER.token not in caplog.text


def test_wrong_password_is_configuration_not_a_dead_mail(make_sink: MakeSink, make_transport: MakeTransport,
                                                         make_mail: MakeMail, caplog: pytest.LogCaptureFixture) -> None:
    # 535 is temporary (the mail stays queued), a setting for the operator to fix (the outbox logs it as an error),
    # and the breaker stops further logins for a while.
    sink = make_sink(tls="starttls", user=TEST_USER)
    t = make_transport(sink, security="starttls", username=TEST_USER.login, password=lambda: "wrong-pw", cooldown=60)
    with pytest.raises(SmtpUnavailable) as first:
        t.send(make_mail())
    assert not isinstance(first.value, PermanentFailure)
    assert (first.value.stage, first.value.code) == ("auth", 535)
    assert first.value.needs_operator
    connections = sink.connections
    with pytest.raises(SmtpUnavailable, match="not trying again"):
        t.send(make_mail())
    assert sink.connections == connections  # no second login attempt: accounts lock after a few
    assert "wrong-pw" not in caplog.text and "wrong-pw" not in str(first.value)


def test_starttls_missing_never_falls_back_to_clear_text(sink: SmtpSink, make_transport: MakeTransport,
                                                         make_mail: MakeMail) -> None:
    # The server does not offer STARTTLS: nothing is sent, the failure is temporary and names TLS.
    with pytest.raises(SmtpUnavailable) as e:
        make_transport(sink, security="starttls").send(make_mail())
    assert e.value.stage == "tls" and sink.messages == []


def test_untrusted_certificate_is_refused(make_sink: MakeSink, make_transport: MakeTransport,
                                          make_mail: MakeMail) -> None:
    # With the system's CAs, the sink's self-signed certificate fails verification: temporary, stage tls, nothing sent.
    sink = make_sink(tls="starttls")
    with pytest.raises(SmtpUnavailable) as e:
        make_transport(sink, security="starttls", ssl_context=ssl.create_default_context()).send(make_mail())
    assert e.value.stage == "tls" and isinstance(e.value.__cause__, ssl.SSLCertVerificationError)
    assert sink.messages == []


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("at", "reply", "expected"), [
    ("RCPT", "550 5.1.1 <liming@gd.example.cn>: Recipient address rejected", SmtpRefused),
    ("RCPT", "451 4.3.0 Try again later", SmtpDeferred),
    ("DATA", "554 5.7.1 Message rejected as spam", SmtpRefused),
    ("DATA", "452 4.3.1 Insufficient system storage", SmtpDeferred),
    ("MAIL", "451 4.7.1 Rate limit exceeded", SmtpDeferred),
    ("MAIL", "552 5.3.4 Message size exceeds fixed limit", SmtpRefused),
    ("MAIL", "550 5.7.60 Client does not have permissions to send as this sender", SmtpUnavailable),
])
def test_reply_codes_are_classified(sink: SmtpSink, make_transport: MakeTransport, make_mail: MakeMail,
                                    at: Stage, reply: str, expected: type[SmtpError]) -> None:
    # A refusal at MAIL, RCPT or DATA raises the class its code means, with the server's words; the next mail goes.
    sink.fail_next(reply, at=at)
    t = make_transport(sink)
    with pytest.raises(SmtpError) as e:
        t.send(make_mail())
    assert type(e.value) is expected
    assert isinstance(e.value, PermanentFailure) == (expected is SmtpRefused)
    assert e.value.code == int(reply[:3]) and reply[4:] in str(e.value)
    assert e.value.stage == at.lower()
    t.send(make_mail())
    assert len(sink.messages) == 1


def test_partial_refusal_sends_to_the_others_and_reports(sink: SmtpSink, make_transport: MakeTransport,
                                                         make_mail: MakeMail, caplog: pytest.LogCaptureFixture) -> None:
    # One of two recipients is unknown: the mail goes to the other, no exception, the refusal is in last_refused.
    sink.refused["gone@gd.example.cn"] = "550 5.1.1 User unknown"
    t = make_transport(sink)
    t.send(make_mail(to=("liming@gd.example.cn", "gone@gd.example.cn")))
    assert sink.messages[0].rcpt_tos == ("liming@gd.example.cn",)
    assert t.last_refused == (Refusal("gone@gd.example.cn", 550, "5.1.1 User unknown"),)
    assert "gone@gd.example.cn" in caplog.text
    t.send(make_mail())
    assert not t.last_refused


def test_all_recipients_refused_mixed_codes_is_temporary(sink: SmtpSink, make_transport: MakeTransport,
                                                          make_mail: MakeMail) -> None:
    # Nobody accepted, but one refusal is 4xx: retrying may still reach that one, so it is not permanent.
    sink.refused["gone@gd.example.cn"] = "550 5.1.1 User unknown"
    sink.refused["full@gd.example.cn"] = "452 4.2.2 Mailbox full"
    with pytest.raises(SmtpDeferred, match="Mailbox full"):
        make_transport(sink).send(make_mail(to=("gone@gd.example.cn", "full@gd.example.cn")))


# --- outages and timeouts -------------------------------------------------------------------------


def test_421_on_a_kept_connection_reconnects(sink: SmtpSink, make_transport: MakeTransport,
                                             make_mail: MakeMail) -> None:
    # The server answers MAIL with 421 (idle timeout) on the kept connection: a new connection delivers it once.
    t = make_transport(sink)
    t.send(make_mail())
    sink.fail_next("421 4.4.2 Idle timeout, closing connection", at="MAIL")
    t.send(make_mail())
    assert (sink.connections, len(sink.messages)) == (2, 2)


def test_server_down_then_back(sink: SmtpSink, make_transport: MakeTransport, make_mail: MakeMail) -> None:
    # Connection refused is temporary, an outage rather than a setting; once the server is back the same
    # transport delivers.
    t = make_transport(sink)
    sink.stop()
    with pytest.raises(SmtpUnavailable) as e:
        t.send(make_mail())
    assert not isinstance(e.value, PermanentFailure) and isinstance(e.value.__cause__, ConnectionRefusedError)
    assert not e.value.needs_operator
    sink.start()
    t.send(make_mail())
    assert len(sink.messages) == 1


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        s.listen(8)
        yield int(s.getsockname()[1])


def test_a_silent_server_costs_one_timeout_per_cooldown(silent_port: int, make_mail: MakeMail) -> None:
    # No greeting: the send gives up after `timeout`; the rest of the pass fails at once instead of waiting again.
    t = SmtpTransport(host=HOST, port=silent_port, envelope_from=BOT.address, security="plain", timeout=0.5,
                      local_hostname="mailbot.test", cooldown=60)
    started = time.monotonic()
    with pytest.raises(SmtpUnavailable) as e:
        t.send(make_mail())
    assert "timed out" in str(e.value) and time.monotonic() - started < 3
    started = time.monotonic()
    with pytest.raises(SmtpUnavailable, match="not trying again"):
        t.send(make_mail())
    assert time.monotonic() - started < 0.1


# --- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["smtp.example.cn", "10.0.0.5", "0.0.0.0"])
def test_plain_is_refused_beyond_loopback(host: str) -> None:
    # Mail and passwords in clear text may only travel to this machine.
    with pytest.raises(ValueError, match="outbox.security"):
        SmtpTransport(host=host, port=25, envelope_from=BOT.address, security="plain")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_plain_is_allowed_on_loopback(host: str) -> None:
    # A local relay (Postfix on the same machine) may be spoken to in clear.
    SmtpTransport(host=host, port=25, envelope_from=BOT.address, security="plain")


@pytest.mark.parametrize(("kw", "setting"), [
    ({"username": "u"}, "outbox.username"),
    ({"password": lambda: "p"}, "outbox.username"),
    ({"username": "u", "password": lambda: "p", "oauth_token": lambda: "t"}, "outbox: "),
    ({"envelope_from": "总部 <kcr@hq.example.cn>"}, "identity.address"),
    ({"timeout": 0}, "outbox.timeout"),
])
def test_inconsistent_settings_are_refused(kw: dict[str, Any], setting: str) -> None:
    # Each mistake names the setting to fix.
    options: dict[str, Any] = {"host": "smtp.example.cn", "port": 587, "envelope_from": BOT.address, **kw}
    with pytest.raises(ValueError, match=setting):
        SmtpTransport(**options)


def test_check_proves_each_step_and_sends_nothing(make_sink: MakeSink, make_transport: MakeTransport) -> None:
    # check-config: connect, TLS, AUTH, sender all pass on a good account; nothing is delivered.
    sink = make_sink(tls="starttls", user=TEST_USER)
    rows = make_transport(sink, security="starttls", username=TEST_USER.login,
                          password=lambda: TEST_USER.password).check()
    assert [(name.split()[0], ok) for name, ok, _ in rows] == [
        ("connect", True), ("TLS", True), ("AUTH", True), ("sender", True)]
    assert "certificate verified" in rows[1][2] and TEST_USER.login in rows[2][2]
    assert sink.messages == []


def test_check_names_the_failing_step(make_sink: MakeSink, make_transport: MakeTransport) -> None:
    # A wrong password fails the AUTH row; a stopped server fails the connect row.
    sink = make_sink(tls="starttls", user=TEST_USER)
    rows = make_transport(sink, security="starttls", username=TEST_USER.login, password=lambda: "nope").check()
    assert rows[-1][:2] == ("AUTH", False) and "535" in rows[-1][2]
    sink.stop()
    rows = make_transport(sink).check()
    assert rows == [(f"connect {HOST}:{sink.port}", False, rows[0][2])] and "refused" in rows[0][2]


# --- with the real outbox -------------------------------------------------------------------------


@pytest.fixture
def sessions(db_url: str) -> Iterator[Sessions]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


def queue(sessions: Sessions, n: int, now: datetime) -> list[int]:
    """Queue n requests, one per unit, the way the calendar job does."""
    ids = []
    with transaction(sessions) as s:
        for i in range(n):
            d = Draft(to=[f"unit{i}@gd.example.cn"], subject=f"[重点客户月报] 2026年11月 第{i}封",
                      text="请报送。\n", html="<p>请报送。</p>")
            row, _ = enqueue(s, key=f"request:2026-11:U{i}", kind="request", draft=d, sender=BOT, now=now)
            s.flush()
            ids.append(row.id)
    return ids


def test_send_pending_over_smtp_outage_delivers_each_mail_once(
        sink: SmtpSink, make_transport: MakeTransport, sessions: Sessions, clock: Callable[[], datetime]) -> None:
    # Three queued mails, SMTP down on the first pass (the pass stops, no attempt used up), up on the next:
    # each arrives exactly once.
    now = clock()
    ids = queue(sessions, 3, now)
    t = make_transport(sink)
    sink.stop()
    first = send_pending(sessions, t, now, max_attempts=5)
    assert (first.sent, first.retried, list(first.dead)) == (0, 0, [])
    sink.start()
    later = now + timedelta(minutes=5)
    second = send_pending(sessions, t, later, max_attempts=5)
    assert (second.sent, second.retried) == (3, 0)
    assert send_pending(sessions, t, later + timedelta(hours=1), max_attempts=5).sent == 0
    with sessions() as s:
        rows = s.scalars(select(OutboxMail).where(OutboxMail.id.in_(ids)).order_by(OutboxMail.id)).all()
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1)] * 3
    assert sorted(parse(m.raw)["Message-ID"] for m in sink.messages) == sorted(r.message_id for r in rows)
    assert [m.raw for m in sink.messages] == [r.raw for r in rows]
    assert sink.connections == 1  # the second pass reused one connection for all three


def test_send_pending_marks_a_refused_mail_dead(sink: SmtpSink, make_transport: MakeTransport, sessions: Sessions,
                                                clock: Callable[[], datetime]) -> None:
    # A 550 for the only recipient kills that row at once, with the server's reply; the others are sent.
    now = clock()
    ids = queue(sessions, 3, now)
    sink.refused["unit1@gd.example.cn"] = "550 5.1.1 User unknown"
    report = send_pending(sessions, make_transport(sink), now, max_attempts=5)
    assert (report.sent, list(report.dead)) == (2, [ids[1]])
    with sessions() as s:
        dead = s.get(OutboxMail, ids[1])
        assert dead is not None and dead.status == "dead" and "550 5.1.1 User unknown" in (dead.last_error or "")
