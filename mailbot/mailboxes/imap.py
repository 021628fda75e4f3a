"""IMAP: the mailbox on a real mail server (Dovecot, Coremail, Tencent Exmail, NetEase, Microsoft 365).

How the Mailbox contract maps onto IMAP:

- **Identity.** A message is `UIDVALIDITY:UID` in the watched folder; its
  `uid_key` is ``imap:<user>@<host>/<folder>:<UIDVALIDITY>:<UID>``. UIDs only
  mean something together with UIDVALIDITY, which the server changes when it
  had to renumber the folder (index rebuilt, server migrated).
- **Baseline.** The very first connection records UIDVALIDITY, UIDNEXT and the
  time in the StateStore, and everything below that UIDNEXT is old mail that
  is never processed (unless `backfill`). When UIDVALIDITY changes the UIDs are
  worthless, so the whole folder is scanned again, but mail whose INTERNALDATE
  is before the baseline time still counts as old; what was processed already
  is recognised by the database (Message-ID, SHA-256) and just moved out.
- **Reading never changes anything.** Sizes and dates are fetched first; the
  body only with BODY.PEEK (no \\Seen), and for mail over `max_bytes` only the
  header. Handled mail is moved out of the folder (MOVE, or COPY + \\Deleted +
  EXPUNGE where MOVE is missing), so the folder holds exactly what is to do.
- **Round trips in batches.** Bodies are fetched a batch at a time (at most
  `FETCH_BATCH` messages and `FETCH_BYTES` bytes), and what `mark_done` is told
  during a `fetch_new` iteration is moved when the pipeline is through the
  batch, one MOVE per folder: a MOVE costs the server a disk sync (~3 ms on
  Dovecot), whatever the number of messages in it. Only committed mail is ever
  passed to `mark_done`, so a crash before the MOVE leaves mail that the next
  pass recognises as a duplicate and moves then. Outside an iteration
  `mark_done` moves at once.
- **Two connections.** One for fetching and moving, and one for IDLE. IDLE
  occupies a connection until DONE, and imaplib is not thread-safe, so a
  separate one lets the daemon idle in a watcher thread while a pass runs, and
  keeps `wait()` from ever disturbing the selected state the pass relies on.
  IDLE only reports changes after it starts, so `wait()` first compares the
  folder's UIDNEXT with what the last fetch saw and returns at once if mail
  slipped in between.
- **Failures are bounded.** A dead connection is replaced (a few attempts with
  exponential backoff); after that `MailboxUnavailable` says why, so the daemon
  counts failures and alarms. A refused login (or an OAuth grant that needs a
  new sign-in) is `LoginFailed` at once: retrying would not heal it, and
  repeated attempts can lock the account.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Literal, TypeVar

from imapclient import DELETED, IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

# MailboxUnavailable / LoginFailed are what the daemon counts (and alarms on); re-exported for callers.
from parsers import looks_urgent

from mailbot.mailboxes.base import FetchedMail, Folder, LoginFailed, MailboxUnavailable, StateStore
from mailbot.net.loopback import is_loopback
from mailbot.net.oauth import SignInRequired

__all__ = ["ImapMailbox", "LoginFailed", "MailboxUnavailable"]

log = logging.getLogger(__name__)

Security = Literal["tls", "starttls", "plain"]
DEFAULT_FOLDERS: dict[Folder, str] = {"processed": "Processed", "quarantine": "Quarantine",
                                      "auto": "Auto-replies"}
# A dropped connection shows up as imaplib's abort, or as a socket/TLS error.
CONNECTION_ERRORS = (OSError, IMAPClientAbortError)
# The headers that mark urgent mail (parsers.looks_urgent), fetched with the listing.
URGENCY = "BODY.PEEK[HEADER.FIELDS (SUBJECT IMPORTANCE X-PRIORITY PRIORITY X-MSMAIL-PRIORITY)]"
META_BATCH = 500  # UIDs per FETCH of sizes and dates: keeps command lines short
FETCH_BATCH = 25  # messages per FETCH of bodies, and so per MOVE
FETCH_BYTES = 8 * 1024 * 1024  # bodies held in memory at once (a single bigger message comes alone)
T = TypeVar("T")


@dataclass(frozen=True)
class Baseline:
    uidvalidity: int
    uidnext: int          # first UID of this UIDVALIDITY that counts as new
    taken_at: datetime    # when mailbot first looked; mail received earlier is old
    rescan: bool = False  # UIDVALIDITY changed since: old mail is told apart by INTERNALDATE alone

    def dumps(self) -> str:
        return json.dumps({**asdict(self), "taken_at": self.taken_at.isoformat()})

    @classmethod
    def loads(cls, text: str) -> Baseline:
        d = json.loads(text)
        return cls(int(d["uidvalidity"]), int(d["uidnext"]), datetime.fromisoformat(d["taken_at"]),
                   bool(d.get("rescan", False)))


class ImapMailbox:
    def __init__(self, *, host: str, port: int | None = None, username: str,
                 password: Callable[[], str] | None = None, oauth_token: Callable[[], str] | None = None,
                 security: Security = "tls", ssl_context: ssl.SSLContext | None = None,
                 folder: str = "INBOX", folders: dict[Folder, str] | None = None,
                 max_bytes: int = 25 * 1024 * 1024, state: StateStore, backfill: bool = False,
                 timeout: float = 30.0, idle_renew: float = 25 * 60, connect_attempts: int = 3,
                 backoff: float = 1.0) -> None:
        if security not in ("tls", "starttls", "plain"):
            raise ValueError(f"mailbox.security must be 'tls', 'starttls' or 'plain', not {security!r}")
        if security == "plain" and not is_loopback(host):
            raise ValueError(f"mailbox.security = 'plain' would send the credentials of {username} unencrypted "
                             f"to {host}; it is allowed only for a loopback host. Use 'tls' or 'starttls'.")
        if (password is None) == (oauth_token is None):
            raise ValueError(f"imap:{username}@{host}: give exactly one of a password or an OAuth2 token source")
        if not 0 < idle_renew <= 29 * 60:
            raise ValueError("idle_renew must be positive and at most 29 minutes (RFC 2177)")
        self.host, self.username, self.folder, self.security = host, username, folder, security
        self.port = port or (993 if security == "tls" else 143)
        self.name = f"imap:{username}@{host}/{folder}"
        self.folders: dict[Folder, str] = {**DEFAULT_FOLDERS, **(folders or {})}
        self.max_bytes, self.state, self.backfill = max_bytes, state, backfill
        self.timeout, self.idle_renew = timeout, idle_renew
        self.connect_attempts, self.backoff = max(1, connect_attempts), backoff
        self._password, self._oauth_token = password, oauth_token
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._conn: IMAPClient | None = None        # fetch and move
        self._watch: IMAPClient | None = None       # IDLE
        self._uidvalidity = 0                       # of the folder as last selected on _conn
        self._uidnext = 0
        self._seen: tuple[int, int] | None = None   # (UIDVALIDITY, UIDNEXT) at the last fetch_new
        self._done: list[tuple[int, int, Folder]] | None = None  # (UIDVALIDITY, UID, folder) to move; None: at once

    # --- the Mailbox protocol -------------------------------------------------------

    def fetch_new(self) -> Iterator[FetchedMail]:
        uidvalidity, uidnext = self._run(self._select)
        base = self._baseline(uidvalidity, uidnext)
        todo = self._run(partial(self._list_new, base=base))
        self._seen = (uidvalidity, uidnext)
        self._done = []
        high = max([uidnext - 1, *(uid for _, uid, _ in todo)])
        try:
            for batch in _batches(todo, self.max_bytes):
                mails = self._run(partial(self._download, uidvalidity=uidvalidity, batch=batch))
                if self._uidvalidity != uidvalidity:
                    log.warning("%s: UIDVALIDITY changed during the pass; the rest waits for the next one", self.name)
                    return
                yield from mails
                done, self._done = self._done, []
                self._move_all(done)
                # Urgent mail that arrived while this pass works through a backlog is handed out now, not after
                # it; anything else that arrived waits for the next pass.
                urgent, high = self._run(partial(self._urgent_arrivals, above=high))
                if urgent:
                    yield from self._run(partial(self._download, uidvalidity=uidvalidity, batch=urgent))
                    done, self._done = self._done, []
                    self._move_all(done)
        finally:
            done, self._done = self._done, None
            try:
                self._move_all(done)  # what the pipeline finished before it stopped early
            except MailboxUnavailable as e:
                log.warning("%s: %s; those messages are recognised and moved in the next pass", self.name, e)

    def mark_done(self, ref: str, folder: Folder) -> None:
        uidvalidity, uid = (int(x) for x in ref.split(":"))
        if self._done is None:
            self._move_all([(uidvalidity, uid, folder)])
        else:  # inside fetch_new: moved with the rest of its batch
            self._done.append((uidvalidity, uid, folder))

    def _move_all(self, done: list[tuple[int, int, Folder]]) -> None:
        """Move handled mail out of the folder: one command per target folder."""
        if not done:
            return

        def move(conn: IMAPClient) -> None:
            by_folder: dict[str, list[int]] = {}
            for uidvalidity, uid, folder in done:
                if uidvalidity != self._uidvalidity:
                    log.warning("%s: not moving %d:%d: UIDVALIDITY is now %d; it will be fetched again and "
                                "recognised as a duplicate", self.name, uidvalidity, uid, self._uidvalidity)
                    continue
                by_folder.setdefault(self.folders[folder], []).append(uid)
            for target, uids in by_folder.items():
                try:
                    self._move(conn, uids, target)
                except IMAPClientAbortError:
                    raise
                except IMAPClientError as e:
                    if "TRYCREATE" not in str(e):
                        raise MailboxUnavailable(f"{self.name}: moving UIDs {uids} to {target} failed: "
                                                 f"{_text(e)}") from None
                    self._create_folders(conn)  # deleted behind our back since we connected
                    self._move(conn, uids, target)
                log.debug("%s: UIDs %s moved to %s", self.name, uids, target)

        self._run(move)

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """IDLE until the server reports new mail (True) or `timeout` passes (False).

        A connection that drops while idling returns False at once, so the next
        fetch reconnects and picks up whatever came in meanwhile. A server that
        cannot be reached is waited out instead, so the poll interval paces retries.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        try:
            conn, arrived = self._watching()
        except (*CONNECTION_ERRORS, MailboxUnavailable, IMAPClientError) as e:
            log.info("%s: cannot watch for new mail (%s); polling only", self.name, _text(e))
            conn, arrived = None, False
        if arrived:
            return True
        stop = stop or threading.Event()
        if conn is None:  # unreachable, or no IDLE on this server: sleep like a poll
            stop.wait(max(0.0, deadline - time.monotonic()))
            return False
        try:
            conn.idle()
            started, woken = time.monotonic(), False
            # Short checks inside one IDLE, so a shutdown request is seen within a second.
            while not woken and not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                chunk, t0 = min(left, 1.0), time.monotonic()
                responses = conn.idle_check(timeout=chunk)
                woken = any(_announces_mail(r) for r in responses)
                if not responses and time.monotonic() - t0 < chunk / 2:
                    break  # woke early with nothing to read: the server closed the connection (idle_done tells)
                if not woken and time.monotonic() - started >= self.idle_renew:
                    # RFC 2177: servers may drop a client idle for 30 minutes; re-issue before.
                    woken = any(_announces_mail(r) for r in conn.idle_done()[1])
                    conn.idle()
                    started = time.monotonic()
            return any(_announces_mail(r) for r in conn.idle_done()[1]) or woken
        except (*CONNECTION_ERRORS, IMAPClientError) as e:
            log.info("%s: IDLE connection lost (%s)", self.name, _text(e))
            self._drop_watch()
        return False

    def close(self) -> None:
        for conn in (self._conn, self._watch):
            if conn is not None:
                _logout(conn)
        self._conn = self._watch = None

    def check(self) -> list[tuple[str, bool, str]]:
        """Log in and look — folder, IDLE, MOVE — without changing anything (`mailbot check-config`)."""
        try:
            conn = self._open()
        except (*CONNECTION_ERRORS, IMAPClientError, MailboxUnavailable) as e:
            return [("login", False, _text(e) if isinstance(e, MailboxUnavailable)
                     else f"{self.name}: cannot connect to {self.host}:{self.port}: {_text(e)}")]
        try:
            rows = [("login", True, f"logged in to {self.host}:{self.port} ({self.security}) as {self.username}")]
            if conn.folder_exists(self.folder):
                st = conn.folder_status(self.folder, ["MESSAGES", "UIDVALIDITY"])
                rows.append((f"folder {self.folder}", True,
                             f"{st[b'MESSAGES']} messages, UIDVALIDITY {st[b'UIDVALIDITY']}"))
            else:
                rows.append((f"folder {self.folder}", False, "does not exist"))
            missing = [f for f in self.folders.values() if not conn.folder_exists(f)]
            rows.append(("done folders", True, f"missing, created on the first run: {', '.join(missing)}"
                         if missing else "all exist: " + ", ".join(self.folders.values())))
            rows.append(("IDLE", conn.has_capability("IDLE"), "new mail is pushed" if conn.has_capability("IDLE")
                         else "not offered: new mail is seen at the next poll only"))
            rows.append(("MOVE", conn.has_capability("MOVE"), "handled mail is moved atomically"
                         if conn.has_capability("MOVE") else "not offered: COPY + \\Deleted + EXPUNGE instead"))
            return rows
        except (*CONNECTION_ERRORS, IMAPClientError) as e:
            return [("login", False, f"{self.name}: connection failed during the check: {_text(e)}")]
        finally:
            _logout(conn)

    # --- fetching ---------------------------------------------------------------------

    def _select(self, conn: IMAPClient) -> tuple[int, int]:
        try:
            info = conn.select_folder(self.folder)
        except IMAPClientAbortError:
            raise
        except IMAPClientError as e:
            raise MailboxUnavailable(f"{self.name}: cannot open folder {self.folder!r}: {_text(e)}") from None
        self._uidvalidity = int(info[b"UIDVALIDITY"])
        # UIDNEXT is optional in old servers' SELECT answer; then ask for it.
        self._uidnext = int(info.get(b"UIDNEXT") or conn.folder_status(self.folder, ["UIDNEXT"])[b"UIDNEXT"])
        return self._uidvalidity, self._uidnext

    def _baseline(self, uidvalidity: int, uidnext: int) -> Baseline:
        key = f"{self.name}:baseline"
        stored = self.state.get(key)
        if stored is None:
            base = Baseline(uidvalidity, uidnext, datetime.now(timezone.utc).replace(microsecond=0))
            self.state.set(key, base.dumps())
            log.info("%s: baseline taken: UIDVALIDITY %d, mail from UID %d on is new%s", self.name, uidvalidity,
                     uidnext, " (backfill: older mail too)" if self.backfill else "")
            return base
        base = Baseline.loads(stored)
        if base.uidvalidity != uidvalidity:
            base = Baseline(uidvalidity, 1, base.taken_at, rescan=True)
            self.state.set(key, base.dumps())
            log.warning("%s: UIDVALIDITY changed to %d: scanning the folder again; mail received before %s "
                        "stays old, the rest is matched against what was already processed",
                        self.name, uidvalidity, base.taken_at.isoformat())
        return base

    def _list_new(self, conn: IMAPClient, *, base: Baseline) -> list[tuple[datetime, int, int]]:
        """(INTERNALDATE, UID, size) of the mail to hand out: urgent mail first (by the few headers that mark it,
        fetched with the listing), then oldest first — a backlog never holds up an urgent matter."""
        first = 1 if self.backfill else base.uidnext
        # `UID n:*` also matches the highest UID when n is past it, hence the filter.
        uids = sorted(u for u in conn.search(["UID", f"{first}:*", "NOT", "DELETED"]) if u >= first)
        todo = []
        for i in range(0, len(uids), META_BATCH):
            for uid, data in conn.fetch(uids[i:i + META_BATCH], ["RFC822.SIZE", "INTERNALDATE", URGENCY]).items():
                date = _utc(data[b"INTERNALDATE"])
                if base.rescan and not self.backfill and date < base.taken_at:
                    continue
                todo.append((not _marked_urgent(data), date, uid, int(data[b"RFC822.SIZE"])))
        return [(date, uid, size) for _, date, uid, size in sorted(todo)]

    def _urgent_arrivals(self, conn: IMAPClient, *, above: int) -> tuple[list[tuple[datetime, int, int]], int]:
        """(INTERNALDATE, UID, size) of urgent mail with a UID above `above`, and the highest UID seen now."""
        uids = [u for u in conn.search(["UID", f"{above + 1}:*", "NOT", "DELETED"]) if u > above]
        if not uids:
            return [], above
        found = conn.fetch(uids[:META_BATCH], ["RFC822.SIZE", "INTERNALDATE", URGENCY])
        urgent = [(_utc(data[b"INTERNALDATE"]), uid, int(data[b"RFC822.SIZE"])) for uid, data in sorted(found.items())
                  if _marked_urgent(data)]
        return urgent, max(uids[:META_BATCH])

    def _download(self, conn: IMAPClient, *, uidvalidity: int,
                  batch: list[tuple[datetime, int, int]]) -> list[FetchedMail]:
        if self._uidvalidity != uidvalidity:  # reconnected to a renumbered folder: the UIDs mean other mail
            return []
        whole = [uid for _, uid, size in batch if size <= self.max_bytes]
        heads = [uid for _, uid, size in batch if size > self.max_bytes]
        got = {**(conn.fetch(whole, ["BODY.PEEK[]"]) if whole else {}),
               **(conn.fetch(heads, ["BODY.PEEK[HEADER]"]) if heads else {})}
        mails = []
        for date, uid, size in batch:
            oversized = size > self.max_bytes
            raw = got.get(uid, {}).get(b"BODY[HEADER]" if oversized else b"BODY[]")
            if raw is None:  # moved or expunged by someone else since the listing
                continue
            mails.append(FetchedMail(ref=f"{uidvalidity}:{uid}", uid_key=f"{self.name}:{uidvalidity}:{uid}",
                                     raw=bytes(raw), received_at=date, size=size, oversized=oversized))
        return mails

    def _move(self, conn: IMAPClient, uids: list[int], target: str) -> None:
        # A UID that is already gone matches nothing, and the server answers OK: idempotent.
        if conn.has_capability("MOVE"):
            conn.move(uids, target)
            return
        conn.copy(uids, target)
        conn.add_flags(uids, [DELETED], silent=True)
        if conn.has_capability("UIDPLUS"):
            conn.uid_expunge(uids)
        else:
            conn.expunge()  # without UIDPLUS this also removes others' \Deleted mail in the folder

    # --- connections ------------------------------------------------------------------

    def _run(self, op: Callable[[IMAPClient], T]) -> T:
        """Run `op` on the main connection (folder selected); a connection found dead is replaced once."""
        for attempt in (1, 2):
            try:
                return op(self._conn or self._connect())
            except CONNECTION_ERRORS as e:
                self._drop()
                if attempt == 2:
                    raise MailboxUnavailable(f"{self.name}: connection lost: {_text(e)}") from None
                log.info("%s: connection lost (%s); reconnecting", self.name, _text(e))
            except IMAPClientError as e:
                raise MailboxUnavailable(f"{self.name}: the server refused a command: {_text(e)}") from None
        raise AssertionError("unreachable")

    def _connect(self) -> IMAPClient:
        """Log in, make the done folders, select the folder; retried with exponential backoff."""
        delay, error = self.backoff, ""
        for attempt in range(1, self.connect_attempts + 1):
            try:
                conn = self._open()
            except CONNECTION_ERRORS + (IMAPClientError,) as e:
                if isinstance(e, ssl.SSLCertVerificationError):
                    raise MailboxUnavailable(f"{self.name}: the server's certificate is not trusted: "
                                             f"{e.verify_message}") from None
                error = _text(e)
                log.warning("%s: connecting failed (attempt %d of %d): %s", self.name, attempt,
                            self.connect_attempts, error)
                if attempt < self.connect_attempts:
                    time.sleep(delay)
                    delay *= 2
                continue
            try:
                self._create_folders(conn)
                self._select(conn)
            except BaseException:
                _logout(conn)
                raise
            self._conn = conn
            log.info("%s: connected", self.name)
            return conn
        raise MailboxUnavailable(f"{self.name}: server unreachable after {self.connect_attempts} attempts: {error}")

    def _open(self) -> IMAPClient:
        """One logged-in connection, encrypted as configured; raises LoginFailed when refused."""
        implicit = self.security == "tls"
        conn = IMAPClient(self.host, self.port, ssl=implicit, ssl_context=self._ssl_context if implicit else None,
                          timeout=self.timeout)
        try:
            if self.security == "starttls":
                if not conn.has_capability("STARTTLS"):
                    raise MailboxUnavailable(f"{self.name}: the server does not offer STARTTLS; refusing to "
                                             "send credentials in clear (mailbox.security)")
                conn.starttls(self._ssl_context)
            self._login(conn)
        except BaseException:
            _logout(conn)
            raise
        conn.normalise_times = False  # keep INTERNALDATE's own offset; we convert to UTC
        return conn

    def _login(self, conn: IMAPClient) -> None:
        if self._oauth_token is not None:
            secret = _obtain(self._oauth_token, f"{self.name}: cannot obtain an OAuth2 access token")
            login = conn.oauth2_login
        else:
            assert self._password is not None
            secret = _obtain(self._password, f"{self.name}: cannot obtain the password")
            login = conn.login
        try:
            login(self.username, secret)
        except LoginError as e:
            # A token refused before its expiry (revoked, wrong scope) must not be offered again.
            invalidate = getattr(self._oauth_token, "invalidate", None)
            if callable(invalidate):
                invalidate()
            reason = _text(e).replace(secret, "***") if secret else _text(e)
            raise LoginFailed(f"{self.name}: the server refused the login of {self.username}: {reason}") from None

    def _create_folders(self, conn: IMAPClient) -> None:
        for name in self.folders.values():
            if conn.folder_exists(name):
                continue
            try:
                conn.create_folder(name)
                conn.subscribe_folder(name)
                log.info("%s: created folder %s", self.name, name)
            except IMAPClientAbortError:
                raise
            except IMAPClientError as e:
                if not conn.folder_exists(name):  # else another client just created it
                    raise MailboxUnavailable(f"{self.name}: cannot create folder {name!r}: {_text(e)}") from None

    def _watching(self) -> tuple[IMAPClient | None, bool]:
        """The IDLE connection with the folder examined (read-only; None if the server has no IDLE),
        and whether mail arrived since the last fetch — IDLE would never announce that mail."""
        for _ in (1, 2):
            fresh = self._watch is None
            conn = self._watch = self._watch or self._open()
            if not conn.has_capability("IDLE"):
                return None, False
            try:
                info = conn.select_folder(self.folder, readonly=True)
                break
            except CONNECTION_ERRORS:
                self._drop_watch()
                if fresh:
                    raise  # else it was a stale connection: one fresh try
        now = (int(info[b"UIDVALIDITY"]), int(info.get(b"UIDNEXT", 0)))
        return conn, self._seen is not None and now[1] > 0 and now != self._seen

    def _drop(self) -> None:
        if self._conn is not None:
            _logout(self._conn)
        self._conn = None

    def _drop_watch(self) -> None:
        if self._watch is not None:
            _logout(self._watch)
        self._watch = None


