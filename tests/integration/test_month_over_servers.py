"""The demo's whole month with the real servers in the loop: replies APPENDed to Dovecot, mail sent to an SMTP sink.

tests/test_month.py plays the same month on the embedded default (Maildir in,
Maildir out) and counts rows; here the same outcome is counted where a user
would see it — on the SMTP server (who got which mail, once) and in the IMAP
folders (every message moved out of INBOX into the folder for its outcome).
The simulated clock is the demo's; INTERNALDATE carries each reply's simulated
arrival, so on-time and late are decided exactly as on a real server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.app import App, build_app
from mailbot.bulletin.compile import compile_bulletin
from mailbot.daemon.scheduler import run_once
from mailbot.db.migrate import upgrade
from mailbot.db.models import InboundMessage, OutboxMail
from mailbot.db.session import transaction
from mailbot.demo.month import SimClock, play_month
from mailbot.directory.lookup import sync_directory
from mailbot.outbox.smtp import envelope_recipients
from mailbot.reports.schedule import escalate, remind, send_requests
from tests.integration.harness import BOT, PW_ENV, copies, folder_counts, message_id
from tests.servers.dovecot import Account, Dovecot
from tests.servers.smtpsink import SmtpSink
from tests.support.mailflow import test_settings

PERIOD = "2026-11"


@pytest.fixture
def month_app(tmp_path: Path, db_url: str, dovecot: Dovecot, account: Account, sink: SmtpSink,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[App, SimClock]]:
    """The App the daemon would build from a config naming Dovecot and the sink, on the demo's clock."""
    assert dovecot.ports is not None
    monkeypatch.setenv(PW_ENV, account.password)
    settings = test_settings(
        tmp_path, db_url,
        mailbox={"backend": "imap", "host": dovecot.host, "port": dovecot.ports.imap, "security": "plain",
                 "username": account.user, "password": {"env": PW_ENV}, "timeout": 10},
        outbox={"transport": "smtp", "host": "127.0.0.1", "port": sink.port, "security": "plain", "timeout": 10})
    clock = SimClock()
    app = build_app(settings, clock=clock)
    upgrade(app.engine)
    with transaction(app.sessions) as s:
        sync_directory(s, app.directory)
    yield app, clock
    app.mailbox.close()
    app.transport.close()  # type: ignore[attr-defined]
    app.engine.dispose()


def play_month_over_servers(app: App, clock: SimClock, dovecot: Dovecot, user: str) -> None:
    """mailbot.demo.month.play_month, with each day's replies APPENDed to the IMAP inbox instead of dropped in a Maildir.

    The first pass of the first day takes the IMAP baseline, before any reply exists."""
    play_month(app, clock, PERIOD, lambda _: None, drop=lambda when, raw: dovecot.append(user, raw, date=when))


def reference_month(root: Path, db_url: str) -> tuple[Counter[tuple[str, tuple[str, ...]]], Counter[str]]:
    """The same month on the embedded default (mailbot.demo.play_month): (kind, envelope) of each mail, statuses."""
    clock = SimClock()
    app = build_app(test_settings(root, db_url), clock=clock)
    upgrade(app.engine)
    with transaction(app.sessions) as s:
        sync_directory(s, app.directory)
    play_month(app, clock, PERIOD, lambda _: None)
    with app.sessions() as s:
        mails = Counter((m.kind, tuple(envelope_recipients(m.recipients))) for m in s.scalars(select(OutboxMail)))
        statuses = Counter(s.scalars(select(InboundMessage.status)))
    app.engine.dispose()
    return mails, statuses


