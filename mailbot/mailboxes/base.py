"""The mailbox interface the pipeline sees; every backend (Maildir, IMAP, Exchange) implements it.

The order is the contract: `fetch_new()` hands out messages, the pipeline
commits their effects, and only then `mark_done()` tells the server. A crash in
between leaves the message on the server, where the next pass finds it again
and the database's unique keys recognise it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from mailbot.errors import MailbotError

Folder = Literal["processed", "quarantine", "auto"]


class MailboxUnavailable(MailbotError):
    """The server cannot be reached or used right now; the daemon records it and tries again."""


class LoginFailed(MailboxUnavailable):
    """The server refused our credentials (wrong password, expired OAuth token): counts towards the login alarm."""


@dataclass(frozen=True)
class FetchedMail:
    ref: str                  # the backend's handle, given back to mark_done
    uid_key: str              # stable identity on the server, e.g. "imap:INBOX:UIDVALIDITY:UID"
    raw: bytes                # the whole message, or only its header when `oversized`
    received_at: datetime     # when the server received it (decides on time / late)
    size: int                 # the size the server reports
    oversized: bool = False   # over the limit: not downloaded, to be quarantined


class Mailbox(Protocol):
    name: str

    def fetch_new(self) -> Iterator[FetchedMail]:
        """Messages not yet marked done, oldest first."""
        ...

    def mark_done(self, ref: str, folder: Folder) -> None:
        """Move a handled message out of the inbox into the folder for its outcome.

        Called during a `fetch_new` iteration, a backend may hold the move back and make it with others (IMAP
        moves a batch per command), but no later than when the iteration ends or is closed.
        """
        ...

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Block until new mail may have arrived (IMAP IDLE, EWS streaming), `timeout` seconds pass, or `stop` is set.

        Returns True when woken by the server. Never trusted alone: the daemon polls anyway.
        `stop` is the daemon's shutdown signal: SIGTERM must not wait out a whole poll interval.
        """
        ...

    def close(self) -> None:
        ...


class StateStore(Protocol):
    """Small durable key/value memory a backend needs across restarts (baseline, UIDVALIDITY, tokens)."""

    def get(self, key: str) -> str | None:
        ...

    def set(self, key: str, value: str) -> None:
        ...
