"""The IMAP mailbox against a real Dovecot: baseline, fetch, move, UIDVALIDITY, reconnect, IDLE, TLS, check."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from mailbot.mailboxes import imap
from mailbot.mailboxes.base import Folder
from mailbot.mailboxes.imap import ImapMailbox, LoginFailed, MailboxUnavailable
from mailbot.net.oauth import OAuth2Token
from tests.servers.dovecot import Account, Dovecot, OAuthProvider

MakeBox = Callable[..., ImapMailbox]


class DictState(dict[str, str]):
    """The StateStore as a plain dict: what a backend remembers across restarts, inspectable by tests."""

    def set(self, key: str, value: str) -> None:
        self[key] = value


@pytest.fixture
def state() -> DictState:
    return DictState()


@pytest.fixture
def make_box(dovecot: Dovecot, account: Account, state: DictState) -> Iterator[MakeBox]:
    """Build an ImapMailbox on the test's account over implicit TLS; keyword arguments override."""
    boxes: list[ImapMailbox] = []

    def make(**overrides: Any) -> ImapMailbox:
        assert dovecot.ports is not None
        params: dict[str, Any] = {
            "host": dovecot.host, "port": dovecot.ports.imaps, "username": account.user,
            "password": lambda: account.password, "security": "tls", "ssl_context": dovecot.ssl_context(),
            "state": state, "max_bytes": 100_000, "timeout": 10.0, "backoff": 0.05,
        }
        params.update(overrides)
        box = ImapMailbox(**params)
        boxes.append(box)
        return box

    yield make
    for box in boxes:
        box.close()


def msg(n: int, body: bytes = b"hello") -> bytes:
    return (b"From: unit%d@sub.example.cn\r\nTo: hq@example.test\r\nSubject: report %d\r\n"
            b"Message-ID: <%d@sub.example.cn>\r\n\r\n%s\r\n" % (n, n, n, body))


def days_ago(n: int) -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=n)


def uids_in(dovecot: Dovecot, account: Account, folder: str) -> list[int]:
    with dovecot.client(account.user) as c:
        c.select_folder(folder, readonly=True)
        return list(c.search("ALL"))


def test_first_connection_takes_a_baseline_and_skips_old_mail(dovecot: Dovecot, account: Account,
                                                             make_box: MakeBox, state: DictState) -> None:
    # Mail already in the inbox when mailbot first looks is old; what arrives afterwards is new.
    dovecot.append(account.user, msg(1), date=days_ago(3))
    box = make_box()
    assert list(box.fetch_new()) == []
    assert f"{box.name}:baseline" in state
    dovecot.append(account.user, msg(2))
    (new,) = box.fetch_new()
    assert b"report 2" in new.raw
    assert uids_in(dovecot, account, "INBOX") == [1, 2]  # old mail is left alone, not moved


def test_backfill_hands_out_old_mail_too(dovecot: Dovecot, account: Account, make_box: MakeBox) -> None:
    # With --backfill the mail that predates the first connection is processed as well, oldest first.
    dovecot.append(account.user, msg(2), date=days_ago(1))
    dovecot.append(account.user, msg(1), date=days_ago(2))
    got = list(make_box(backfill=True).fetch_new())
    assert [b"report 1" in g.raw for g in got] == [True, False]


def test_urgent_mail_is_handed_out_ahead_of_older_mail(dovecot: Dovecot, account: Account,
                                                      make_box: MakeBox) -> None:
    # Three older reports, then mail marked urgent by its subject and by Importance: the urgent ones come first.
    box = make_box()
    list(box.fetch_new())
    for n in range(3):
        dovecot.append(account.user, msg(n), date=days_ago(0) - timedelta(minutes=30 - n))
    dovecot.append(account.user, msg(7).replace(b"Subject: ", "Subject: 【紧急】".encode() + b"", 1))
    dovecot.append(account.user, msg(8).replace(b"\r\n\r\n", b"\r\nImportance: high\r\n\r\n", 1))
    got = [g.raw for g in box.fetch_new()]
    assert [next(n for n in range(10) if f"report {n}".encode() in raw) for raw in got] == [7, 8, 0, 1, 2]


