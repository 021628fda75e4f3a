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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email import policy

from sqlalchemy import bindparam, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parsers import Envelope, ParsedMessage, Problem, UnreadableMessage, parse_message
from parsers.authresults import trusted_results


from mailbot.app import App
from mailbot.db.models import InboundMessage, Period, Person, Quarantine, ReportRequest, Unit
from mailbot.directory.lookup import active_people, customers_by_code, duty_people, keep_directory
from mailbot.domain.sender import check_sender
from mailbot.domain.validate import validate_report
from mailbot.errors import MailbotError, PassStopped, describe, our_fault
from mailbot.mailboxes.base import FetchedMail, Folder
from mailbot.outbox.compose import Draft
from mailbot.outbox.queue import answers_in_last_hour, enqueue
from mailbot.reports.store import ensure_period, local_period, persist_submission, unit_view
from mailbot.requests.store import find_request
from mailbot.requests.inbound import handle_reply, notify_assignee
from mailbot.visits.inbound import find_visit, handle_visit_reply
from mailbot.requests.urgent import handle_urgent
from mailbot.outbox.operator import operator_mail
from mailbot.reports.mails import ack_mail, error_mail

log = logging.getLogger(__name__)

FOLDER_OF: dict[str, Folder] = {"processed": "processed", "answered": "processed", "ignored": "auto",
                                "quarantined": "quarantine"}


@dataclass(frozen=True)
class Outcome:
    inbound_id: int | None
    status: str        # processed | answered | ignored | quarantined | duplicate
    folder: Folder
    note: str


def run_pass(app: App) -> list[Outcome]:
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
        finally:
            # A backend that batches its moves (IMAP, EWS) moves what was finished when the iteration is closed:
            # close it now, not whenever the traceback of a stopped pass lets go of it.
            close = getattr(mails, "close", None)
            if close is not None:
                close()
    return outcomes


def intake(app: App, s: Session, mail: FetchedMail) -> Outcome:
    row_id, status = record(app, s, mail)
    if status != "received":
        log.info("msg=%s already %s: duplicate of inbound %s", mail.uid_key, status, row_id)
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


def record(app: App, s: Session, mail: FetchedMail) -> tuple[int, str]:
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
                mailbox=app.mailbox.name, uid_key=mail.uid_key, message_id=mid, sha256=keys["sha256"],
                content_key=content,
                raw=mail.raw, size=mail.size, received_at=mail.received_at, recorded_at=app.now(), status="received",
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
_REQUEST_BY_MESSAGE_ID = select(ReportRequest).where(ReportRequest.message_id.in_(bindparam("ids", expanding=True)))
_REQUEST_BY_TOKEN = select(ReportRequest).where(ReportRequest.token == bindparam("token"))


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
    try:
        with s.begin(), s.no_autoflush:  # the row's fields are written together, not before each query
            msg = s.get(InboundMessage, inbound_id)
            assert msg is not None
            status, note = handle(Ctx(app, s, tag), msg)
            msg.status, msg.outcome, msg.processed_at = status, note, app.now()
    except Exception as e:  # noqa: BLE001 - the loop edge: retry what is ours, quarantine what is the message's
        if our_fault(e):
            raise PassStopped(f"inbound {inbound_id}: {describe(e)}") from e
        detail = traceback.format_exc()
        log.exception("msg=%s crashed; quarantined", inbound_id)
        status, note = "quarantined", "crashed"
        _quarantine_crash(app, s, inbound_id, tag, detail)
    log.info("msg=%s status=%s outcome=%s", inbound_id, status, note)
    return Outcome(inbound_id, status, FOLDER_OF[status], note)


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
                if notify:
                    quarantine(Ctx(app, s, tag), msg, "处理时程序出错", detail)
                else:
                    s.add(Quarantine(inbound_id=msg.id, reason="处理时程序出错（通知运维失败）", detail=detail,
                                     created_at=app.now()))
                msg.status, msg.outcome, msg.processed_at = "quarantined", "crashed", app.now()
            return
        except Exception as e:  # noqa: BLE001 - second chance below
            if our_fault(e):
                raise PassStopped(f"inbound {inbound_id}: {describe(e)}") from e
            log.exception("msg=%s could not be quarantined with a notice", inbound_id)
    raise PassStopped(f"inbound {inbound_id} crashed and could not even be quarantined (see the log)")


