"""Fixtures for the mailbox backends: one real Dovecot per session, a fresh account per test.

Dovecot is skipped with the reason where it is not installed — except in CI,
where that is a failure, because CI must exercise the real IMAP path. Every
test gets an account nobody used before, so its folders, UIDVALIDITY and UIDs
start from scratch without restarting the server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.dovecot import Dovecot, OAuthProvider, require_dovecot


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
