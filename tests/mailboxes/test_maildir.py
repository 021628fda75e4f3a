"""The Maildir mailbox: what is fetched, in which order, and where handled mail goes."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from mailbot.mailboxes.maildir import MaildirMailbox, deliver

MSG = b"From: a@b.cn\r\nSubject: x\r\nMessage-ID: <%d@b.cn>\r\n\r\n%s\r\n"


def test_fetch_oldest_first_with_delivery_time_then_move_out(tmp_path: Path) -> None:
    # Mail is handed out oldest first, stamped with its delivery time; mark_done empties the inbox.
    box = MaildirMailbox(tmp_path / "mail", max_bytes=10_000)
    t2 = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
    t1 = datetime(2026, 11, 19, 8, 0, tzinfo=timezone.utc)
    deliver(tmp_path / "mail", MSG % (2, b"second"), received_at=t2)
    deliver(tmp_path / "mail", MSG % (1, b"first"), received_at=t1)
    got = list(box.fetch_new())
    assert [g.received_at for g in got] == [t1, t2]
    assert b"first" in got[0].raw and got[0].uid_key.startswith("maildir:")
    box.mark_done(got[0].ref, "processed")
    box.mark_done(got[1].ref, "quarantine")
    assert list(box.fetch_new()) == []
    assert len(list((tmp_path / "mail/.Processed/cur").iterdir())) == 1
    assert len(list((tmp_path / "mail/.Quarantine/cur").iterdir())) == 1


def test_mark_done_twice_is_harmless(tmp_path: Path) -> None:
    # After a crash the same message may be marked done again: no error, nothing lost.
    box = MaildirMailbox(tmp_path / "mail", max_bytes=10_000)
    deliver(tmp_path / "mail", MSG % (1, b"x"))
    (m,) = box.fetch_new()
    box.mark_done(m.ref, "processed")
    box.mark_done(m.ref, "processed")
    assert len(list((tmp_path / "mail/.Processed/cur").iterdir())) == 1


def test_oversized_mail_is_not_read_whole(tmp_path: Path) -> None:
    # Over the limit only the header is read, and the mail is flagged for quarantine.
    box = MaildirMailbox(tmp_path / "mail", max_bytes=1000)
    deliver(tmp_path / "mail", MSG % (1, b"A" * 5000))
    (m,) = box.fetch_new()
    assert m.oversized and m.size > 5000 and b"AAAA" not in m.raw and b"Message-ID: <1@b.cn>" in m.raw
