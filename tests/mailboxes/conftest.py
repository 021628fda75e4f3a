"""Fixtures for the mailbox backends: one real Dovecot per session, a fresh account per test.

Dovecot is skipped with the reason where it is not installed — except in CI,
where that is a failure, because CI must exercise the real IMAP path. Every
test gets an account nobody used before, so its folders, UIDVALIDITY and UIDs
start from scratch without restarting the server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from servers.dovecot import Account, Dovecot, OAuthProvider, binary


def require_dovecot() -> None:
    if binary() is None:
        if os.environ.get("CI"):
            pytest.fail("the dovecot binary is required in CI (apt-get install dovecot-imapd dovecot-lmtpd)")
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    require_dovecot()
    server = Dovecot()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def account(dovecot: Dovecot) -> Account:
    if not dovecot.running:  # a test that stopped the server and failed before starting it again
        dovecot.start(dovecot.dir, dovecot.ports)
    return dovecot.new_user()


@pytest.fixture
def oauth_dovecot() -> Iterator[tuple[Dovecot, OAuthProvider]]:
    """A Dovecot of its own that also takes XOAUTH2, checking tokens with a fake identity provider."""
    require_dovecot()
    provider = OAuthProvider()
    server = Dovecot(oauth2_introspection_url=f"{provider.url}/introspect")
    try:
        server.start()
        yield server, provider
    finally:
        server.cleanup()
        provider.close()