def test_urgent_mail_arriving_during_a_backlog_is_handed_out_after_the_current_batch(
        dovecot: Dovecot, account: Account, make_box: MakeBox, monkeypatch: pytest.MonkeyPatch) -> None:
    # A pass works through nine reports in batches of three; an urgent mail appended while the first batch is being
    # handled comes right after that batch, not after the backlog; other newcomers wait for the next pass.
    monkeypatch.setattr(imap, "FETCH_BATCH", 3)
    box = make_box()
    list(box.fetch_new())
    for n in range(1, 10):
        dovecot.append(account.user, msg(n))
    order = []
    for i, mail in enumerate(box.fetch_new()):
        order.append(next(n for n in range(30) if f"Subject: report {n}\r\n".encode() in mail.raw))
        box.mark_done(mail.ref, "processed")
        if i == 0:
            dovecot.append(account.user, msg(20))
            dovecot.append(account.user, msg(21).replace(b"\r\n\r\n", b"\r\nX-Priority: 1\r\n\r\n", 1))
    assert order == [1, 2, 3, 21, 4, 5, 6, 7, 8, 9]
    (late,) = box.fetch_new()
    assert b"report 20" in late.raw


def test_fetched_mail_carries_identity_date_and_size(dovecot: Dovecot, account: Account, make_box: MakeBox) -> None:
    # uid_key, ref and received_at come from UIDVALIDITY, UID and INTERNALDATE; a second fetch gives the same key.
    box = make_box()
    list(box.fetch_new())
    when = days_ago(0) - timedelta(minutes=5)
    uid = dovecot.append(account.user, msg(1), date=when)
    with dovecot.client(account.user) as c:
        uidvalidity = c.select_folder("INBOX")[b"UIDVALIDITY"]
    (first,) = box.fetch_new()
    (again,) = box.fetch_new()
    assert first.uid_key == again.uid_key == f"imap:{account.user}@127.0.0.1/INBOX:{uidvalidity}:{uid}"
    assert first.ref == f"{uidvalidity}:{uid}"
    assert first.received_at == when and first.received_at.tzinfo is not None
    assert first.raw == msg(1) and first.size == len(msg(1)) and not first.oversized


def test_fetch_never_sets_seen(dovecot: Dovecot, account: Account, make_box: MakeBox) -> None:
    # Reading a message leaves it unread for the people who share the mailbox.
    box = make_box()
    list(box.fetch_new())
    uid = dovecot.append(account.user, msg(1))
    assert len(list(box.fetch_new())) == 1
    with dovecot.client(account.user) as c:
        c.select_folder("INBOX", readonly=True)
        assert b"\\Seen" not in c.get_flags([uid])[uid]


def test_oversized_mail_yields_the_header_only(dovecot: Dovecot, account: Account, make_box: MakeBox) -> None:
    # Over max_bytes the body is not downloaded; the header comes back flagged for quarantine.
    box = make_box(max_bytes=1000)
    list(box.fetch_new())
    dovecot.append(account.user, msg(1, b"A" * 5000))
    (m,) = box.fetch_new()
    assert m.oversized and m.size > 5000
    assert b"Message-ID: <1@sub.example.cn>" in m.raw and b"AAAA" not in m.raw


def test_mark_done_moves_into_folders_it_creates(dovecot: Dovecot, account: Account, make_box: MakeBox) -> None:
    # Handled mail leaves the inbox for Processed / Quarantine / Auto-replies, which are created when missing.
    box = make_box()
    list(box.fetch_new())
    for n in (1, 2, 3):
        dovecot.append(account.user, msg(n))
    got = list(box.fetch_new())
    outcomes: tuple[Folder, ...] = ("processed", "quarantine", "auto")
    for mail, outcome in zip(got, outcomes, strict=True):
        box.mark_done(mail.ref, outcome)
    assert list(box.fetch_new()) == []
    assert uids_in(dovecot, account, "INBOX") == []
    for name, n in (("Processed", 1), ("Quarantine", 2), ("Auto-replies", 3)):
        with dovecot.client(account.user) as c:
            c.select_folder(name, readonly=True)
            (uid,) = c.search("ALL")
            assert f"Message-ID: <{n}@".encode() in c.fetch([uid], ["BODY.PEEK[HEADER]"])[uid][b"BODY[HEADER]"]


def test_done_folder_deleted_while_connected_is_made_again(dovecot: Dovecot, account: Account,
                                                           make_box: MakeBox) -> None:
    # Someone deletes Processed in their mail client while the daemon is connected: the MOVE is refused with
    # TRYCREATE, the folder is made again, and the batch lands in it.
    box = make_box()
    list(box.fetch_new())
    with dovecot.client(account.user) as c:
        c.delete_folder("Processed")
    for n in (1, 2):
        dovecot.append(account.user, msg(n))
    for mail in box.fetch_new():
        box.mark_done(mail.ref, "processed")
    assert uids_in(dovecot, account, "INBOX") == []
    assert len(uids_in(dovecot, account, "Processed")) == 2


