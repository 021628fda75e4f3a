"""The outbox: composed headers, one mail per idempotency key, retries, dead letters, no double delivery."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailbot.db.models import OutboxMail
from mailbot.db.session import transaction
from mailbot.outbox.compose import Draft, Identity, Thread, compose
from mailbot.outbox.queue import PermanentFailure, enqueue, send_pending
from mailbot.outbox.transports import MaildirTransport

ME = Identity("kcr@hq.example.cn", "总部资源与市场部")


def draft(**kw: object) -> Draft:
    base: dict[str, object] = {"to": ["liming@gd.example.cn"], "subject": "回复：[重点客户月报] 已收到 [KCR-202611-GD]",
                               "text": "李明同志：\n已收到。\n", "html": "<p>已收到。</p>"}
    base.update(kw)
    return Draft(**base)  # type: ignore[arg-type]


def test_composed_mail_is_automatic_threaded_and_chinese(clock) -> None:  # type: ignore[no-untyped-def]
    # A reply carries Auto-Submitted, our loop header, In-Reply-To/References and both alternatives.
    msg = compose(draft(thread=Thread("<abc@gd.example.cn>", ("<req@hq.example.cn>",))), ME, clock())
    parsed = email.message_from_bytes(msg.raw, policy=email.policy.default)
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["X-Mailbot-Loop"] == "kcr@hq.example.cn"
    assert parsed["In-Reply-To"] == "<abc@gd.example.cn>"
    assert parsed["References"] == "<req@hq.example.cn> <abc@gd.example.cn>"
    assert parsed["Subject"] == "回复：[重点客户月报] 已收到 [KCR-202611-GD]"
    assert parsed["From"].addresses[0].display_name == "总部资源与市场部"
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == "李明同志：\n已收到。\n"
    assert "已收到" in parsed.get_body(("html",)).get_content()


def test_long_chinese_subject_keeps_its_spaces_and_long_lines_travel_as_base64(clock) -> None:  # type: ignore[no-untyped-def]
    # A subject folded over several encoded-words arrives with every space; ordinary text goes as 8bit UTF-8,
    # a paragraph longer than SMTP's 998-byte line limit as base64 — both read back unchanged.
    subject = "回复：[重点客户月报] 2026年11月 北京分公司 月报已收到，版本 2（按时） 请核对下列客户 [KCR-202611-BJ-3F9A]"
    paragraph = "客户反映冬季调峰气量缺口较大，" * 30  # 450 characters, 1,350 bytes on one line
    msg = compose(draft(subject=subject, text=f"李明同志：\n{paragraph}\n", html="<p>已收到。</p>"), ME, clock())
    head = msg.raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\n =?utf-8?b?" in head  # really folded
    parsed = email.message_from_bytes(msg.raw, policy=email.policy.default)
    assert parsed["Subject"] == subject
    plain, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert plain["Content-Transfer-Encoding"] == "base64" and html["Content-Transfer-Encoding"] == "8bit"
    assert plain.get_content().replace("\r\n", "\n") == f"李明同志：\n{paragraph}\n"
    short = compose(draft(), ME, clock())
    assert email.message_from_bytes(short.raw, policy=email.policy.default).get_body(("plain",))[
        "Content-Transfer-Encoding"] == "8bit"
    assert max(len(line) for line in msg.raw.split(b"\r\n")) <= 998


def test_original_mail_is_attached_as_a_message(clock) -> None:  # type: ignore[no-untyped-def]
    # An urgent forward carries the received mail as message/rfc822, readable in any client.
    original = "From: a@b.cn\r\nSubject: =?utf-8?b?57Sn5oCl?=\r\nMessage-ID: <o@b.cn>\r\n\r\nbody\r\n".encode()
    msg = compose(draft(original=original), ME, clock())
    parsed = email.message_from_bytes(msg.raw, policy=email.policy.default)
    att = [p for p in parsed.iter_attachments()]
    assert [a.get_content_type() for a in att] == ["message/rfc822"]
    assert att[0].get_content()["Subject"] == "紧急"


def test_same_key_queues_one_mail(app, clock) -> None:  # type: ignore[no-untyped-def]
    # Deciding twice to send the same reminder leaves one outbox row.
    with transaction(app.sessions) as s:
        _, first = enqueue(s, key="reminder:2026-11:GD:T-3", kind="reminder", draft=draft(), sender=ME, now=clock())
    with transaction(app.sessions) as s:
        _, second = enqueue(s, key="reminder:2026-11:GD:T-3", kind="reminder", draft=draft(), sender=ME, now=clock())
    with app.sessions() as s:
        assert (first, second) == (True, False)
        assert s.scalar(select(func.count()).select_from(OutboxMail)) == 1


def test_key_queued_by_another_process_meanwhile_is_not_queued_twice(app, clock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # A CLI job queues the same reminder between the daemon's look-up and its INSERT: one row, the job's, and
    # the daemon's transaction carries on (ON CONFLICT DO NOTHING, no failed statement to roll back).
    if app.engine.dialect.name == "sqlite":
        pytest.skip("SQLite lets one writer at a time: the second would wait for the first, no race to lose")
    import mailbot.outbox.queue as queue

    real_compose = queue.compose

    def compose_while_another_queues(*args, **kwargs):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(queue, "compose", real_compose)
        with transaction(app.sessions) as other:
            enqueue(other, key="reminder:2026-11:GD:T-3", kind="reminder", draft=draft(subject="另一进程"), sender=ME,
                    now=clock())
        return real_compose(*args, **kwargs)

    monkeypatch.setattr(queue, "compose", compose_while_another_queues)
    with transaction(app.sessions) as s:
        row, created = enqueue(s, key="reminder:2026-11:GD:T-3", kind="reminder", draft=draft(), sender=ME,
                               now=clock())
        assert (created, row.subject) == (False, "另一进程")
        enqueue(s, key="ack:1", kind="ack", draft=draft(), sender=ME, now=clock())  # the transaction goes on
    with app.sessions() as s:
        assert sorted(s.scalars(select(OutboxMail.idem_key))) == ["ack:1", "reminder:2026-11:GD:T-3"]


class Flaky:
    """A transport that fails a set number of times, then delivers into a list."""

    def __init__(self, failures: int, exc: Exception) -> None:
        self.failures, self.exc, self.sent = failures, exc, []

    def send(self, mail: OutboxMail) -> None:
        if self.failures:
            self.failures -= 1
            raise self.exc
        self.sent.append(mail.idem_key)


def test_temporary_failure_retries_with_backoff_then_delivers_once(app, clock) -> None:  # type: ignore[no-untyped-def]
    # Two refusals, then success: delivered exactly once, not before the backoff has passed.
    with transaction(app.sessions) as s:
        enqueue(s, key="k1", kind="ack", draft=draft(), sender=ME, now=clock())
    t = Flaky(2, ConnectionRefusedError("smtp down"))
    r1 = send_pending(app.sessions, t, clock(), max_attempts=5)
    assert (r1.sent, r1.retried) == (0, 1)
    assert send_pending(app.sessions, t, clock(), max_attempts=5).retried == 0  # backoff not yet over
    clock.now += timedelta(seconds=31)
    send_pending(app.sessions, t, clock(), max_attempts=5)
    clock.now += timedelta(minutes=2)
    r3 = send_pending(app.sessions, t, clock(), max_attempts=5)
    assert r3.sent == 1 and t.sent == ["k1"]
    clock.now += timedelta(hours=1)
    assert send_pending(app.sessions, t, clock(), max_attempts=5).sent == 0
    assert t.sent == ["k1"]


@pytest.mark.parametrize("exc, attempts", [(PermanentFailure("550 no such user"), 1),
                                           (TimeoutError("timed out"), 3)])
def test_undeliverable_mail_goes_dead(app, clock, exc: Exception, attempts: int) -> None:  # type: ignore[no-untyped-def]
    # A permanent refusal is dead at once; a temporary one after max_attempts — never retried forever.
    with transaction(app.sessions) as s:
        enqueue(s, key="k2", kind="ack", draft=draft(), sender=ME, now=clock())
    t = Flaky(99, exc)
    dead: list[int] = []
    for _ in range(6):
        dead += send_pending(app.sessions, t, clock(), max_attempts=3).dead
        clock.now += timedelta(days=1)
    with app.sessions() as s:
        row = s.scalar(select(OutboxMail))
        assert (row.status, row.attempts, len(dead)) == ("dead", attempts, 1)
        assert str(exc) in row.last_error


def test_maildir_transport_writes_one_file_per_row_even_if_sent_twice(tmp_path: Path, app, clock) -> None:  # type: ignore[no-untyped-def]
    # A crash after writing but before marking sent must not leave two copies.
    with transaction(app.sessions) as s:
        row, _ = enqueue(s, key="k3", kind="ack", draft=draft(), sender=ME, now=clock())
    t = MaildirTransport(tmp_path / "out")
    t.send(row)
    t.send(row)
    files = list((tmp_path / "out" / "new").iterdir())
    assert len(files) == 1
    assert files[0].read_bytes().startswith(b"X-Envelope-To: liming@gd.example.cn\r\n")