@dataclass
class Ctx:
    app: App
    s: Session
    tag: str = ""  # set by reparse, so the answers of a second run are new mails, not the first run's keys

    def queue(self, key: str, kind: str, draft: Draft, answers: str | None = None,
              request_id: int | None = None) -> None:
        enqueue(self.s, key=key + self.tag, kind=kind, draft=draft, sender=self.app.identity, now=self.app.now(),
                answers_addr=answers, request_id=request_id)

    @property
    def department(self) -> str:
        return self.app.settings.identity.department

    def may_answer(self, addr: str) -> bool:
        """The loop breaker: a sender that keeps triggering answers gets no more this hour."""
        if answers_in_last_hour(self.s, addr, self.app.now()) < self.app.settings.limits.auto_answers_per_hour:
            return True
        hour = self.app.now().strftime("%Y%m%d%H")
        self.queue(f"operator:ratelimit:{addr}:{hour}", "operator", operator_mail(
            self.department, self.app.settings.operator, "自动回复已暂停",
            f"{addr} 在一小时内触发的自动回复超过上限，本小时内不再回复该地址。"))
        return False


def quarantine(ctx: Ctx, msg: InboundMessage, reason: str, detail: str | None = None, *,
               at_once: bool = True) -> tuple[str, str]:
    """Set a message aside with its reason; the operator is told at once, or in the next digest (`jobs`)."""
    reason = reason if len(reason) <= _REASON_CHARS else reason[:_REASON_CHARS - 1] + "…"
    now = ctx.app.now()
    ctx.s.add(Quarantine(inbound_id=msg.id, reason=reason, detail=detail, created_at=now,
                         notified_at=now if at_once else None))
    if at_once:
        info = {"id": msg.id, "from_addr": msg.from_addr or "", "subject": msg.subject or "",
                "received_at": msg.received_at}
        ctx.queue(f"operator:quarantine:{msg.id}", "operator", operator_mail(
            ctx.department, ctx.app.settings.operator, f"邮件已隔离：{reason}", reason, message=info,
            details=detail))
    return "quarantined", f"quarantined: {reason}"


_REASON_CHARS = 200  # Quarantine.reason's column


def handle(ctx: Ctx, msg: InboundMessage) -> tuple[str, str]:
    """Decide what one recorded message means and do it; returns (status, note)."""
    try:
        p = parse_message(msg.raw)
    except UnreadableMessage as e:
        return quarantine(ctx, msg, f"无法读取的邮件：{e}")
    env = p.envelope
    msg.kind, msg.from_addr, msg.subject = p.kind, env.from_addr or None, env.subject[:2000]
    if env.automatic_reasons or p.kind in ("bounce", "auto_reply"):
        if msg.outcome == "oversized":
            return quarantine(ctx, msg, f"邮件过大（{msg.size} 字节）")
        return "ignored", "automatic: " + ", ".join(env.automatic_reasons or (p.kind,))
    if env.from_problem:
        return quarantine(ctx, msg, f"{env.from_problem}，可能是冒用地址")
    person = active_people(ctx.s).get(env.from_addr)
    if person is None:
        # Strangers are the bulk of a mailbox (spam, newsletters, a contact not yet registered): the digest.
        return quarantine(ctx, msg, f"发件人 {env.from_addr or '（无）'} 不是登记的联系人", at_once=False)
    known = authenticate(ctx, env, person)
    if isinstance(known, str):
        return quarantine(ctx, msg, known)
    sender = known.person
    if msg.outcome == "oversized":
        # Told once a day at most: three oversized mails are one mistake, and each answer is another large echo.
        day = msg.received_at.astimezone(ctx.app.tz).strftime("%Y%m%d")
        ctx.queue(f"error:oversized:{sender.email}:{day}", "error_reply", error_mail(
            ctx.department, p, None, None, p.token,
            [Problem("", "邮件超过大小限制，未能接收；请删除大附件后重新发送")]), answers=env.from_addr)
        return quarantine(ctx, msg, f"邮件过大（{msg.size} 字节）")
    visit = find_visit(ctx.s, p)
    if visit is not None:
        return handle_visit_reply(ctx, msg, p, sender, visit)
    req = find_request(ctx.s, p) if p.kind != "monthly_report" else None
    if req is not None:
        if sender.role != "hq" and req.unit_id is not None and req.unit_id != sender.unit_id:
            return quarantine(ctx, msg, f"{req.number} 属于{req.unit.name if req.unit else '其他单位'}，"
                                        f"发件人 {env.from_addr} 不是该单位的登记联系人")
        if sender.role == "hq" and ctx.app.settings.security.authserv_ids and not known.vouched:
            return quarantine(ctx, msg, f"总部人员 {sender.name}（{env.from_addr}）关于 {req.number} 的来信"
                                        f"未经邮件服务器认证（{known.check}），其中的办理指令未执行")
        return handle_reply(ctx, msg, p, sender, req)
    if sender.role != "contact" or sender.unit is None:
        return quarantine(ctx, msg, f"总部人员 {sender.name} 的来信未关联任何诉求（回复诉求邮件或在主题中写明编号）")
    unit = sender.unit
    rr = match_request(ctx.s, p)
    if rr is not None and rr.unit_id != unit.id:
        return quarantine(ctx, msg, f"发件人 {env.from_addr} 不是{rr.unit.name}的登记联系人")
    if rr is None and p.unit is not None and p.unit != unit.code:
        return quarantine(ctx, msg, f"报告编号属于 {p.unit}，但发件人是{unit.name}的联系人")
    msg.unit_id = unit.id
    period_key = rr.period.key if rr else (p.period or local_period(msg.received_at, ctx.app.tz))
    period = ensure_period(ctx.s, period_key, ctx.app.schedule)
    msg.period_id = period.id
    token = rr.token if rr else p.token
    may_answer = ctx.may_answer(env.from_addr)

    notes = []
    if p.urgent:
        notes.append(handle_urgent(ctx, msg, p, unit, answer=may_answer))
    if p.kind == "monthly_report":
        notes.append(handle_report(ctx, msg, p, unit, period, token, answer=may_answer))
    elif not p.urgent:
        if may_answer:
            ctx.queue(f"error:{msg.id}", "error_reply", error_mail(
                ctx.department, p, unit, period.key, token,
                [Problem("", "邮件中未找到填报单。请直接回复月报通知邮件，在填报单中填写后发送；"
                             "紧急事项请在主题中注明【紧急】")]), answers=env.from_addr)
        return "answered", "no form: told how to report"
    status = "answered" if any(n.startswith("rejected") for n in notes) else "processed"
    return status, "; ".join(notes)