def test_mark_done_twice_is_harmless(dovecot: Dovecot, account: Account, make_box: MakeBox) -> None:
    # After a crash the same message may be marked done again: no error, one copy.
    box = make_box()
    list(box.fetch_new())
    dovecot.append(account.user, msg(1))
    (m,) = box.fetch_new()
    box.mark_done(m.ref, "processed")
    box.mark_done(m.ref, "processed")
    assert len(uids_in(dovecot, account, "Processed")) == 1


def test_mark_done_without_move_copies_flags_and_expunges(dovecot: Dovecot, account: Account, make_box: MakeBox,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # A server without MOVE gets COPY + \Deleted + UID EXPUNGE, with the same result.
    real = IMAPClient.has_capability
    monkeypatch.setattr(IMAPClient, "has_capability",
                        lambda self, cap: cap.upper() != "MOVE" and real(self, cap))
    box = make_box()
    list(box.fetch_new())
    dovecot.append(account.user, msg(1))
    dovecot.append(account.user, msg(2))
    first, _second = box.fetch_new()
    box.mark_done(first.ref, "quarantine")
    assert uids_in(dovecot, account, "INBOX") == [2]
    assert len(uids_in(dovecot, account, "Quarantine")) == 1


def test_a_pass_fetches_and_moves_in_batches(dovecot: Dovecot, account: Account, make_box: MakeBox,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Sixty messages, some oversized, marked done as the pipeline goes: every one handed out once, in order, whole
    # (or header only), and all moved into the right folders by the end — with one MOVE per folder and batch, since
    # each MOVE costs the server a disk sync.
    moves: list[tuple[list[int], str]] = []
    real_move = IMAPClient.move

    def counted_move(self: IMAPClient, uids: list[int], folder: str) -> Any:
        moves.append((list(uids), folder))
        return real_move(self, uids, folder)

    monkeypatch.setattr(IMAPClient, "move", counted_move)
    box = make_box(max_bytes=2000)
    list(box.fetch_new())
    with dovecot.client(account.user) as c:
        for n in range(1, 61):
            c.append("INBOX", msg(n, b"B" * (3000 if n % 20 == 0 else 10)))
    outcomes: tuple[Folder, ...] = ("processed", "quarantine", "auto")
    seen = []
    for i, mail in enumerate(box.fetch_new()):
        seen.append((f"Subject: report {i + 1}\r\n".encode() in mail.raw, mail.oversized, b"BBB" in mail.raw))
        box.mark_done(mail.ref, outcomes[i % 3])
    assert seen == [(True, (i + 1) % 20 == 0, (i + 1) % 20 != 0) for i in range(60)]
    assert uids_in(dovecot, account, "INBOX") == []
    assert [len(uids_in(dovecot, account, f)) for f in ("Processed", "Quarantine", "Auto-replies")] == [20, 20, 20]
    assert sorted(u for uids, _ in moves for u in uids) == list(range(1, 61))
    assert len(moves) == 3 * 3  # three batches of at most 25, three folders each


def test_mail_finished_before_the_pipeline_stops_is_still_moved(dovecot: Dovecot, account: Account,
                                                               make_box: MakeBox) -> None:
    # The pipeline fails on the fourth message: the three it finished leave the inbox, the rest stay for next time.
    box = make_box()
    list(box.fetch_new())
    for n in range(1, 8):
        dovecot.append(account.user, msg(n))
    with pytest.raises(RuntimeError, match="database gone"):
        for i, mail in enumerate(box.fetch_new()):
            if i == 3:
                raise RuntimeError("database gone")
            box.mark_done(mail.ref, "processed")
    assert uids_in(dovecot, account, "Processed") == [1, 2, 3]
    assert uids_in(dovecot, account, "INBOX") == [4, 5, 6, 7]
    assert len(list(box.fetch_new())) == 4


def test_batches_keep_order_and_bound_memory() -> None:
    # Bodies are fetched at most FETCH_BATCH at a time and FETCH_BYTES in all, except one bigger message alone;
    # mail over the size limit counts as the header that is all that is fetched of it.
    at = datetime(2026, 11, 20, tzinfo=timezone.utc)
    mb = 1024 * 1024
    sizes = [3 * mb, 3 * mb, 3 * mb, 20 * mb, 100, 90 * mb] + [1000] * 30
    got = [[uid for _, uid, _ in b] for b in imap._batches([(at, i, n) for i, n in enumerate(sizes)], 25 * mb)]
    assert got == [[0, 1], [2], [3], [4, 5] + list(range(6, 29)), list(range(29, 36))]
    assert list(imap._batches([], 25 * mb)) == []


def test_uidvalidity_change_rescans_without_old_mail(dovecot: Dovecot, account: Account, make_box: MakeBox,
                                                     state: DictState) -> None:
    # The server renumbers the folder: everything is looked at again except mail older than the baseline.
    dovecot.append(account.user, msg(1), date=days_ago(5))
    box = make_box()
    assert list(box.fetch_new()) == []
    dovecot.append(account.user, msg(2))
    (before,) = box.fetch_new()
    dovecot.set_uidvalidity(account.user, "INBOX", 4242)
    (after,) = box.fetch_new()
    assert b"report 2" in after.raw and after.uid_key.endswith(":4242:2") and after.uid_key != before.uid_key
    assert '"rescan": true' in state[f"{box.name}:baseline"]
    box.mark_done(before.ref, "processed")  # a ref from the old numbering: ignored, not misapplied
    assert uids_in(dovecot, account, "INBOX") == [1, 2]
    box.mark_done(after.ref, "processed")
    assert uids_in(dovecot, account, "INBOX") == [1]
    dovecot.append(account.user, msg(3))
    assert [b"report 3" in m.raw for m in box.fetch_new()] == [True]


def test_server_restart_between_passes_reconnects(dovecot: Dovecot, account: Account, make_box: MakeBox) -> None:
    # The server goes away and comes back; the next fetch reconnects and gets the mail that came meanwhile.
    box = make_box()
    list(box.fetch_new())
    dovecot.restart()
    dovecot.append(account.user, msg(1))
    (m,) = box.fetch_new()
    box.mark_done(m.ref, "processed")
    assert uids_in(dovecot, account, "Processed") == [1]


def test_server_down_gives_up_after_bounded_retries(dovecot: Dovecot, account: Account, make_box: MakeBox) -> None:
    # With the server down, fetch retries with backoff and then says so, so the daemon can count failures.
    box = make_box(connect_attempts=3, backoff=0.1)
    list(box.fetch_new())
    dovecot.stop()
    try:
        started = time.monotonic()
        with pytest.raises(MailboxUnavailable, match="unreachable after 3 attempts"):
            list(box.fetch_new())
        assert 0.3 <= time.monotonic() - started < 5
    finally:
        dovecot.start(dovecot.dir, dovecot.ports)
    dovecot.append(account.user, msg(1))
    assert len(list(box.fetch_new())) == 1


def test_idle_wakes_when_mail_arrives(dovecot: Dovecot, account: Account, make_box: MakeBox) -> None:
    # A message appended from another connection ends wait() early (Dovecot notifies after ~0.5 s).
    box = make_box()
    list(box.fetch_new())
    timer = threading.Timer(0.3, dovecot.append, (account.user, msg(1)))
    started = time.monotonic()
    timer.start()
    try:
        assert box.wait(10) is True
    finally:
        timer.join()
    assert time.monotonic() - started < 2.5
    assert len(list(box.fetch_new())) == 1


def test_wait_times_out_without_new_mail(dovecot: Dovecot, account: Account, make_box: MakeBox) -> None:
    # No new mail: wait() returns False after its timeout; handled mail leaving the inbox does not wake it.
    box = make_box()
    list(box.fetch_new())
    dovecot.append(account.user, msg(1))
    (m,) = box.fetch_new()
    timer = threading.Timer(0.2, box.mark_done, (m.ref, "processed"))
    started = time.monotonic()
    timer.start()
    try:
        assert box.wait(1.5) is False
    finally:
        timer.join()
    assert 1.4 <= time.monotonic() - started < 3.5
    assert uids_in(dovecot, account, "INBOX") == []


def test_wait_returns_at_once_for_mail_that_came_since_the_last_fetch(dovecot: Dovecot, account: Account,
                                                                      make_box: MakeBox) -> None:
    # Mail that arrived after the fetch but before IDLE began would never be announced: wait() sees it anyway.
    box = make_box()
    list(box.fetch_new())
    assert box.wait(0.1) is False  # the IDLE connection exists and is up to date
    dovecot.append(account.user, msg(1))
    started = time.monotonic()
    assert box.wait(10) is True
    assert time.monotonic() - started < 1.5


def test_wait_returns_when_the_server_drops_the_idle_connection(dovecot: Dovecot, account: Account,
                                                                make_box: MakeBox) -> None:
    # The server goes down during IDLE: wait() returns False promptly, and the next fetch reconnects.
    box = make_box()
    list(box.fetch_new())
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(box.wait(20)))
    waiter.start()
    time.sleep(0.3)
    started = time.monotonic()
    dovecot.stop()
    try:
        waiter.join(10)
        assert result == [False] and time.monotonic() - started < 5
    finally:
        dovecot.start(dovecot.dir, dovecot.ports)
    dovecot.append(account.user, msg(1))
    assert len(list(box.fetch_new())) == 1


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_and_starttls_both_log_in(dovecot: Dovecot, make_box: MakeBox, security: str) -> None:
    # Implicit TLS on the IMAPS port and STARTTLS on the plain port, each verifying the server's certificate.
    assert dovecot.ports is not None
    port = dovecot.ports.imaps if security == "tls" else dovecot.ports.imap
    rows = make_box(security=security, port=port).check()
    assert rows[0][:2] == ("login", True) and security in rows[0][2]


def test_untrusted_certificate_is_refused(dovecot: Dovecot, make_box: MakeBox) -> None:
    # Without the test CA the self-signed certificate is rejected, with a message that says so.
    box = make_box(ssl_context=None)
    with pytest.raises(MailboxUnavailable, match="certificate is not trusted"):
        list(box.fetch_new())


def test_plain_is_only_for_loopback(dovecot: Dovecot, make_box: MakeBox, state: DictState) -> None:
    # Unencrypted IMAP would expose the password: refused for any host but loopback.
    with pytest.raises(ValueError, match="mailbox.security"):
        ImapMailbox(host="mail.example.cn", username="hq", password=lambda: "pw", security="plain", state=state)
    assert dovecot.ports is not None
    assert make_box(security="plain", port=dovecot.ports.imap).check()[0][1] is True


def test_wrong_password_is_a_clear_error_without_the_secret(make_box: MakeBox, account: Account) -> None:
    # A refused login names the account and the server's reason, never the password, and is not retried.
    secret = "s3cret-Wrong-Pw"
    box = make_box(password=lambda: secret, connect_attempts=5, backoff=1.0)
    started = time.monotonic()
    with pytest.raises(LoginFailed) as err:
        list(box.fetch_new())
    assert time.monotonic() - started < 3  # no backoff rounds for a refused login
    text = str(err.value)
    assert account.user in text and "refused" in text and "AUTHENTICATIONFAILED" in text
    assert secret not in text and secret not in repr(err.value.__cause__) and err.value.__suppress_context__


def test_check_reports_login_folders_idle_and_move_without_changes(dovecot: Dovecot, account: Account,
                                                                   make_box: MakeBox) -> None:
    # check-config logs in and reports what it finds; it creates nothing.
    rows = {name: (ok, detail) for name, ok, detail in make_box().check()}
    assert rows["login"][0] and rows["folder INBOX"][0]
    assert rows["IDLE"][0] and rows["MOVE"][0]
    assert "Processed" in rows["done folders"][1] and "created on the first run" in rows["done folders"][1]
    with dovecot.client(account.user) as c:
        assert not c.folder_exists("Processed")
    bad = make_box(password=lambda: "nope").check()
    assert bad[0][:2] == ("login", False) and "refused" in bad[0][2] and len(bad) == 1


def test_xoauth2_login_with_refreshed_tokens(oauth_dovecot: tuple[Dovecot, OAuthProvider], tmp_path: Path,
                                            state: DictState) -> None:
    # Microsoft 365 style: a token from the refresh grant logs in by XOAUTH2; a revoked one is replaced; no grant fails.
    server, provider = oauth_dovecot
    assert server.ports is not None
    (tmp_path / "refresh").write_text("RT")
    token = OAuth2Token(token_url=f"{provider.url}/token", client_id="app", refresh_token_file=tmp_path / "refresh")
    box = ImapMailbox(host=server.host, port=server.ports.imaps, username="alice@example.test", oauth_token=token,
                      ssl_context=server.ssl_context(), state=state, timeout=10)
    try:
        assert list(box.fetch_new()) == []
        server.append("alice@example.test", msg(1))
        assert len(list(box.fetch_new())) == 1
        box.close()
        provider.revoke(provider.issued[-1])
        with pytest.raises(LoginFailed) as err:
            list(box.fetch_new())
        assert provider.issued[-1] not in str(err.value)
        assert len(list(box.fetch_new())) == 1  # the refused token was dropped; a fresh one logs in
        assert len(provider.issued) == 2
        box.close()
        provider.revoke(provider.issued[-1])
        (tmp_path / "refresh").unlink()  # the grant itself is gone: a failed login the daemon alarms on
        with pytest.raises(LoginFailed):
            list(box.fetch_new())
        with pytest.raises(LoginFailed, match="sign in once"):
            list(box.fetch_new())
    finally:
        box.close()
