"""Fixtures for the end-to-end tests: one Dovecot for the session, a fresh IMAP account and SMTP sink per test,
PostgreSQL schemas that are dropped afterwards, and `mailbot` processes that never outlive their test.

Dovecot is skipped with the reason where it is not installed — except in CI, where that is a failure, as for
the mailbox tests. Every test gets an account nobody used before, so folders, UIDVALIDITY and UIDs start fresh
without restarting the shared server; a test that restarts it leaves it running again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailbot.app import App, build_app
from mailbot.db.migrate import upgrade
from mailbot.db.session import transaction
from mailbot.directory.lookup import sync_directory
from tests.integration.harness import PW_ENV, Mailbot
from tests.servers.dovecot import Account, Dovecot
from tests.servers.smtpsink import SmtpSink
from tests.support.mailflow import Clock, test_settings


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """A plain SMTP sink on loopback, counting every message and connection."""
    s = SmtpSink().start()
    yield s
    s.stop()


@pytest.fixture
def spawn(tmp_path: Path, account: Account) -> Iterator[Callable[..., Mailbot]]:
    """Start `mailbot` processes for the test's account; any still running at the end are killed (by pid)."""
    started: list[Mailbot] = []

    def start(config: Path, *args: str, name: str = "mailbot", crash_after: str | None = None) -> Mailbot:
        m = Mailbot(config, list(args), account=account, log=tmp_path / f"{name}.log", crash_after=crash_after)
        started.append(m.start())
        return m

    yield start
    for m in started:
        m.kill()


@pytest.fixture
def servers_app(tmp_path: Path, db_url: str, dovecot: Dovecot, account: Account, sink: SmtpSink, clock: Clock,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """An App in this process whose mailbox is the test's Dovecot account and whose transport is the sink, on the
    test's clock (`run_once(app)` is one pass of the daemon), with the demo directory loaded."""
    assert dovecot.ports is not None
    monkeypatch.setenv(PW_ENV, account.password)
    settings = test_settings(
        tmp_path, db_url,
        mailbox={"backend": "imap", "host": dovecot.host, "port": dovecot.ports.imap, "security": "plain",
                 "username": account.user, "password": {"env": PW_ENV}, "timeout": 10},
        outbox={"transport": "smtp", "host": "127.0.0.1", "port": sink.port, "security": "plain", "timeout": 10})
    app = build_app(settings, clock=clock)
    upgrade(app.engine)
    with transaction(app.sessions) as s:
        sync_directory(s, app.directory)
    yield app
    app.mailbox.close()
    app.transport.close()  # type: ignore[attr-defined]
    app.engine.dispose()
