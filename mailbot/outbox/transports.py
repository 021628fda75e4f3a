"""Transports: how a queued mail leaves. The embedded default writes it to a Maildir.

The Maildir transport names each file after the outbox row, so delivering the
same row twice (a crash after writing, before the row was marked sent) leaves
one file, not two.
"""

from __future__ import annotations

import os
from pathlib import Path

from mailbot.db.models import OutboxMail


class MaildirTransport:
    def __init__(self, path: Path) -> None:
        self.path = path
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(parents=True, exist_ok=True)

    def send(self, mail: OutboxMail) -> None:
        name = f"outbox-{mail.id:08d}.eml"
        if (self.path / "new" / name).exists() or (self.path / "cur" / name).exists():
            return
        tmp = self.path / "tmp" / name
        envelope = f"X-Envelope-To: {mail.recipients}\r\n".encode()
        with tmp.open("wb") as f:
            f.write(envelope + mail.raw)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, self.path / "new" / name)
