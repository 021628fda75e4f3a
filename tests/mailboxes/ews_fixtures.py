"""Canned Exchange Web Services answers, and a fake endpoint that serves them over requests-mock.

There is no Exchange server in this project's test environment, and no open
source EWS server to stand in for one. These bodies are therefore *built*, not
recorded: each builder follows the response example Microsoft publishes for
that operation in the EWS reference (MicrosoftDocs/office-developer-exchange-docs,
docs/web-service-reference/):

- GetFolder          getfolder-operation.md
- FindFolder         findfolder-operation.md
- CreateFolder       createfolder-operation.md (incl. the ErrorFolderExists answer)
- FindItem           finditem-operation.md
- GetItem            getitem-operation-email-message.md (MimeContent, From, Size)
- MoveItem           moveitem-operation.md
- CreateItem         createitem-operation-email-message.md (incl. the error shape)
- Subscribe          exchange-web-services/how-to-stream-notifications-about-mailbox-events-by-using-ews-in-exchange.md
                     (streaming: SubscriptionId and no Watermark)
- GetStreamingEvents getstreamingevents-operation.md (CreatedEvent + NewMailEvent +
                     ModifiedEvent; the ErrorInvalidSubscription answer with ConnectionStatus Closed)
- Unsubscribe        unsubscribe-operation.md
- SOAP fault         ErrorServerBusy with BackOffMilliseconds, as in exchangelib's own
                     tests/test_services.py

Where Microsoft's examples are not well-formed they were repaired, not copied:
the GetStreamingEvents example has a soap:Header outside any Envelope, its
error example lacks a closing tag, the MoveItem example spells `t:ItemID`, and
some pages use `https://schemas.microsoft.com/...` namespaces where servers use
`http://`. The server version header is the Exchange 2013+ form (h:ServerVersionInfo),
with the build of an Exchange 2016 CU (15.1.2507.6).

What a real server does that these do not: NTLM challenge/response, throttling
with real back-off, chunked streaming over minutes, ids in the long form,
per-locale folder names, and whatever Exchange puts in MimeContent for mail it
converted from MAPI. Record real bodies once against the HQ server and add them
here before trusting the backend in production.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

URL = "https://mail.hq.example.cn/EWS/Exchange.asmx"
S = "http://schemas.xmlsoap.org/soap/envelope/"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
NS = {"s": S, "t": T, "m": M}

# Folder ids as the fake server hands them out; long enough to look like EWS ids, short enough to read in a failure.
ROOT_ID = "AQMkADAwATM0MDAAMS1iNTcwLWI2NTEtMDACLTAwCgAuAAADROOT"
INBOX_ID = "AQMkADAwATM0MDAAMS1iNTcwLWI2NTEtMDACLTAwCgAuAAADINBOX"
SENT_ID = "AQMkADAwATM0MDAAMS1iNTcwLWI2NTEtMDACLTAwCgAuAAADSENT"


def envelope(body: str) -> bytes:
    """A whole SOAP response as Exchange 2013+ sends it: version header, then the body."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<s:Envelope xmlns:s="{S}">'
        "<s:Header>"
        '<h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6"'
        f' Version="V2017_07_11" xmlns:h="{T}" xmlns="{T}"'
        ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
        "</s:Header>"
        '<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f"{body}"
        "</s:Body></s:Envelope>"
    ).encode()


def response(op: str, *messages: str) -> bytes:
    return envelope(f'<m:{op}Response xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>'
                    + "".join(messages) + f"</m:ResponseMessages></m:{op}Response>")


def ok(op: str, inner: str = "") -> str:
    return (f'<m:{op}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
            f"{inner}</m:{op}ResponseMessage>")


def error(op: str, code: str, text: str, inner: str = "") -> str:
    return (f'<m:{op}ResponseMessage ResponseClass="Error"><m:MessageText>{escape(text)}</m:MessageText>'
            f"<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
            f"{inner}</m:{op}ResponseMessage>")


