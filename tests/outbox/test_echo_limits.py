"""What a sender wrote is echoed into our headers only in part: a 1 MB Subject must not make a 1 MB reply.

Subjects ("回复：…"), display names and the quoted subject of operator notices are cut to a couple of hundred
characters with "…", and so is the body's echo of the subject; compose refuses to write any longer header
whoever asked for it. Each answer then goes through the real SMTP test server, which would refuse (and the
outbox dead-letter) a header block of a megabyte.
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.db.models import OutboxMail
from mailbot.mailboxes.maildir import deliver
from mailbot.outbox.compose import Draft, Identity, Thread, compose
from mailbot.outbox.queue import send_pending
from mailbot.outbox.smtp import SmtpTransport
from mailbot.pipeline import intake
from mailbot.pipeline.digest import operator_digest
from tests.servers.smtpsink import SmtpSink
from tests.support.mailflow import Clock

BOT = Identity("kcr@hq.example.cn", "总部资源与市场部")
WHEN = datetime(2026, 11, 19, 0, 30, tzinfo=timezone.utc)
HEADER_LIMIT = 2048   # bytes of header block an answer may have, whatever it echoes
ECHO_LIMIT = 200      # characters of a sender's text an answer may repeat
CHUNK = "月报内容有误请核实"
REPEATED = re.compile(f"(?:{CHUNK})+")


def huge_subject_mail(sender: str, prefix: str, *, mib: float = 1.0) -> bytes:
    """A mail whose Subject is about `mib` MiB: a prefix, then 月报内容 over and over, as folded encoded-words."""
    chunk = CHUNK * 5
    words = [f"=?utf-8?b?{base64.b64encode(prefix.encode()).decode()}?="]
    piece = f"=?utf-8?b?{base64.b64encode(chunk.encode()).decode()}?="
    words += [piece] * int(mib * 1024 * 1024 / (len(piece) + 3))
    return (f"From: =?utf-8?b?{base64.b64encode('李明'.encode()).decode()}?= <{sender}>\r\n"
            f"To: kcr@hq.example.cn\r\nDate: Thu, 19 Nov 2026 08:30:00 +0800\r\n"
            f"Message-ID: <huge-subject@gd.example.cn>\r\nSubject: " + "\r\n ".join(words) + "\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            "今晨某工地挖断支线，已抢修。\r\n").encode()


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def texts(raw: bytes) -> list[str]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return [part.get_content() for part in msg.walk() if part.get_content_type() in ("text/plain", "text/html")]


@pytest.mark.parametrize(("sender", "prefix", "kinds"), [
    ("liming@gd.example.cn", "关于本月", {"handover", "handover_ack", "operator"}),
    ("liming@gd.example.cn", "【紧急】", {"urgent_forward", "urgent_ack"}),
    ("attacker@evil.example", "关于本月", {"operator"}),
], ids=["contact-handover", "contact-urgent", "stranger-operator-digest"])
def test_a_one_megabyte_subject_is_answered_with_a_small_header_the_server_takes(
        app: App, clock: Clock, sink: SmtpSink, make_transport: Callable[..., SmtpTransport], sender: str,
        prefix: str, kinds: set[str]) -> None:
    # Each answer echoes at most 200 characters of the subject, header and body alike, and is delivered.
    deliver(app.settings.path(app.settings.mailbox.path), huge_subject_mail(sender, prefix), received_at=WHEN)
    intake.run_pass(app)
    clock.now += timedelta(hours=2)
    operator_digest(app)  # the stranger's mail, or the contact's handed over, reaches the operator in the digest
    with app.sessions() as s:
        answers = list(s.scalars(select(OutboxMail).order_by(OutboxMail.id)))
    assert {m.kind for m in answers} == kinds
    for m in answers:
        assert len(header_block(m.raw)) < HEADER_LIMIT, (m.kind, len(header_block(m.raw)))
        echoed = max((len(run) for text in texts(m.raw) for run in REPEATED.findall(text)), default=0)
        assert echoed <= ECHO_LIMIT, (m.kind, echoed)
        assert len(m.subject) < 300
    report = send_pending(app.sessions, make_transport(sink), app.now(), max_attempts=3)
    assert (report.sent, list(report.dead)) == (len(answers), [])
    assert sorted(r.raw for r in sink.messages) == sorted(m.raw for m in answers)


def test_compose_writes_no_header_longer_than_the_limit(sink: SmtpSink,
                                                        make_transport: Callable[..., SmtpTransport]) -> None:
    # The last line of defence, whatever a caller passes: a huge subject, display name and thread are cut,
    # our own Message-ID stays last in References, and the server takes the mail.
    draft = Draft(to=[f"{'李' * 100_000} <liming@gd.example.cn>"], cc=[f"{'x' * 5000} <wang@gd.example.cn>"],
                  subject="回复：" + "很长的主题" * 200_000, text="正文。\n", html="<p>正文。</p>",
                  thread=Thread(message_id="<ours@hq.example.cn>",
                                references=tuple(f"<ref{i}@gd.example.cn>" for i in range(50_000))))
    mail = compose(draft, BOT, WHEN)
    assert len(header_block(mail.raw)) < 2 * HEADER_LIMIT  # every header at its cap at once
    msg = email.message_from_bytes(mail.raw, policy=email.policy.default)
    assert str(msg["Subject"]).startswith("回复：很长的主题") and str(msg["Subject"]).endswith("…")
    assert msg["To"].addresses[0].addr_spec == "liming@gd.example.cn"
    assert msg["Cc"].addresses[0].addr_spec == "wang@gd.example.cn"
    assert msg["In-Reply-To"] == "<ours@hq.example.cn>"
    refs = str(msg["References"]).split()
    assert refs[0] == "<ref0@gd.example.cn>" and refs[-1] == "<ours@hq.example.cn>"
    row = OutboxMail(id=1, idem_key="t:1", kind="test", message_id=mail.message_id,
                     recipients="liming@gd.example.cn,wang@gd.example.cn", subject=draft.subject[:300], raw=mail.raw,
                     created_at=WHEN, status="pending", attempts=0, next_attempt_at=WHEN)
    make_transport(sink).send(row)
    assert [m.raw for m in sink.messages] == [mail.raw]
