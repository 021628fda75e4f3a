"""The EWS mailbox and transport, against canned SOAP over requests-mock.

No Exchange server was available: every answer here is built from Microsoft's
published EWS examples (see ews_fixtures.py). The tests pin down what we ask
the server (operation names, the elements that matter) and what we make of
its answers; they say nothing about how a real Exchange behaves beyond those
documents.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.header import decode_header, make_header

import pytest
import requests
import requests_mock

from . import ews_fixtures as ews
from mailbot.db.models import OutboxMail
from mailbot.mailboxes.base import Folder
from mailbot.mailboxes.exchange import EwsLogin, ExchangeMailbox
from mailbot.outbox.compose import Draft, Identity, compose
from mailbot.outbox.ews import EwsTransport
from mailbot.outbox.queue import PermanentFailure

ADDR = "kcr@hq.example.cn"
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
BASELINE_KEY = f"ews:{ADDR}:baseline"


class MemoryState(dict[str, str]):
    def set(self, key: str, value: str) -> None:
        self[key] = value


def mime(n: int, subject: str = "2026年11月 北京分公司 月报") -> bytes:
    msg = message_from_bytes(b"", policy=policy.SMTP)
    msg["From"] = "张三 <zs@bj.example.cn>"
    msg["To"] = ADDR
    msg["Subject"] = subject
    msg["Message-ID"] = f"<m{n}@bj.example.cn>"
    msg.set_content(f"第{n}封\n", charset="utf-8")
    return msg.as_bytes()


def login(**kw: object) -> EwsLogin:
    args: dict[str, object] = dict(service_endpoint=ews.URL, username="HQ\\kcrbot", primary_smtp_address=ADDR,
                                   password=lambda: "s3cret-pw", auth_type="basic", version="15.1.2507.6")
    args.update(kw)
    return EwsLogin(**args)  # type: ignore[arg-type]


class Sleeper:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(autouse=True)
def fresh_protocols() -> Iterator[None]:
    # exchangelib caches one protocol per (endpoint, credentials) for the whole process.
    from exchangelib.protocol import Protocol

    yield
    Protocol.clear_cache()


@pytest.fixture
def fake() -> Iterator[ews.FakeEws]:
    with requests_mock.Mocker() as m:
        yield ews.FakeEws().install(m)


def mailbox(state: MemoryState | None = None, **kw: object) -> ExchangeMailbox:
    args: dict[str, object] = dict(login=login(), state=state if state is not None else MemoryState(),
                                   max_bytes=10_000, sleep=Sleeper())
    args.update(kw)
    return ExchangeMailbox(**args)  # type: ignore[arg-type]


def baselined(after: datetime, skip: tuple[str, ...] = ()) -> MemoryState:
    return MemoryState({BASELINE_KEY: json.dumps({"after": after.isoformat(), "skip": list(skip)})})


def field_uris(seen: ews.Seen) -> set[str]:
    return {e.get("FieldURI") for e in seen.find(".//t:AdditionalProperties/t:FieldURI")}


def get_item_replies(*messages: str) -> list[bytes]:
    return [ews.response("GetItem", m) for m in messages]


# --- fetch ---------------------------------------------------------------------------


def test_first_run_takes_a_baseline_and_yields_nothing(fake: ews.FakeEws) -> None:
    # First connection: the newest inbox item becomes the baseline; old mail is neither downloaded nor processed.
    old = [ews.CannedMail("OLD2", T0, mime(2)), ews.CannedMail("OLD1", T0 - timedelta(hours=3), mime(1))]
    fake.queue("FindItem", ews.find_item(old))
    state = MemoryState()
    assert list(mailbox(state).fetch_new()) == []
    assert fake.ops() == ["GetFolder", "GetFolder", "FindItem"]
    (find,) = fake.requests("FindItem")
    assert find.xml.find(".//m:SortOrder/t:FieldOrder", ews.NS).get("Order") == "Descending"
    assert find.find(".//m:Restriction") == []
    assert json.loads(state[BASELINE_KEY]) == {"after": T0.isoformat(), "skip": ["OLD2"]}


def test_backfill_processes_what_is_already_there(fake: ews.FakeEws) -> None:
    # With --backfill the first run takes no baseline and hands out the old mail too.
    old = ews.CannedMail("OLD1", T0, mime(1))
    fake.queue("FindItem", ews.find_item([old]))
    fake.queue("GetItem", *get_item_replies(ews.get_item_mime(old)))
    state = MemoryState()
    (got,) = mailbox(state, backfill=True).fetch_new()
    assert got.raw == old.mime
    assert fake.requests("FindItem")[0].find(".//m:Restriction") == []
    assert json.loads(state[BASELINE_KEY]) == {"after": None, "skip": []}


def test_new_items_oldest_first_with_their_mime(fake: ews.FakeEws) -> None:
    # After the baseline, new mail comes oldest first as the server's own MIME bytes; the Chinese subject survives.
    at_baseline = ews.CannedMail("OLD9", T0, mime(9))
    first = ews.CannedMail("NEW1", T0 + timedelta(minutes=5), mime(1))
    second = ews.CannedMail("NEW2", T0 + timedelta(minutes=9), mime(2, "关于燃气供应的紧急情况"))
    # The server lists them out of order; the mailbox must still hand them out oldest first.
    fake.queue("FindItem", ews.find_item([second, at_baseline, first]))
    fake.queue("GetItem", *get_item_replies(ews.get_item_mime(first), ews.get_item_mime(second)))
    got = list(mailbox(baselined(T0, skip=("OLD9",))).fetch_new())

    assert [g.ref for g in got] == ["NEW1", "NEW2"]
    assert [g.raw for g in got] == [first.mime, second.mime]
    assert got[0].uid_key == f"ews:{ADDR}:NEW1"
    assert got[0].received_at == first.received and got[0].received_at.tzinfo is not None
    assert got[1].size == len(second.mime) and not got[1].oversized
    subject = message_from_bytes(got[1].raw, policy=policy.default)["Subject"]
    assert subject == "关于燃气供应的紧急情况"

    (find,) = fake.requests("FindItem")
    restriction = find.xml.find(".//m:Restriction/t:IsGreaterThanOrEqualTo", ews.NS)
    assert restriction.find("t:FieldURI", ews.NS).get("FieldURI") == "item:DateTimeReceived"
    assert restriction.find(".//t:Constant", ews.NS).get("Value") == "2026-11-20T01:00:00Z"
    assert find.xml.find(".//m:SortOrder/t:FieldOrder", ews.NS).get("Order") == "Ascending"
    assert field_uris(find) == {"item:DateTimeReceived", "item:Size"}  # no bodies in the listing
    gets = fake.requests("GetItem")
    assert [g.find(".//t:ItemId")[0].get("Id") for g in gets] == ["NEW1", "NEW2"]
    assert all(field_uris(g) == {"item:MimeContent"} for g in gets)


def test_oversized_item_is_not_downloaded(fake: ews.FakeEws) -> None:
    # Over max_bytes: only the headers are fetched (no MimeContent requested) and the mail is flagged oversized.
    big = ews.CannedMail("BIG", T0 + timedelta(minutes=1), b"", size=30_000_000, subject="年度报表（附件很大）",
                         sender=("李四", "ls@gz.example.cn"), message_id="<big@gz.example.cn>",
                         headers=(("From", "=?utf-8?b?5p2O5Zub?= <ls@gz.example.cn>"),
                                  ("Subject", "=?utf-8?b?5bm05bqm5oql6KGo?="),
                                  ("Message-ID", "<big@gz.example.cn>"), ("Auto-Submitted", "auto-generated")))
    small = ews.CannedMail("SMALL", T0 + timedelta(minutes=2), mime(3))
    fake.queue("FindItem", ews.find_item([big, small]))
    fake.queue("GetItem", *get_item_replies(ews.get_item_summary(big), ews.get_item_mime(small)))
    got = list(mailbox(baselined(T0)).fetch_new())

    assert [(g.ref, g.oversized, g.size) for g in got] == [("BIG", True, 30_000_000), ("SMALL", False, len(small.mime))]
    head = message_from_bytes(got[0].raw, policy=policy.default)
    assert head["Message-ID"] == "<big@gz.example.cn>" and head["Auto-Submitted"] == "auto-generated"
    assert str(head["Subject"]) == "年度报表"
    big_get, small_get = fake.requests("GetItem")
    assert big_get.find(".//t:ItemId")[0].get("Id") == "BIG"
    assert "item:MimeContent" not in field_uris(big_get)
    assert "item:InternetMessageHeaders" in field_uris(big_get)
    assert field_uris(small_get) == {"item:MimeContent"}


def test_oversized_without_server_headers_gets_a_minimal_header(fake: ews.FakeEws) -> None:
    # When the server returns no InternetMessageHeaders, a header is built from subject, sender, Message-ID and date.
    big = ews.CannedMail("BIG", T0 + timedelta(minutes=1), b"", size=50_000, subject="年度报表",
                         sender=("李四", "ls@gz.example.cn"), message_id="<big@gz.example.cn>")
    fake.queue("FindItem", ews.find_item([big]))
    fake.queue("GetItem", *get_item_replies(ews.get_item_summary(big)))
    (got,) = mailbox(baselined(T0)).fetch_new()
    head = message_from_bytes(got.raw, policy=policy.default)
    assert got.oversized
    assert head["Subject"] == "年度报表" and head["Message-ID"] == "<big@gz.example.cn>"
    assert head["From"].addresses[0].addr_spec == "ls@gz.example.cn"
    assert head["From"].addresses[0].display_name == "李四"
    assert head["Date"].datetime == big.received
    assert got.raw.isascii()


def test_item_gone_before_download_is_skipped(fake: ews.FakeEws) -> None:
    # A message moved away between FindItem and GetItem (a user, another daemon) is skipped, the rest still comes.
    gone = ews.CannedMail("GONE", T0 + timedelta(minutes=1), mime(1))
    kept = ews.CannedMail("KEPT", T0 + timedelta(minutes=2), mime(2))
    fake.queue("FindItem", ews.find_item([gone, kept]))
    fake.queue("GetItem", ews.response("GetItem", ews.item_not_found("GetItem")),
               ews.response("GetItem", ews.get_item_mime(kept)))
    assert [g.ref for g in mailbox(baselined(T0)).fetch_new()] == ["KEPT"]


# --- mark done -------------------------------------------------------------------------


def test_mark_done_creates_the_missing_folder_then_moves(fake: ews.FakeEws) -> None:
    # The first move into Quarantine finds no such folder under the inbox, creates it, and moves the item there.
    fake.queue("FindFolder", ews.find_folder())
    fake.queue("CreateFolder", ews.create_folder("QFOLDER"))
    fake.queue("MoveItem", ews.move_item("MOVED1"), ews.move_item("MOVED2"))
    box = mailbox(baselined(T0))
    box.mark_done("ITEM1", "quarantine")
    box.mark_done("ITEM2", "quarantine")

    assert fake.ops() == ["GetFolder", "GetFolder", "FindFolder", "CreateFolder", "MoveItem", "MoveItem"]
    (find,) = fake.requests("FindFolder")
    assert find.xml.find("s:Body/m:FindFolder", ews.NS).get("Traversal") == "Shallow"
    assert find.xml.find(".//m:ParentFolderIds/t:DistinguishedFolderId", ews.NS).get("Id") == "inbox"
    assert find.xml.find(".//t:Constant", ews.NS).get("Value") == "Quarantine"
    (create,) = fake.requests("CreateFolder")
    assert create.xml.find(".//m:ParentFolderId/t:DistinguishedFolderId", ews.NS).get("Id") == "inbox"
    assert create.text(".//m:Folders/t:Folder/t:DisplayName") == "Quarantine"
    moves = fake.requests("MoveItem")
    assert [m.xml.find(".//m:ToFolderId/t:FolderId", ews.NS).get("Id") for m in moves] == ["QFOLDER", "QFOLDER"]
    assert [m.xml.find(".//m:ItemIds/t:ItemId", ews.NS).get("Id") for m in moves] == ["ITEM1", "ITEM2"]


def test_a_pass_moves_its_mail_with_one_move_item_per_folder(fake: ews.FakeEws) -> None:
    # Mail marked done during a pass waits for the end of the listing, then goes in one MoveItem per folder (one
    # round trip, not one a message); an item someone already moved is no error.
    mails = [ews.CannedMail(f"NEW{n}", T0 + timedelta(minutes=n), mime(n)) for n in (1, 2, 3)]
    fake.queue("FindItem", ews.find_item(mails))
    fake.queue("GetItem", *get_item_replies(*(ews.get_item_mime(m) for m in mails)))
    fake.queue("FindFolder", ews.find_folder(ews.folder("PFOLDER", "Processed")),
               ews.find_folder(ews.folder("QFOLDER", "Quarantine")))
    fake.queue("MoveItem", ews.response("MoveItem", ews.moved("P1"), ews.item_not_found("MoveItem")),
               ews.move_item("Q1"))
    box = mailbox(baselined(T0))
    outcomes: tuple[Folder, ...] = ("processed", "quarantine", "processed")
    for got, outcome in zip(box.fetch_new(), outcomes, strict=True):
        assert "MoveItem" not in fake.ops()
        box.mark_done(got.ref, outcome)
    assert [(m.xml.find(".//m:ToFolderId/t:FolderId", ews.NS).get("Id"),
             [i.get("Id") for i in m.find(".//m:ItemIds/t:ItemId")]) for m in fake.requests("MoveItem")] == \
           [("PFOLDER", ["NEW1", "NEW3"]), ("QFOLDER", ["NEW2"])]


def test_mail_handled_before_the_pass_stopped_is_still_moved(fake: ews.FakeEws) -> None:
    # The pipeline fails on the second message: the first, already committed, still leaves the inbox.
    mails = [ews.CannedMail(f"NEW{n}", T0 + timedelta(minutes=n), mime(n)) for n in (1, 2, 3)]
    fake.queue("FindItem", ews.find_item(mails))
    fake.queue("GetItem", *get_item_replies(*(ews.get_item_mime(m) for m in mails[:2])))
    fake.queue("FindFolder", ews.find_folder(ews.folder("PFOLDER", "Processed")))
    fake.queue("MoveItem", ews.move_item("P1"))
    box = mailbox(baselined(T0))
    with pytest.raises(RuntimeError, match="database gone"):
        for i, got in enumerate(box.fetch_new()):
            if i == 1:
                raise RuntimeError("database gone")
            box.mark_done(got.ref, "processed")
    (move,) = fake.requests("MoveItem")
    assert [i.get("Id") for i in move.find(".//m:ItemIds/t:ItemId")] == ["NEW1"]


def test_mark_done_into_existing_folder_and_item_already_gone(fake: ews.FakeEws) -> None:
    # The folder exists (named as configured) so nothing is created; an item already moved is not an error.
    fake.queue("FindFolder", ews.find_folder(ews.folder("PFOLDER", "已处理")))
    fake.queue("MoveItem", ews.response("MoveItem", ews.item_not_found("MoveItem")))
    mailbox(baselined(T0), folders={"processed": "已处理"}).mark_done("ITEM1", "processed")
    assert "CreateFolder" not in fake.ops()
    assert fake.requests("FindFolder")[0].xml.find(".//t:Constant", ews.NS).get("Value") == "已处理"
    assert fake.requests("MoveItem")[0].xml.find(".//m:ToFolderId/t:FolderId", ews.NS).get("Id") == "PFOLDER"


def test_folder_created_meanwhile_by_another_daemon(fake: ews.FakeEws) -> None:
    # CreateFolder answers ErrorFolderExists (a second daemon was quicker): look again and move there.
    fake.queue("FindFolder", ews.find_folder(), ews.find_folder(ews.folder("AFOLDER", "Auto-replies")))
    fake.queue("CreateFolder", ews.response("CreateFolder", ews.error(
        "CreateFolder", "ErrorFolderExists", "A folder with the specified name already exists.", "<m:Folders/>")))
    fake.queue("MoveItem", ews.move_item("MOVED"))
    mailbox(baselined(T0)).mark_done("ITEM1", "auto")
    assert fake.ops()[2:] == ["FindFolder", "CreateFolder", "FindFolder", "MoveItem"]
    assert fake.requests("MoveItem")[0].xml.find(".//m:ToFolderId/t:FolderId", ews.NS).get("Id") == "AFOLDER"


def test_mark_done_other_errors_are_raised(fake: ews.FakeEws) -> None:
    # Anything but "item not found" must surface: the message stays in the inbox and the next pass retries.
    fake.queue("FindFolder", ews.find_folder(ews.folder("PFOLDER", "Processed")))
    fake.queue("MoveItem", ews.response("MoveItem", ews.error("MoveItem", "ErrorQuotaExceeded",
                                                              "The mailbox quota has been exceeded.")))
    with pytest.raises(Exception, match="quota"):
        mailbox(baselined(T0)).mark_done("ITEM1", "processed")


# --- wait --------------------------------------------------------------------------------


def test_streaming_new_mail_wakes_wait(fake: ews.FakeEws) -> None:
    # A NewMail event streamed for the inbox ends the wait at once; the subscription is reused next time.
    fake.queue("Subscribe", ews.subscribe("SUB1"))
    stream = ews.streaming_notification("SUB1", ews.status_event()) + ews.streaming_notification(
        "SUB1", ews.new_mail_events("NEWITEM"))
    fake.queue("GetStreamingEvents", stream, stream)
    box = mailbox()
    assert box.wait(60) is True
    assert box.wait(150) is True

    assert fake.ops() == ["GetFolder", "GetFolder", "Subscribe", "GetStreamingEvents", "GetStreamingEvents"]
    (sub,) = fake.requests("Subscribe")
    assert sub.xml.find(".//m:StreamingSubscriptionRequest//t:DistinguishedFolderId", ews.NS).get("Id") == "inbox"
    assert "NewMailEvent" in [e.text for e in sub.find(".//t:EventTypes/t:EventType")]
    gets = fake.requests("GetStreamingEvents")
    assert [g.text(".//t:SubscriptionId") for g in gets] == ["SUB1", "SUB1"]
    assert [g.text(".//m:ConnectionTimeout") for g in gets] == ["1", "2"]  # whole minutes
    assert box._sleep.calls == []  # type: ignore[attr-defined]


def test_own_moves_out_of_the_inbox_do_not_wake(fake: ews.FakeEws) -> None:
    # Our own mark_done shows up as a move out of the inbox: not news. A move into the inbox is.
    fake.queue("Subscribe", ews.subscribe("SUB1"))
    fake.queue("GetStreamingEvents",
               ews.streaming_notification("SUB1", ews.moved_event("A", to="PFOLDER", old=ews.INBOX_ID))
               + ews.streaming_closed(),
               ews.streaming_notification("SUB1", ews.moved_event("B", to=ews.INBOX_ID, old="JUNK")))
    box = mailbox()
    assert box.wait(60) is False
    assert box.wait(60) is True


def test_error_during_streaming_returns_false_and_resubscribes(fake: ews.FakeEws) -> None:
    # The server drops the subscription mid-wait: wait returns False without raising, sleeps out the interval,
    # and the next wait subscribes afresh.
    fake.queue("Subscribe", ews.subscribe("SUB1"), ews.subscribe("SUB2"))
    fake.queue("GetStreamingEvents", ews.streaming_error(),
               ews.streaming_notification("SUB2", ews.new_mail_events("X")))
    fake.queue("Unsubscribe", ews.unsubscribe())
    box = mailbox()
    assert box.wait(120) is False
    assert len(box._sleep.calls) == 1 and 119 < box._sleep.calls[0] <= 120  # type: ignore[attr-defined]
    assert box.wait(120) is True
    assert fake.ops()[2:] == ["Subscribe", "GetStreamingEvents", "Unsubscribe", "Subscribe", "GetStreamingEvents"]
    assert fake.requests("Unsubscribe")[0].text(".//m:SubscriptionId") == "SUB1"
    assert fake.requests("GetStreamingEvents")[1].text(".//t:SubscriptionId") == "SUB2"


def test_server_busy_or_dead_connection_during_streaming_does_not_raise(fake: ews.FakeEws) -> None:
    # ErrorServerBusy (a SOAP fault) and a refused connection both end in False, never an exception.
    fake.queue("Subscribe", ews.subscribe("SUB1"), requests.exceptions.ConnectionError("connection refused"))
    fake.queue("GetStreamingEvents", (500, ews.soap_fault("ErrorServerBusy", "The server cannot service this "
                                                          "request right now. Try again later.", 30_000)))
    fake.queue("Unsubscribe", ews.unsubscribe())
    box = mailbox()
    assert box.wait(60) is False
    assert box.wait(60) is False
    assert len(box._sleep.calls) == 2  # type: ignore[attr-defined]


def test_delegate_access_refused_means_polling_only(fake: ews.FakeEws) -> None:
    # Exchange refuses subscriptions through delegate access: after the first refusal wait only sleeps.
    fake.queue("Subscribe", ews.subscribe_error("ErrorSubscriptionDelegateAccessNotSupported",
                                                "Subscriptions are not supported for delegate user access."))
    box = mailbox()
    assert box.wait(60) is False
    requests_before = len(fake.seen)
    assert box.wait(60) is False
    assert len(fake.seen) == requests_before
    assert box._sleep.calls[-1] == 60  # type: ignore[attr-defined]


def test_sub_minute_wait_just_sleeps(fake: ews.FakeEws) -> None:
    # GetStreamingEvents counts in whole minutes: a shorter wait sleeps and asks the server nothing.
    box = mailbox()
    assert box.wait(20) is False
    assert box._sleep.calls == [20] and fake.seen == []  # type: ignore[attr-defined]


def test_close_unsubscribes(fake: ews.FakeEws) -> None:
    # Closing the mailbox ends the streaming subscription on the server.
    fake.queue("Subscribe", ews.subscribe("SUB1"))
    fake.queue("GetStreamingEvents", ews.streaming_notification("SUB1", ews.new_mail_events("X")))
    fake.queue("Unsubscribe", ews.unsubscribe())
    box = mailbox()
    box.wait(60)
    box.close()
    assert fake.ops()[-1] == "Unsubscribe"


# --- check-config --------------------------------------------------------------------------


def test_check_reports_without_changing_anything(fake: ews.FakeEws) -> None:
    # check() logs in, counts the inbox, looks for the folders, tries a subscription, and creates nothing.
    fake.queue("FindFolder", ews.find_folder(ews.folder("P", "Processed")), ews.find_folder(), ews.find_folder())
    fake.queue("Subscribe", ews.subscribe("SUB1"))
    fake.queue("Unsubscribe", ews.unsubscribe())
    rows = mailbox().check()
    assert [(what, ok) for what, ok, _ in rows] == [
        ("EWS login", True), ("inbox", True), ("folder Inbox/Processed", True), ("folder Inbox/Quarantine", True),
        ("folder Inbox/Auto-replies", True), ("baseline", True), ("streaming notifications", True)]
    assert rows[3][2].startswith("missing")
    assert "CreateFolder" not in fake.ops() and "MoveItem" not in fake.ops()


# --- authentication --------------------------------------------------------------------------


def test_basic_auth_header_and_no_secret_in_logs(fake: ews.FakeEws, caplog: pytest.LogCaptureFixture) -> None:
    # Basic sends the credentials on every request; even with DEBUG logging they never reach the log.
    caplog.set_level("DEBUG")
    fake.queue("FindItem", ews.find_item([]))
    list(mailbox(baselined(T0)).fetch_new())
    expected = "Basic " + base64.b64encode(b"HQ\\kcrbot:s3cret-pw").decode()
    assert {s.headers.get("Authorization") for s in fake.seen} == {expected}
    assert "s3cret-pw" not in caplog.text and expected.split()[1] not in caplog.text


def test_ntlm_starts_a_negotiation_and_failure_is_reported(fake: ews.FakeEws, monkeypatch: pytest.MonkeyPatch) -> None:
    # NTLM: the server's 401 is answered with an NTLM negotiate message (never the password); a failed
    # handshake shows up in check() as a failed login, not as a crash.
    from requests_ntlm import HttpNtlmAuth

    # Channel binding reads the TLS certificate off the socket, and requests-mock has no socket.
    monkeypatch.setattr(HttpNtlmAuth, "_get_server_cert", lambda self, response: None)
    challenge = {"WWW-Authenticate": "NTLM"}
    fake.queue("GetFolder", (401, b"", challenge), (401, b"", challenge))
    rows = mailbox(login=login(auth_type="ntlm")).check()
    assert rows[0][:2] == ("EWS login", False)
    assert "s3cret-pw" not in rows[0][2]
    first, second = fake.seen[:2]
    assert "Authorization" not in first.headers
    assert second.headers["Authorization"].startswith("NTLM TlRMTVNTUAAB")  # base64 of "NTLMSSP\0" + type 1
    assert "s3cret-pw" not in json.dumps([s.headers for s in fake.seen])


def test_oauth_bearer_token_is_reread_before_each_operation(fake: ews.FakeEws) -> None:
    # OAuth: the token comes from a callable (kept fresh elsewhere); a renewed token is used from the next call.
    tokens = ["tok-1"]
    box = mailbox(baselined(T0), login=login(password=None, oauth_token=lambda: tokens[-1]))
    fake.queue("FindItem", ews.find_item([]), ews.find_item([]))
    list(box.fetch_new())
    tokens.append("tok-2")
    list(box.fetch_new())
    auth = [s.headers.get("Authorization") for s in fake.seen]
    assert auth == ["Bearer tok-1"] * 3 + ["Bearer tok-2"]


def test_login_configuration_mistakes_are_caught_at_construction() -> None:
    # A password and a token together (or neither), or a version that is not a build number, fail early.
    with pytest.raises(ValueError):
        login(oauth_token=lambda: "t")
    with pytest.raises(ValueError):
        login(password=None)
    with pytest.raises(ValueError, match="15.1.2507.6"):
        login(version="Exchange2016")


# --- transport --------------------------------------------------------------------------------


def outbox_mail(**kw: object) -> OutboxMail:
    draft = Draft(to=["zs@bj.example.cn"], cc=["ls@gz.example.cn"], subject="【提醒】2026年11月重点客户月报",
                  text="请于28日前回复。\n", html="<p>请于28日前回复。</p>")
    raw = compose(draft, Identity(ADDR, "总部资源与市场部"), T0).raw
    args: dict[str, object] = dict(id=7, idem_key="reminder:2026-11:BJ:T-3", kind="reminder", message_id="<x@hq>",
                                   recipients="zs@bj.example.cn,ls@gz.example.cn", subject=draft.subject, raw=raw)
    args.update(kw)
    return OutboxMail(**args)


def test_transport_sends_the_mime_base64_with_send_only(fake: ews.FakeEws) -> None:
    # The queued bytes go out unchanged: CreateItem, MessageDisposition=SendOnly, MimeContent = base64 of raw.
    fake.queue("CreateItem", ews.create_item_ok())
    mail = outbox_mail()
    EwsTransport(login()).send(mail)
    assert fake.ops() == ["CreateItem"]
    (create,) = fake.seen
    assert create.xml.find("s:Body/m:CreateItem", ews.NS).get("MessageDisposition") == "SendOnly"
    assert create.find(".//m:SavedItemFolderId") == []
    assert base64.b64decode(create.text(".//m:Items/t:Message/t:MimeContent") or "") == mail.raw
    sent = message_from_bytes(mail.raw, policy=policy.default)
    assert str(make_header(decode_header(sent["Subject"]))) == "【提醒】2026年11月重点客户月报"


def test_transport_can_keep_a_copy_in_sent_items(fake: ews.FakeEws) -> None:
    # save_copy: SendAndSaveCopy into the distinguished Sent Items folder.
    fake.queue("CreateItem", ews.create_item_ok())
    EwsTransport(login(), save_copy=True).send(outbox_mail())
    (create,) = fake.requests("CreateItem")
    assert create.xml.find("s:Body/m:CreateItem", ews.NS).get("MessageDisposition") == "SendAndSaveCopy"
    assert create.xml.find(".//m:SavedItemFolderId/t:DistinguishedFolderId", ews.NS).get("Id") == "sentitems"


@pytest.mark.parametrize("code", ["ErrorInvalidRecipients", "ErrorMessageSizeExceeded"])
def test_transport_permanent_refusals(fake: ews.FakeEws, code: str) -> None:
    # Refusals no retry can cure become PermanentFailure, naming the EWS code.
    fake.queue("CreateItem", ews.create_item_error(code, "refused"))
    with pytest.raises(PermanentFailure, match=code):
        EwsTransport(login()).send(outbox_mail())


@pytest.mark.parametrize("reply", [
    (500, ews.soap_fault("ErrorServerBusy", "The server cannot service this request right now.", 30_000)),
    requests.exceptions.ConnectionError("connection reset"),
    ews.create_item_error("ErrorSendAsDenied", "The user account does not have the right to send mail on behalf "
                                               "of the specified sending account."),
], ids=["server-busy", "connection-error", "send-as-denied"])
def test_transport_temporary_failures(fake: ews.FakeEws, reply: object) -> None:
    # Busy server, broken connection, rights not granted yet: temporary, left to the outbox's backoff.
    fake.queue("CreateItem", reply)
    with pytest.raises(Exception) as caught:
        EwsTransport(login()).send(outbox_mail())
    assert not isinstance(caught.value, PermanentFailure)


def test_transport_refuses_recipients_missing_from_the_headers(fake: ews.FakeEws) -> None:
    # EWS delivers to the MIME headers only: an envelope recipient not in them would be silently dropped.
    with pytest.raises(PermanentFailure, match="extra@unit.example.cn"):
        EwsTransport(login()).send(outbox_mail(recipients="zs@bj.example.cn,extra@unit.example.cn"))
    assert fake.seen == []
