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

from tests.integration.harness import Mailbot
from tests.servers.dovecot import Account
from tests.servers.smtpsink import SmtpSink


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
