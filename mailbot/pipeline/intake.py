"""The inbound pipeline, top to bottom.

fetch → record → decode/classify/parse → authenticate → match → validate →
persist → act → mark done. `run_pass` is the loop edge: it fetches, calls
`intake` for each message, and tells the mailbox only after the effects are
committed. `record` commits the raw bytes first, under unique keys, so a crash
in any later stage loses nothing and the next pass finds the row and finishes
it. Whose fault decides the rest: a stage that raises on the message's content
puts it in quarantine with the traceback and the loop goes on; a fault of ours
(database, disk, connection, configuration) stops the pass, and the next one
retries (`process`).

Who sent it is decided once, strictly (`authenticate`): one From address read
by an RFC 5322 parser, registered in the directory, and vouched for by our own
mail server's Authentication-Results when they are there (README "Security").
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.parser import BytesHeaderParser
from email.utils import parseaddr

from sqlalchemy import bindparam, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parsers.charsets import decode_header

from mailbot.app import App
from mailbot.db.models import InboundMessage, Quarantine
from mailbot.directory.lookup import keep_directory
from mailbot.errors import MailbotError, PassStopped, describe, our_fault
from mailbot.mailboxes.base import FetchedMail, Folder
from mailbot.pipeline import routes
from mailbot.pipeline.context import Ctx, quarantine

log = logging.getLogger(__name__)

FOLDER_OF: dict[str, Folder] = {"processed": "processed", "answered": "processed", "handed_over": "processed",
                                "ignored": "auto",
                                "quarantined": "quarantine"}


@dataclass(frozen=True)
class Outcome:
    inbound_id: int | None
    status: str        # processed | answered | handed_over | ignored | quarantined | duplicate
    folder: Folder
    note: str
    urgent: bool = False  # it queued an urgent matter's mail (sent first, and at once)


def run_pass(app: App, *, after_urgent: Callable[[], None] | None = None) -> list[Outcome]:
    """One pass over the mailbox: every new message is recorded, handled, then marked done.

    The pass keeps one session (a transaction per message still): the directory rows the first message loads —
    units, contacts, customers, periods, report requests — stay loaded for the next ones, which then cost no SQL.

    A fault of ours stops the pass with `PassStopped`: the message in flight is not marked done, and it waits with
    the rest of the inbox for the next pass. That pass starts on a new session, whose connection the engine pings
    first (`db/session.make_engine`), so a connection the server killed is not handed out again.
    """
    outcomes: list[Outcome] = []
    with app.sessions() as s, stopping_on_our_fault(outcomes):
        keep_directory(s)
        mails = app.mailbox.fetch_new()
        try:
            for mail in mails:
                outcome = intake(app, s, mail)
                app.mailbox.mark_done(mail.ref, outcome.folder)
                outcomes.append(outcome)
                if outcome.urgent and after_urgent is not None:
                    after_urgent()
        finally:
            # A backend that batches its moves (IMAP, EWS) moves what was finished when the iteration is closed:
            # close it now, not whenever the traceback of a stopped pass lets go of it.
            close = getattr(mails, "close", None)
            if close is not None:
                close()
    return outcomes


def intake(app: App, s: Session, mail: FetchedMail) -> Outcome:
    row_id, status = record(s, mail, mailbox=app.mailbox.name, now=app.now())
    if status != "received":
        log.info("msg=%s already %s: duplicate of inbound %s", mail.uid_key, status, row_id,
                 extra={"inbound_id": row_id})
        return Outcome(row_id, "duplicate", FOLDER_OF.get(status, "processed"), f"duplicate of {row_id}")
    return process(app, s, row_id)


# --- whose fault --------------------------------------------------------------


@contextmanager
def stopping_on_our_fault(done: list[Outcome]) -> Iterator[None]:
    """A fault of ours (`errors.our_fault`) becomes `PassStopped`, carrying what the pass finished.

    Anything else goes on unchanged: a mailbox outage (`MailboxUnavailable`) for the daemon to record as such,
    and whatever else escapes the per-message edge in `process`.
    """
    try:
        yield
    except PassStopped as e:
        e.done = list(done)
        raise
    except Exception as e:
        if not our_fault(e):
            raise
        raise PassStopped(describe(e), done) from e


# --- record -----------------------------------------------------------------


def content_key(raw: bytes) -> tuple[str | None, str | None]:
    """(Message-ID, content key) of a raw message; both None when it has no Message-ID.

    The same message delivered twice differs in its transit headers (Received, Authentication-Results…), not
    in its Message-ID, From or body; the key hashes those three, so anybody can still send a Message-ID ahead
    of a genuine report without making the report a "duplicate" of theirs.
    """
    try:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
        value = headers.get("Message-ID")
        sender = "\n".join(str(v) for v in headers.get_all("From") or [])
    except Exception:  # noqa: BLE001 - a header we cannot read is simply no key
        return None, None
    # No NUL (PostgreSQL text refuses it) and short enough for a B-tree index entry of any script: a value the
    # sender chose must never make the raw message unstorable.
    mid = (str(value).replace("\x00", "").strip() if value else "")[:_MESSAGE_ID_CHARS]
    if not mid:
        return None, None
    ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := raw.find(sep)) >= 0]
    body = raw[min(ends):] if ends else b""
    digest = hashlib.sha256()
    for part in (mid.encode("utf-8", "surrogateescape"), sender.encode("utf-8", "surrogateescape"), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return mid, digest.hexdigest()


_MESSAGE_ID_CHARS = 500


def record(s: Session, mail: FetchedMail, *, mailbox: str, now: datetime) -> tuple[int, str]:
    """Store the raw message under its unique keys; returns (row id, status) — an existing row if seen before.

    The look-up first keeps a duplicate from failing an INSERT (whose rollback would empty the session); the
    unique constraints still decide when another process inserts the same message in between.
    """
    mid, content = content_key(mail.raw)
    keys = {"uid_key": mail.uid_key, "sha256": hashlib.sha256(mail.raw).hexdigest(), "content": content}
    try:
        with s.begin():
            if (old := s.execute(_SEEN, keys).first()) is not None:
                return old.id, old.status
            row_id = s.scalars(_RECORD, [dict(
                mailbox=mailbox, uid_key=mail.uid_key, message_id=mid, sha256=keys["sha256"], content_key=content,
                raw=mail.raw, size=mail.size, received_at=mail.received_at, recorded_at=now, status="received",
                outcome="oversized" if mail.oversized else None)]).one()
            return row_id, "received"
    except IntegrityError:
        with s.begin():
            old = s.execute(_SEEN, keys).first()
            assert old is not None, "unique violation without a matching row"
            return old.id, old.status


# The statements every message runs are built once: on SQLite, building one costs more than running it.
# (A NULL content key matches nothing, as it should.)
_SEEN = (select(InboundMessage.id, InboundMessage.status)
         .where(or_(InboundMessage.uid_key == bindparam("uid_key"), InboundMessage.sha256 == bindparam("sha256"),
                    InboundMessage.content_key == bindparam("content")))
         .order_by(InboundMessage.id).limit(1))
_RECORD = insert(InboundMessage).returning(InboundMessage.id)


def resume_unfinished(app: App) -> list[Outcome]:
    """Finish rows left `received` — by a crash, or by a pass a fault of ours stopped — whose mail may no longer
    be in the inbox. A fault of ours stops it as it stops a pass (`PassStopped`)."""
    outcomes: list[Outcome] = []
    with app.sessions() as s, stopping_on_our_fault(outcomes):
        with s.begin():
            ids = s.scalars(select(InboundMessage.id).where(InboundMessage.status == "received")).all()
        for i in ids:
            outcomes.append(process(app, s, i))
    return outcomes


def reparse(app: App, inbound_id: int) -> Outcome:
    """Run a stored message through the pipeline again (after a parser fix or a directory change)."""
    with app.sessions() as s:
        with s.begin():
            msg = s.get(InboundMessage, inbound_id)
            if msg is None:
                raise MailbotError(f"no inbound message {inbound_id}")
            if msg.status == "processed":
                raise MailbotError(f"inbound {inbound_id} was accepted as a report; ask the unit to resend instead")
            if msg.raw_pruned_at is not None:
                raise MailbotError(f"inbound {inbound_id}: its bytes were deleted on {msg.raw_pruned_at:%Y-%m-%d} "
                                   f"(limits.keep_raw_months); only its record is left")
            for q in s.scalars(select(Quarantine).where(Quarantine.inbound_id == inbound_id,
                                                        Quarantine.released_at.is_(None))):
                q.released_at = app.now()
            msg.status = "received"
        return process(app, s, inbound_id, tag=f":re{app.now():%Y%m%dT%H%M%S}")


# --- process ------------------------------------------------------------------


def process(app: App, s: Session, inbound_id: int, tag: str = "") -> Outcome:
    """Handle one recorded message in one transaction.

    Whose fault decides what an exception does. The message's (its content hit a bug, or the database refused a
    value it carries): quarantined with the traceback, and the loop goes on. Ours (`errors.our_fault`: database,
    disk, connection, configuration): the transaction has rolled back, the row stays `received`, and
    `PassStopped` ends the pass, so nothing is blamed on a message that would have gone through a moment later.
    """
    ctx = Ctx(app, s, tag)
    try:
        with s.begin(), s.no_autoflush:  # the row's fields are written together, not before each query
            msg = s.get(InboundMessage, inbound_id)
            assert msg is not None
            status, note = routes.handle(ctx, msg)
            msg.status, msg.outcome, msg.processed_at = status, note, app.now()
    except Exception as e:  # noqa: BLE001 - the loop edge: retry what is ours, quarantine what is the message's
        if our_fault(e):
            raise PassStopped(f"inbound {inbound_id}: {describe(e)}") from e
        detail = traceback.format_exc()
        log.exception("msg=%s crashed; quarantined", inbound_id, extra={"inbound_id": inbound_id})
        status, note = "quarantined", "crashed"
        _quarantine_crash(app, s, inbound_id, tag, detail)
    log.info("msg=%s status=%s outcome=%s", inbound_id, status, note, extra={"inbound_id": inbound_id})
    return Outcome(inbound_id, status, FOLDER_OF[status], note, urgent=status != "quarantined" and ctx.urgent_queued)


def _headline(raw: bytes) -> tuple[str | None, str | None]:
    """The sender's address and the subject, for the operator's notice of a message whose handling crashed: read
    as plainly as possible (parsing it may be what crashed), shown, never trusted."""
    try:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
        address = parseaddr(decode_header(headers.get("From")))[1]
        return (address[:320] or None), (decode_header(headers.get("Subject"))[:2000] or None)
    except Exception:  # noqa: BLE001 - nothing readable: the notice says so
        return None, None


def _quarantine_crash(app: App, s: Session, inbound_id: int, tag: str, detail: str) -> None:
    """Quarantine with the operator told; if even that fails (a broken template?), quarantine silently.

    A fault of ours on the way stops the pass instead: the row stays `received`, and the next pass meets the same
    crash and quarantines it then.
    """
    detail = detail.replace("\x00", "\\x00")  # content can put a NUL in a traceback; PostgreSQL text refuses it
    for notify in (True, False):
        try:
            with s.begin():
                msg = s.get(InboundMessage, inbound_id)
                assert msg is not None
                if msg.from_addr is None and msg.subject is None:  # what the crashed stage set was rolled back
                    msg.from_addr, msg.subject = _headline(msg.raw)
                if notify:
                    quarantine(Ctx(app, s, tag), msg, "处理时程序出错", detail, next_step=(
                        "请把本邮件（含附件原件）交开发人员排查；修复后运行 mailbot reparse {id}。"))
                else:
                    s.add(Quarantine(inbound_id=msg.id, reason="处理时程序出错（通知运维失败）", detail=detail,
                                     created_at=app.now()))
                msg.status, msg.outcome, msg.processed_at = "quarantined", "crashed", app.now()
            return
        except Exception as e:  # noqa: BLE001 - second chance below
            if our_fault(e):
                raise PassStopped(f"inbound {inbound_id}: {describe(e)}") from e
            log.exception("msg=%s could not be quarantined with a notice", inbound_id, extra={"inbound_id": inbound_id})
    raise PassStopped(f"inbound {inbound_id} crashed and could not even be quarantined (see the log)")