@dataclass(frozen=True)
class Sender:
    person: Person
    vouched: bool   # our mail server's Authentication-Results confirm the address (DMARC, or aligned DKIM/SPF)
    check: str      # what the check found, for notices


def authenticate(ctx: Ctx, env: Envelope, person: Person) -> Sender | str:
    """Whether the registered person the strict From names really sent the mail, or why not (a quarantine reason).

    The From was read strictly (`parsers.envelope.read_sender`); when our server's Authentication-Results are on
    the mail, they must vouch for that very address (`domain.sender`).
    """
    security = ctx.app.settings.security
    check = check_sender(env.from_addr, trusted_results(env.auth_results, security.authserv_ids))
    if check.verdict == "fail":
        return check.reason
    if check.verdict == "unverified" and security.require_authentication:
        return f"发件人 {env.from_addr} 的邮件未经邮件服务器认证（{check.reason}）"
    return Sender(person, check.verdict == "pass", check.reason)


def match_request(s: Session, p: ParsedMessage) -> ReportRequest | None:
    """Our Message-ID in In-Reply-To/References first, then the report number (form, else subject)."""
    ids = p.envelope.thread_ids
    if ids:
        rr = s.scalar(_REQUEST_BY_MESSAGE_ID, {"ids": list(ids)})
        if rr is not None:
            return rr
    if p.token:
        return s.scalar(_REQUEST_BY_TOKEN, {"token": p.token})
    return None


def handle_report(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, unit: Unit, period: Period,
                  token: str | None, *, answer: bool) -> str:
    verdict = validate_report(p, unit_view(ctx.s, unit))
    addr = p.envelope.from_addr
    if not verdict.accepted:
        if answer:
            ctx.queue(f"error:{msg.id}", "error_reply", error_mail(
                ctx.department, p, unit, period.key, token, verdict.problems), answers=addr)
        return f"rejected: {len(verdict.problems)} problem(s)"
    duty = duty_people(ctx.s, ctx.app.directory.duty_addresses())
    sub, requests = persist_submission(ctx.s, msg, p, unit, period, ctx.app.tz, ctx.app.settings.requests,
                                       duty[0] if duty else None)
    for req, merged in requests:
        if not merged:
            notify_assignee(ctx, req, "assigned", f"req-notice:{req.number}:assigned",
                            lead=f"{unit.name}在{period.key}月报中提出需总部协调的事项，请办理。")
    if answer:
        names = {code: c.name for code, c in customers_by_code(ctx.s).items()}
        ctx.queue(f"ack:{msg.id}", "ack", ack_mail(ctx.department, p, sub, names, token or "",
                                                         verdict.warnings), answers=addr)
    return f"accepted v{sub.version} {'on time' if sub.on_time else 'late'}"
