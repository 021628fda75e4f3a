"""The Maildir mailbox: what is fetched, in which order, and where handled mail goes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
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


def test_urgent_mail_goes_first_even_when_it_arrives_during_a_long_pass(tmp_path: Path) -> None:
    # Thirty older mails and one urgent: the urgent one first. Another urgent mail delivered while the pass is at its
    # first message comes after the next look (every 25 messages); ordinary newcomers wait for the next pass.
    box = MaildirMailbox(tmp_path / "mail", max_bytes=10_000)
    start = datetime(2026, 11, 19, 8, 0, tzinfo=timezone.utc)
    for n in range(30):
        deliver(tmp_path / "mail", MSG % (n, b"old"), received_at=start + timedelta(minutes=n))
    deliver(tmp_path / "mail", b"Importance: high\r\n" + MSG % (100, b"urgent"), received_at=start + timedelta(hours=1))
    order = []
    for mail in box.fetch_new():
        order.append(int(mail.raw.split(b"<", 1)[1].split(b"@", 1)[0]))
        box.mark_done(mail.ref, "processed")
        if len(order) == 1:
            deliver(tmp_path / "mail", MSG % (200, b"ordinary"), received_at=start + timedelta(hours=2))
            deliver(tmp_path / "mail", "Subject: 【紧急】\r\n".encode() + MSG % (300, b"urgent"),
                    received_at=start + timedelta(hours=2))
    assert order == [100, *range(24), 300, *range(24, 30)]
    assert [int(m.raw.split(b"<", 1)[1].split(b"@", 1)[0]) for m in box.fetch_new()] == [200]