def soap_fault(code: str, text: str, back_off_ms: int | None = None) -> bytes:
    """A SOAP-level fault (HTTP 500), the way Exchange reports ErrorServerBusy and other whole-request failures."""
    extra = (f'<t:MessageXml xmlns:t="{T}"><t:Value Name="BackOffMilliseconds">{back_off_ms}</t:Value></t:MessageXml>'
             if back_off_ms is not None else "")
    return envelope(
        f'<s:Fault><faultcode xmlns:a="{T}">a:{code}</faultcode>'
        f'<faultstring xml:lang="en-US">{escape(text)}</faultstring>'
        f'<detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{code}'
        f'</e:ResponseCode><e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">'
        f"{escape(text)}</e:Message>{extra}</detail></s:Fault>")


def _ts(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _item_id(item_id: str, changekey: str = "CQAAABYAAAA=") -> str:
    return f"<t:ItemId Id={quoteattr(item_id)} ChangeKey={quoteattr(changekey)}/>"


# --- folders -----------------------------------------------------------------


def folder(folder_id: str, name: str, *, total: int = 0, children: int = 0, unread: int = 0,
           folder_class: str | None = "IPF.Note") -> str:
    cls = f"<t:FolderClass>{folder_class}</t:FolderClass>" if folder_class else ""
    return (f'<t:Folder><t:FolderId Id={quoteattr(folder_id)} ChangeKey="AQAAABYAAAA="/>{cls}'
            f"<t:DisplayName>{escape(name)}</t:DisplayName><t:TotalCount>{total}</t:TotalCount>"
            f"<t:ChildFolderCount>{children}</t:ChildFolderCount><t:UnreadCount>{unread}</t:UnreadCount></t:Folder>")


def get_folder(*folders: str) -> bytes:
    return response("GetFolder", *(ok("GetFolder", f"<m:Folders>{f}</m:Folders>") for f in folders))


def find_folder(*folders: str) -> bytes:
    return response("FindFolder", ok("FindFolder",
                    f'<m:RootFolder TotalItemsInView="{len(folders)}" IncludesLastItemInRange="true">'
                    f"<t:Folders>{''.join(folders)}</t:Folders></m:RootFolder>"))


def create_folder(folder_id: str) -> bytes:
    return response("CreateFolder", ok("CreateFolder",
                    f'<m:Folders><t:Folder><t:FolderId Id={quoteattr(folder_id)} ChangeKey="AQAAABYAAAA="/>'
                    "</t:Folder></m:Folders>"))


# --- items -------------------------------------------------------------------


@dataclass(frozen=True)
class CannedMail:
    """One message as the fake server holds it in the inbox."""

    item_id: str
    received: datetime
    mime: bytes
    subject: str = ""
    sender: tuple[str, str] = ("", "")
    message_id: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    size: int | None = None  # what the server reports; defaults to len(mime)

    @property
    def reported_size(self) -> int:
        return len(self.mime) if self.size is None else self.size


def find_item(mails: Iterable[CannedMail]) -> bytes:
    """FindItem with IdOnly plus DateTimeReceived and Size, in the order given."""
    mails = list(mails)
    body = "".join(f"<t:Message>{_item_id(m.item_id)}<t:DateTimeReceived>{_ts(m.received)}</t:DateTimeReceived>"
                   f"<t:Size>{m.reported_size}</t:Size></t:Message>" for m in mails)
    return response("FindItem", ok("FindItem",
                    f'<m:RootFolder TotalItemsInView="{len(mails)}" IncludesLastItemInRange="true">'
                    f"<t:Items>{body}</t:Items></m:RootFolder>"))


def get_item_mime(mail: CannedMail) -> str:
    b64 = base64.b64encode(mail.mime).decode()
    return ok("GetItem", f'<m:Items><t:Message><t:MimeContent CharacterSet="UTF-8">{b64}</t:MimeContent>'
                         f"{_item_id(mail.item_id)}</t:Message></m:Items>")


def get_item_summary(mail: CannedMail) -> str:
    """The header-only view of an oversized message: InternetMessageHeaders and the envelope fields, no MIME."""
    name, addr = mail.sender
    box = (f"<t:Mailbox><t:Name>{escape(name)}</t:Name><t:EmailAddress>{escape(addr)}</t:EmailAddress>"
           "<t:RoutingType>SMTP</t:RoutingType></t:Mailbox>")
    headers = "".join(f"<t:InternetMessageHeader HeaderName={quoteattr(k)}>{escape(v)}</t:InternetMessageHeader>"
                      for k, v in mail.headers)
    return ok("GetItem", f"<m:Items><t:Message>{_item_id(mail.item_id)}<t:Subject>{escape(mail.subject)}</t:Subject>"
                         f"<t:DateTimeReceived>{_ts(mail.received)}</t:DateTimeReceived>"
                         + (f"<t:InternetMessageHeaders>{headers}</t:InternetMessageHeaders>" if headers else "")
                         + f"<t:Sender>{box}</t:Sender><t:InternetMessageId>{escape(mail.message_id)}"
                           f"</t:InternetMessageId><t:From>{box}</t:From></t:Message></m:Items>")


def item_not_found(op: str) -> str:
    return error(op, "ErrorItemNotFound", "The specified object was not found in the store., The process failed "
                 "to get the correct properties.", "<m:Items/>" if op != "MoveItem" else "")


def moved(new_id: str) -> str:
    """One item's answer inside a MoveItem response (one per ItemId asked for, in order)."""
    return ok("MoveItem", f"<m:Items><t:Message>{_item_id(new_id)}</t:Message></m:Items>")


def move_item(*new_ids: str) -> bytes:
    return response("MoveItem", *(moved(i) for i in new_ids))


def create_item_ok() -> bytes:
    return response("CreateItem", ok("CreateItem", "<m:Items/>"))


def create_item_error(code: str, text: str) -> bytes:
    return response("CreateItem", error("CreateItem", code, text, "<m:Items/>"))


# --- notifications -------------------------------------------------------------


def subscribe(subscription_id: str) -> bytes:
    return response("Subscribe", ok("Subscribe", f"<m:SubscriptionId>{subscription_id}</m:SubscriptionId>"))


def subscribe_error(code: str, text: str) -> bytes:
    return response("Subscribe", error("Subscribe", code, text))


def unsubscribe() -> bytes:
    return response("Unsubscribe", ok("Unsubscribe"))


def new_mail_events(item_id: str, parent_id: str = INBOX_ID, when: str = "2026-11-20T04:31:29Z") -> str:
    """What Exchange streams when a message arrives: Created and NewMail for the item, Modified for the folder."""
    return (f"<t:CreatedEvent><t:TimeStamp>{when}</t:TimeStamp>{_item_id(item_id)}"
            f'<t:ParentFolderId Id="{parent_id}" ChangeKey="AQAAAA=="/></t:CreatedEvent>'
            f"<t:NewMailEvent><t:TimeStamp>{when}</t:TimeStamp>{_item_id(item_id)}"
            f'<t:ParentFolderId Id="{parent_id}" ChangeKey="AQAAAA=="/></t:NewMailEvent>'
            f'<t:ModifiedEvent><t:TimeStamp>{when}</t:TimeStamp><t:FolderId Id="{parent_id}" ChangeKey="AQAAAA=="/>'
            f'<t:ParentFolderId Id="{ROOT_ID}" ChangeKey="AQAAAA=="/><t:UnreadCount>1</t:UnreadCount>'
            "</t:ModifiedEvent>")


def moved_event(item_id: str, *, to: str, old: str, when: str = "2026-11-20T04:31:29Z") -> str:
    return (f"<t:MovedEvent><t:TimeStamp>{when}</t:TimeStamp>{_item_id(item_id + 'N')}"
            f'<t:ParentFolderId Id="{to}" ChangeKey="AQAAAA=="/>'
            f'<t:OldItemId Id="{item_id}" ChangeKey="CQAAAA=="/><t:OldParentFolderId Id="{old}" ChangeKey="AQAAAA=="/>'
            "</t:MovedEvent>")


def status_event() -> str:
    return "<t:StatusEvent><t:Watermark>AAAAAHgGAAAAAAAAAQ==</t:Watermark></t:StatusEvent>"


def streaming_notification(subscription_id: str, events: str, status: str = "OK") -> bytes:
    """One document of a GetStreamingEvents stream; a stream is several of these back to back."""
    return response("GetStreamingEvents", ok(
        "GetStreamingEvents", f"<m:Notifications><m:Notification><t:SubscriptionId>{subscription_id}"
                              f"</t:SubscriptionId>{events}</m:Notification></m:Notifications>"
                              f"<m:ConnectionStatus>{status}</m:ConnectionStatus>"))


def streaming_closed() -> bytes:
    return response("GetStreamingEvents", ok("GetStreamingEvents", "<m:ConnectionStatus>Closed</m:ConnectionStatus>"))


def streaming_error(code: str = "ErrorInvalidSubscription", text: str = "The subscription is invalid.") -> bytes:
    return response("GetStreamingEvents", error("GetStreamingEvents", code, text,
                                                "<m:ConnectionStatus>Closed</m:ConnectionStatus>"))


# --- the fake endpoint -----------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One request the fake endpoint received."""

    op: str
    xml: Any  # lxml element of the SOAP envelope
    headers: dict[str, str]

    def find(self, path: str) -> list[Any]:
        return list(self.xml.iterfind(path, NS))

    def text(self, path: str) -> str | None:
        found = self.xml.find(path, NS)
        return None if found is None else found.text


# A reply: the body (HTTP 200), (status, body), (status, body, headers), an exception to raise
# as if the connection failed, or a function of the request returning one of those.
Reply = Any


@dataclass
class FakeEws:
    """Answers exchangelib's SOAP POSTs by operation name and remembers every request.

    `queue(op, reply, ...)` answers the next requests for `op` in order; when a
    queue is empty the default for that op answers (GetFolder knows root, inbox
    and sent items). An op with neither fails the test loudly.
    """

    queues: dict[str, list[Reply]] = field(default_factory=dict)
    defaults: dict[str, Reply] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def install(self, mocker: Any, url: str = URL) -> FakeEws:
        mocker.post(url, content=self._answer)
        self.defaults.setdefault("GetFolder", self._distinguished_folders)
        return self

    def queue(self, op: str, *replies: Reply) -> None:
        self.queues.setdefault(op, []).extend(replies)

    def ops(self) -> list[str]:
        return [s.op for s in self.seen]

    def requests(self, op: str) -> list[Seen]:
        return [s for s in self.seen if s.op == op]

    def _answer(self, request: Any, context: Any) -> bytes:
        xml = etree.fromstring(request.body if isinstance(request.body, bytes) else request.body.encode())
        body = xml.find(f"{{{S}}}Body")
        op = etree.QName(body[0]).localname
        seen = Seen(op, xml, dict(request.headers))
        self.seen.append(seen)
        reply: Reply | None = self.queues[op].pop(0) if self.queues.get(op) else self.defaults.get(op)
        if reply is None:
            raise AssertionError(f"fake EWS has no answer for {op}")
        if callable(reply) and not isinstance(reply, BaseException):
            reply = reply(seen)
        if isinstance(reply, BaseException):
            raise reply
        status, content, headers = (*reply, {})[:3] if isinstance(reply, tuple) else (200, reply, {})
        context.status_code = status
        context.headers["Content-Type"] = "text/xml; charset=utf-8"
        context.headers.update(headers)
        return content

    @staticmethod
    def _distinguished_folders(seen: Seen) -> bytes:
        known = {"root": folder(ROOT_ID, "Top of Information Store", folder_class=None),
                 "msgfolderroot": folder(ROOT_ID, "Top of Information Store", folder_class=None),
                 "inbox": folder(INBOX_ID, "Inbox", total=3),
                 "sentitems": folder(SENT_ID, "Sent Items")}
        wanted = [e.get("Id") for e in seen.find(".//t:DistinguishedFolderId")]
        return get_folder(*(known[w] for w in wanted))