def _marked_urgent(data: dict[bytes, object]) -> bool:
    """Whether a FETCH response's URGENCY header fields mark the mail urgent."""
    head = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER.FIELDS")), b"")
    return looks_urgent(bytes(head) if isinstance(head, (bytes, bytearray)) else b"")


def _batches(todo: list[tuple[datetime, int, int]], max_bytes: int) -> Iterator[list[tuple[datetime, int, int]]]:
    """The listing cut into FETCH batches, in order; mail over max_bytes counts as its header only."""
    batch: list[tuple[datetime, int, int]] = []
    held = 0
    for item in todo:
        size = item[2] if item[2] <= max_bytes else 0
        if batch and (len(batch) == FETCH_BATCH or held + size > FETCH_BYTES):
            yield batch
            batch, held = [], 0
        batch.append(item)
        held += size
    if batch:
        yield batch


def _announces_mail(response: object) -> bool:
    # (3, b'EXISTS') or (1, b'RECENT'); EXPUNGE and FETCH (flag changes) are not new mail.
    if not isinstance(response, tuple) or len(response) < 2:
        return False
    n, what = response[0], response[1]
    return what == b"EXISTS" or (what == b"RECENT" and isinstance(n, int) and n > 0)


def _obtain(source: Callable[[], str], what: str) -> str:
    try:
        return source()
    except SignInRequired as e:  # the refresh token expired or was revoked: a login failure, not an outage
        raise LoginFailed(f"{what}: {e}") from None
    except Exception as e:  # noqa: BLE001 - any failure means no login; the message says which
        raise MailboxUnavailable(f"{what}: {e}") from None


def _logout(conn: IMAPClient) -> None:
    try:
        conn.logout()
    except Exception:  # noqa: BLE001 - the connection may already be dead; closing it is all we want
        try:
            conn.shutdown()
        except Exception:  # noqa: BLE001
            pass


def _utc(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _text(e: BaseException) -> str:
    """An exception as one readable line (imaplib hands server text over as bytes reprs)."""
    s = str(e)
    if s.startswith(("b'", 'b"')) and s.endswith(s[1]):
        s = s[2:-1]
    return s or type(e).__name__
