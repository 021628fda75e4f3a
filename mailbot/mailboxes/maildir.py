"""Maildir: the embedded default mailbox, and the writer behind the Maildir outbox.

Any MTA, `procmail` or a plain `cp` can drop mail into `data/mail/new/`.
Handled mail is renamed (atomic on one file system) into the Maildir++
sub-folders `.Processed`, `.Quarantine` and `.Auto-replies`, so the inbox holds
exactly what is still to do. The file's modification time is its delivery time.
"""

from __future__ import annotations

import mailbox
import os
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from parsers import looks_urgent

from mailbot.mailboxes.base import FetchedMail, Folder

FOLDERS: dict[Folder, str] = {"processed": "Processed", "quarantine": "Quarantine", "auto": "Auto-replies"}
Entry = tuple[float, str, Path, int]  # mtime, file name, path, size
URGENT_CHECK_EVERY = 25  # messages handed out between two looks for urgent mail that arrived meanwhile
HEADER_LIMIT = 256 * 1024


def deliver(path: Path, raw: bytes, *, received_at: datetime | None = None) -> str:
    """Write one message into a Maildir's new/ the Maildir way (tmp, then rename); returns its file name."""
    box = _maildir(path)
    key = box.add(raw)
    if received_at is not None:
        ts = received_at.timestamp()
        os.utime(path / "new" / key, (ts, ts))
    return key


def _maildir(path: Path) -> mailbox.Maildir:
    """The Maildir at `path`, made if missing. `Maildir(create=True)` fails when another process (the daemon, an
    MTA) makes the folder at the same moment; makedirs with exist_ok does not."""
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(path, create=False)


class MaildirMailbox:
    def __init__(self, path: Path, *, max_bytes: int) -> None:
        self.path = path
        self.name = f"maildir:{path}"
        self.max_bytes = max_bytes
        _maildir(path)
        for folder in FOLDERS.values():
            for sub in ("cur", "new", "tmp"):
                (path / f".{folder}" / sub).mkdir(parents=True, exist_ok=True)

    def fetch_new(self) -> Iterator[FetchedMail]:
        entries = self._listing()
        listed = {name for _, name, _, _ in entries}
        # Urgent mail first (its headers say so), then oldest first: a backlog never holds up an urgent matter.
        queue: list[Entry] = sorted(entries, key=lambda e: (not _urgent(e[2]), e[:2]))
        handed = 0
        while queue:
            mtime, name, f, size = queue.pop(0)
            mail = self._read(mtime, name, f, size)
            if mail is None:
                continue
            yield mail
            handed += 1
            if handed % URGENT_CHECK_EVERY == 0:
                # Urgent mail that arrived during a long pass goes next; anything else waits for the next pass.
                arrived = [e for e in self._listing() if e[1] not in listed]
                listed.update(e[1] for e in arrived)
                queue[:0] = sorted(e for e in arrived if _urgent(e[2]))

    def _listing(self) -> list[Entry]:
        entries = []
        for sub in ("new", "cur"):
            for f in (self.path / sub).iterdir():
                if f.is_file() and not f.name.startswith("."):
                    try:
                        st = f.stat()
                    except FileNotFoundError:
                        continue
                    entries.append((st.st_mtime, f.name, f, st.st_size))
        return entries

    def _read(self, mtime: float, name: str, f: Path, size: int) -> FetchedMail | None:
        try:
            oversized = size > self.max_bytes
            raw = _read_header(f) if oversized else f.read_bytes()
        except FileNotFoundError:  # moved away by another process since the listing
            return None
        key = name.split(":", 1)[0]
        return FetchedMail(ref=str(f.relative_to(self.path)), uid_key=f"maildir:{key}", raw=raw,
                           received_at=datetime.fromtimestamp(mtime, timezone.utc), size=size, oversized=oversized)

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """A Maildir has no push: the daemon's poll interval is the wake-up."""
        (stop or threading.Event()).wait(timeout)
        return False

    def close(self) -> None:
        pass

    def mark_done(self, ref: str, folder: Folder) -> None:
        src = self.path / ref
        dst = self.path / f".{FOLDERS[folder]}" / "cur" / src.name
        try:
            os.rename(src, dst)
        except FileNotFoundError:
            if not dst.exists():
                raise


def _urgent(f: Path) -> bool:
    try:
        return looks_urgent(_read_header(f))
    except OSError:
        return False


def _read_header(f: Path) -> bytes:
    with f.open("rb") as fh:
        head = fh.read(HEADER_LIMIT)
    end = head.find(b"\r\n\r\n")
    end = head.find(b"\n\n") if end < 0 else end
    return head if end < 0 else head[: end + 2]
