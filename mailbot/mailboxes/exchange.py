"""Exchange Web Services mailbox: the backend for an HQ that runs Exchange on its own servers.

The pipeline sees the same four verbs as for Maildir and IMAP. Here they map to
EWS operations (through exchangelib, imported only when the backend is used,
because importing it costs a third of a second):

- `fetch_new()`  FindItem on the inbox (id, DateTimeReceived, Size only), oldest
  first, then one GetItem per message: MimeContent when the size is within the
  limit, otherwise only InternetMessageHeaders and the envelope fields, so a
  30 MB message is never downloaded and the sender can still be told.
- `mark_done()`  MoveItem into Inbox/Processed, Inbox/Quarantine or
  Inbox/Auto-replies (FindFolder, then CreateFolder when missing). During a
  `fetch_new` iteration the moves wait for MOVE_BATCH messages, or the end of
  the iteration, and go as one MoveItem per folder: a round trip to the server
  a message would otherwise slow a backlog down.
- `wait()`       a streaming subscription on the inbox (Subscribe, then
  GetStreamingEvents held open for whole minutes) wakes the daemon on new mail.
- First run      a baseline: the newest DateTimeReceived in the inbox is stored
  in the StateStore and nothing received until then is processed (unless
  `backfill`). An inbox item's id is stable while it stays in the inbox, so
  `ews:<address>:<ItemId>` is the dedupe key.

Authentication: NTLM or Basic with a password (what on-premises Exchange
offers), or an OAuth access token for Exchange in hybrid modern authentication.
The token is read from a callable before every operation (e.g. mailbot.oauth's
refresh-token `OAuth2Token`, which caches it), so a renewed token needs no restart. Client-credentials
(app-only) OAuth is not offered: on-premises EWS has no app-only access, and
Exchange Online is reached over IMAP (Microsoft turns EWS off there in October 2026).

Tested how: only against canned SOAP at the HTTP layer (requests-mock), built
from Microsoft's published EWS examples; see tests/mailboxes/ews_fixtures.py.
Never run against a live Exchange server. Not exercised: a real NTLM handshake,
real throttling, streams that stay open for minutes, MimeContent as Exchange
really produces it, localized folder names, impersonation.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from mailbot.mailboxes.base import FetchedMail, Folder, StateStore

log = logging.getLogger(__name__)

FOLDERS: dict[Folder, str] = {"processed": "Processed", "quarantine": "Quarantine", "auto": "Auto-replies"}
WAKE_EVENTS = ("NewMailEvent", "CreatedEvent", "MovedEvent", "CopiedEvent")
SUMMARY_FIELDS = ("subject", "author", "message_id", "headers", "datetime_received")
GONE = ("ErrorItemNotFound", "ErrorInvalidIdMalformed")  # the item left the inbox since we listed it
NO_STREAMING = ("ErrorSubscriptionDelegateAccessNotSupported", "ErrorSubscriptionAccessDenied")
MOVE_BATCH = 50  # handled items per MoveItem during a pass


@dataclass(frozen=True)
class EwsLogin:
    """How to reach one mailbox over EWS; the mailbox and the EWS transport share it."""

    service_endpoint: str      # https://mail.example.cn/EWS/Exchange.asmx — no autodiscover
    username: str              # DOMAIN\\user or user@domain for NTLM/Basic
    primary_smtp_address: str  # the mailbox the bot reads and sends as
    password: Callable[[], str] | None = field(default=None, repr=False)
    auth_type: Literal["ntlm", "basic"] = "ntlm"
    oauth_token: Callable[[], str] | None = field(default=None, repr=False)
    access: Literal["delegate", "impersonation"] = "delegate"
    version: str | None = None  # server build, e.g. "15.1.2507.6"; skips exchangelib's version probe

    def __post_init__(self) -> None:
        if (self.password is None) == (self.oauth_token is None):
            raise ValueError("EWS login needs exactly one of a password or an OAuth token")
        parts = (self.version or "15.0").split(".")
        if not 2 <= len(parts) <= 4 or not all(p.isdigit() for p in parts):
            raise ValueError(f"EWS server version must look like 15.1.2507.6, not {self.version!r}")

    @property
    def host(self) -> str:
        return urlsplit(self.service_endpoint).hostname or self.service_endpoint

    def connect(self) -> Any:
        """An exchangelib Account; no network traffic until it is used when `version` is given."""
        import exchangelib as el

        # exchangelib logs whole request headers at DEBUG, Authorization included. Unless someone set
        # its level on purpose, hold it at INFO so a DEBUG root logger never writes a credential.
        quiet = logging.getLogger("exchangelib")
        if quiet.level == logging.NOTSET:
            quiet.setLevel(logging.INFO)
        if self.oauth_token is not None:
            credentials: Any = _token_credentials(self.oauth_token)
            auth = el.OAUTH2
        else:
            assert self.password is not None
            credentials = el.Credentials(self.username, self.password())
            auth = el.NTLM if self.auth_type == "ntlm" else el.BASIC
        version = el.Version(build=el.Build(*map(int, self.version.split(".")))) if self.version else None
        # Two connections: the daemon's streaming wait holds one for a minute while the
        # calendar thread may send through the same (shared, cached) exchangelib protocol.
        config = el.Configuration(service_endpoint=self.service_endpoint, credentials=credentials, auth_type=auth,
                                  version=version, max_connections=2)
        access = el.DELEGATE if self.access == "delegate" else el.IMPERSONATION
        return el.Account(self.primary_smtp_address, config=config, autodiscover=False, access_type=access)

    def ready(self, account: Any | None) -> Any:
        """The account to use now: connected on first use, with a renewed OAuth token after that."""
        if account is None:
            return self.connect()
        self.refresh(account)
        return account

    def refresh(self, account: Any) -> None:
        """Pick up a renewed OAuth token before an operation; NTLM/Basic need nothing."""
        if self.oauth_token is None:
            return
        credentials = account.protocol.credentials  # the protocol is cached and may hold another login's object
        token = self.oauth_token()
        if (credentials.access_token or {}).get("access_token") != token:
            log.info("ews=%s OAuth access token renewed", self.host)
            credentials.access_token = _bearer(token)
            account.protocol.close()  # pooled sessions carry the old token


def _bearer(token: str) -> Any:
    from oauthlib.oauth2 import OAuth2Token

    return OAuth2Token({"access_token": token, "token_type": "Bearer"})


def _token_credentials(source: Callable[[], str]) -> Any:
    from exchangelib import OAuth2AuthorizationCodeCredentials

    class TokenCredentials(OAuth2AuthorizationCodeCredentials):  # type: ignore[misc]
        """A token obtained elsewhere; exchangelib calls refresh() when it finds it expired."""

        def refresh(self, session: Any) -> None:
            self.access_token = _bearer(source())

    return TokenCredentials(access_token=_bearer(source()))


@dataclass(frozen=True)
class _Baseline:
    after: datetime | None        # process mail received at or after this; None: everything
    skip: frozenset[str] = frozenset()  # the old items received exactly at `after`


class ExchangeMailbox:
    def __init__(self, *, login: EwsLogin, state: StateStore, max_bytes: int,
                 folders: Mapping[Folder, str] | None = None, backfill: bool = False, batch: int = 200,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.login = login
        self.address = login.primary_smtp_address
        self.name = f"ews:{self.address}"
        self.state, self.max_bytes, self.backfill, self.batch = state, max_bytes, backfill, batch
        self.folder_names: dict[Folder, str] = {**FOLDERS, **(folders or {})}
        self._sleep, self._clock = sleep, clock
        self._account: Any = None
        self._folders: dict[Folder, Any] = {}
        self._subscription: str | None = None
        self._streaming_refused = False
        self._done: dict[Folder, list[str]] | None = None  # item ids to move, by folder; None: move at once

    # --- fetch -------------------------------------------------------------------

    def fetch_new(self) -> Iterator[FetchedMail]:
        account = self._connected()
        inbox = account.inbox
        baseline = self._baseline(inbox)
        if baseline is None:
            return
        from exchangelib import EWSDateTime

        query = inbox.all() if baseline.after is None else inbox.filter(
            datetime_received__gte=EWSDateTime.from_datetime(baseline.after))
        # The whole listing comes first: the pipeline moves each message away before asking
        # for the next, which would shift the server's paging offsets under a lazy listing.
        listing = [i for i in query.order_by("datetime_received").only("size", "datetime_received")[: self.batch]
                   if not isinstance(i, Exception) and i.id not in baseline.skip]
        listing.sort(key=lambda i: (i.datetime_received, i.id))
        self._done = {}
        try:
            for n, item in enumerate(listing, 1):
                mail = self._download(account, inbox, item)
                if mail is not None:
                    yield mail
                if n % MOVE_BATCH == 0 or n == len(listing):
                    done, self._done = self._done, {}
                    self._move_all(done)
        finally:
            done, self._done = self._done, None
            try:
                self._move_all(done)  # what the pipeline finished before it stopped early
            except Exception as e:  # noqa: BLE001 - the error that stopped the pass is the one to report
                log.warning("ews=%s moving handled mail failed (%s); the next pass recognises and moves it",
                            self.address, e)

    def _baseline(self, inbox: Any) -> _Baseline | None:
        """The stored baseline; on the very first run take it and return None (nothing to process)."""
        key = f"ews:{self.address}:baseline"
        stored = self.state.get(key)
        if stored is not None:
            data = json.loads(stored)
            after = datetime.fromisoformat(data["after"]) if data["after"] else None
            return _Baseline(after, frozenset(data.get("skip", ())))
        if self.backfill:
            self.state.set(key, json.dumps({"after": None, "skip": []}))
            log.info("ews=%s no baseline and backfill on: everything in the inbox will be processed", self.address)
            return _Baseline(None)
        newest = list(inbox.all().order_by("-datetime_received").only("datetime_received")[:50])
        after = _utc(newest[0].datetime_received) if newest else None
        skip = [i.id for i in newest if _utc(i.datetime_received) == after]
        self.state.set(key, json.dumps({"after": after.isoformat() if after else None, "skip": skip}))
        log.info("ews=%s baseline taken at %s: %d message(s) in the inbox are left alone", self.address,
                 after.isoformat() if after else "(empty inbox)", inbox.total_count or 0)
        return None

    def _download(self, account: Any, inbox: Any, item: Any) -> FetchedMail | None:
        uid = f"ews:{self.address}:{item.id}"
        size = item.size or 0
        received = _utc(item.datetime_received)
        oversized = size > self.max_bytes
        if oversized:
            log.warning("msg=%s is %d bytes, over the %d limit: fetching its header only", uid, size, self.max_bytes)
        got = _fetch_one(account, inbox, item, SUMMARY_FIELDS if oversized else ("mime_content",))
        if got is not None and not oversized and not got.mime_content:
            # Exchange could not render this item as MIME; the pipeline quarantines a header-only message.
            log.warning("msg=%s has no MIME content on the server; handing on its header only", uid)
            got, oversized = _fetch_one(account, inbox, item, SUMMARY_FIELDS), False
        if got is None:
            log.info("msg=%s left the inbox before download; skipped", uid)
            return None
        raw = header_block(got, received) if got.mime_content is None else got.mime_content
        return FetchedMail(ref=item.id, uid_key=uid, raw=raw, received_at=received, size=size, oversized=oversized)

    # --- mark done -----------------------------------------------------------------

    def mark_done(self, ref: str, folder: Folder) -> None:
        if self._done is None:
            self._move_all({folder: [ref]})
        else:  # inside fetch_new: moved with the others
            self._done.setdefault(folder, []).append(ref)

    def _move_all(self, done: Mapping[Folder, list[str]]) -> None:
        """One MoveItem per folder; items already gone are fine, any other failure is raised after the rest moved."""
        if not done:
            return
        account = self._connected()
        failed: list[Exception] = []
        for folder, refs in done.items():
            target = self._folder(account, folder)
            for ref, result in zip(refs, account.bulk_move(ids=[(ref, None) for ref in refs], to_folder=target)):
                if not isinstance(result, Exception):
                    continue
                if type(result).__name__ in GONE:  # moved by an earlier pass that crashed before commit, or by a user
                    log.info("msg=ews:%s:%s already gone from the inbox", self.address, ref)
                else:
                    failed.append(result)
        if failed:
            raise failed[0]

    def _folder(self, account: Any, folder: Folder) -> Any:
        if folder not in self._folders:
            inbox, name = account.inbox, self.folder_names[folder]
            found = self._find_folder(account, inbox, name)
            if found is None:
                found = self._create_folder(account, inbox, name)
            self._folders[folder] = found
        return self._folders[folder]

    @staticmethod
    def _find_folder(account: Any, inbox: Any, name: str) -> Any:
        from exchangelib import Q
        from exchangelib.folders import SHALLOW, FolderCollection

        found = list(FolderCollection(account=account, folders=[inbox]).find_folders(q=Q(name=name), depth=SHALLOW))
        return next((f for f in found if not isinstance(f, Exception)), None)

    def _create_folder(self, account: Any, inbox: Any, name: str) -> Any:
        from exchangelib import Folder as EwsFolder
        from exchangelib.services import CreateFolder

        # CreateFolder directly: Folder.save() would first load the whole folder tree to find its parent.
        try:
            created = CreateFolder(account=account).get(
                parent_folder=inbox, folders=[EwsFolder(root=inbox.root, name=name, folder_class="IPF.Note")])
        except Exception as e:
            if type(e).__name__ != "ErrorFolderExists":
                raise
            return self._find_folder(account, inbox, name)  # another daemon made it a moment ago
        log.info("ews=%s created folder Inbox/%s", self.address, name)
        return created

    # --- wait ----------------------------------------------------------------------

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Stream inbox events for whole minutes; below a minute (or without streaming rights) just sleep.

        A shutdown (`stop`) ends a sleep at once; an open stream ends when the server closes it (≤ the poll interval).
        """
        pause = stop.wait if stop is not None else self._sleep
        if timeout < 60 or self._streaming_refused:
            pause(timeout)
            return False
        start = self._clock()
        try:
            return self._stream(int(timeout // 60))
        except Exception as e:  # noqa: BLE001 - loop edge: streaming only wakes the daemon early
            name = type(e).__name__
            if name in NO_STREAMING:
                self._streaming_refused = True
                log.warning("ews=%s refuses streaming notifications (%s); polling only", self.address, name)
            else:
                log.warning("ews=%s streaming failed (%s: %s); polling instead", self.address, name, e)
            self._forget_subscription()
            remaining = timeout - (self._clock() - start)
            if remaining > 0:
                pause(remaining)  # keep the poll interval: a dead server must not spin the daemon
            return False

    def _stream(self, minutes: int) -> bool:
        from exchangelib.services import GetStreamingEvents

        account = self._connected()
        inbox = account.inbox
        if self._subscription is None:
            self._subscription = inbox.subscribe_to_streaming(event_types=WAKE_EVENTS)
        svc = GetStreamingEvents(account=account)
        try:
            for notification in svc.call(subscription_ids=[self._subscription], connection_timeout=minutes):
                if isinstance(notification, Exception):
                    raise notification
                if any(_into_inbox(e, inbox.id) for e in notification.events):
                    return True
            return False  # the server closed the stream after `minutes`
        finally:
            svc.stop_streaming()  # leaving mid-stream must give the connection back

    def _forget_subscription(self) -> None:
        sub, self._subscription = self._subscription, None
        if sub is None or self._account is None:
            return
        try:
            self._account.inbox.unsubscribe(sub)
        except Exception as e:  # noqa: BLE001 - the server drops idle subscriptions after 30 minutes anyway
            log.debug("ews=%s unsubscribe failed: %s", self.address, e)

    # --- lifecycle and checks ---------------------------------------------------------

    def close(self) -> None:
        self._forget_subscription()
        if self._account is not None:
            self._account.protocol.close()
        self._account, self._folders = None, {}

    def check(self) -> list[tuple[str, bool, str]]:
        """What `mailbot check-config` shows: (what, ok, detail). Reads only; creates nothing."""
        try:
            account = self._connected()
            inbox = account.inbox
        except Exception as e:  # noqa: BLE001 - reported, not raised
            return [("EWS login", False, f"{self.login.username} at {self.login.host}: {type(e).__name__}: {e}")]
        out = [("EWS login", True, f"{self.login.username} at {self.login.host}, Exchange {account.version.build}"),
               ("inbox", True, f"{self.address}: {inbox.total_count} message(s)")]
        for name in self.folder_names.values():
            try:
                there = self._find_folder(account, inbox, name) is not None
                out.append((f"folder Inbox/{name}", True, "present" if there else "missing; created on first use"))
            except Exception as e:  # noqa: BLE001
                out.append((f"folder Inbox/{name}", False, f"{type(e).__name__}: {e}"))
        stored = self.state.get(f"ews:{self.address}:baseline")
        out.append(("baseline", True, f"taken: {stored}" if stored else
                    "none yet: the first pass processes everything" if self.backfill else
                    "none yet: the first pass records it and leaves older mail alone"))
        try:
            inbox.unsubscribe(inbox.subscribe_to_streaming(event_types=WAKE_EVENTS))
            out.append(("streaming notifications", True, "allowed: new mail wakes the daemon at once"))
        except Exception as e:  # noqa: BLE001
            out.append(("streaming notifications", False, f"{type(e).__name__}: {e}; the daemon polls instead"))
        return out

    def _connected(self) -> Any:
        self._account = self.login.ready(self._account)
        return self._account


def _into_inbox(event: Any, inbox_id: str) -> bool:
    """Could this event mean new mail in the inbox? Our own moves out of it are not news."""
    if getattr(event, "item_id", None) is None:  # status heartbeats and folder events
        return False
    kind = type(event).__name__
    if kind in ("NewMailEvent", "CreatedEvent"):
        return True  # the subscription covers the inbox only
    if kind in ("MovedEvent", "CopiedEvent"):
        parent = event.parent_folder_id.id if event.parent_folder_id else None
        old = event.old_parent_folder_id.id if event.old_parent_folder_id else None
        # Ids of one folder can come in two forms; when unsure, wake: a spare pass is cheap.
        return not (old == inbox_id and parent != inbox_id)
    return False


def _fetch_one(account: Any, inbox: Any, item: Any, fields: tuple[str, ...]) -> Any:
    """GetItem for one listed item with just these fields; None when it has left the inbox meanwhile."""
    got = next(iter(account.fetch(ids=[(item.id, item.changekey)], folder=inbox, only_fields=list(fields))))
    if isinstance(got, Exception):
        if type(got).__name__ in GONE:
            return None
        raise got
    return got


def _utc(value: datetime) -> datetime:
    return datetime.fromtimestamp(value.timestamp(), timezone.utc)


def header_block(item: Any, received: datetime) -> bytes:
    """The header of a message we will not download: the server's own headers, or a minimal one."""
    if item.headers:
        lines = [f"{h.name}: {_header_value(h.value or '')}\r\n" for h in item.headers if h.name]
        return "".join(lines).encode("ascii", "replace") + b"\r\n"
    from mailbot.outbox.compose import WIRE

    msg = EmailMessage(policy=WIRE)
    author = item.author
    if author is not None and author.email_address:
        try:
            msg["From"] = Address(author.name or "", addr_spec=author.email_address)
        except (ValueError, IndexError):  # an address the header registry rejects still identifies the sender
            msg["From"] = author.email_address
    msg["Subject"] = item.subject or ""
    if item.message_id:
        msg["Message-ID"] = item.message_id
    msg["Date"] = format_datetime(received)
    return msg.as_bytes(policy=WIRE)


def _header_value(value: str) -> str:
    # One physical line per header; non-ASCII (servers sometimes hand headers back decoded) as RFC 2047.
    flat = " ".join(value.split())
    return flat if flat.isascii() else Header(flat, "utf-8").encode(maxlinelen=998)