def on_the_sink(sink: SmtpSink, app: App) -> Counter[tuple[str, tuple[str, ...]]]:
    """(kind, envelope recipients) of each message that reached the SMTP server; kind from the outbox row."""
    with app.sessions() as s:
        kinds = dict(s.execute(select(OutboxMail.message_id, OutboxMail.kind)).all())
    return Counter((kinds.get(message_id(r.raw), "?"), r.rcpt_tos) for r in sink.messages)


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL: tests/test_month.py, test_crash_recovery.py
def test_whole_month_over_imap_and_smtp(month_app: tuple[App, SimClock], dovecot: Dovecot, account: Account,
                                        sink: SmtpSink, tmp_path: Path) -> None:
    # The demo month through Dovecot and an SMTP server: the same outcome as on Maildir, counted on the servers.
    app, clock = month_app
    play_month_over_servers(app, clock, dovecot, account.user)
    expected_mails, expected_statuses = reference_month(tmp_path / "maildir", f"sqlite:///{tmp_path / 'ref.sqlite3'}")

    # Every mail the embedded default writes to its outbox reached the SMTP server, to the same envelope
    # recipients, exactly once, from the bot's address — and nothing else did.
    sent = on_the_sink(sink, app)
    assert sent == expected_mails
    assert set(copies(sink).values()) == {1}
    assert {r.mail_from for r in sink.messages} == {BOT}
    # The month's fixed points (as in tests/daemon/test_month.py): six requests, nine reminders to the three
    # units that never answered in time, escalations to their leaders, four acks, one error reply, SX's urgent
    # mail forwarded to the designated HQ staff of 延长石油 (S011) and SC's about 大唐 to S007's, both
    # acknowledged, GD's two mails that are not reports handed to 刘洋, the operator's notices, one bulletin.
    kinds = Counter(k for (k, _), n in sent.items() for _ in range(n))
    assert {k: kinds[k] for k in ("request", "reminder", "escalation", "ack", "error_reply", "urgent_forward",
                                  "urgent_ack", "bulletin", "handover")} == {
        "request": 6, "reminder": 9, "escalation": 3, "ack": 4, "error_reply": 1, "urgent_forward": 2,
        "urgent_ack": 2, "bulletin": 1, "handover": 2}
    assert sorted(r[0] for (k, r) in sent if k == "escalation") == [
        "fengjj@sx.example.cn", "hewb@xj.example.cn", "yanggd@sc.example.cn"]
    assert sorted(r for (k, r) in sent if k == "urgent_forward") == [("chenjing@hq.example.cn",),
                                                                     ("wangfang@hq.example.cn",)]
    assert sorted(r for (k, r) in sent if k == "ack") == [
        ("liming@gd.example.cn",), ("sunyue@bj.example.cn",), ("wangjing@sc.example.cn",), ("wuhao@js.example.cn",)]
    assert ("operator", ("it-ops@hq.example.cn",)) in sent

    # Every inbound message left INBOX for the folder of its outcome — accepted reports, urgent matters, HQ's
    # replies, GD's mails handed over and BJ's rejected first version in Processed, the strangers in
    # Quarantine, the out-of-office and the bounce in Auto-replies — and each was decided as on the embedded
    # default.
    with app.sessions() as s:
        statuses = Counter(s.scalars(select(InboundMessage.status)))
        assert Counter(s.scalars(select(OutboxMail.status))) == Counter({"sent": sum(sent.values())})
    assert statuses == expected_statuses
    assert (statuses["answered"], statuses["handed_over"], statuses["ignored"], statuses["quarantined"]) == (1, 2, 2, 9)
    assert folder_counts(dovecot, account.user) == {
        "INBOX": 0, "Processed": statuses["processed"] + statuses["answered"] + statuses["handed_over"],
        "Quarantine": 9, "Auto-replies": 2}

    # Everything run again — the daemon's pass and each job by hand — sends nothing new to the server.
    before = len(sink.messages)
    run_once(app)
    send_requests(app, PERIOD)
    remind(app, PERIOD, "T-1")
    escalate(app, PERIOD)
    compile_bulletin(app, PERIOD)
    run_once(app)
    assert len(sink.messages) == before
    assert folder_counts(dovecot, account.user)["INBOX"] == 0
