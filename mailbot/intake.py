"""The inbound pipeline, top to bottom.

fetch → record → decode/classify/parse → authenticate → match → validate →
persist → act → mark done. `run_pass` is the loop edge: it fetches, calls
`intake` for each message, and tells the mailbox only after the effects are
committed. `record` commits the raw bytes first, under unique keys, so a crash
in any later stage loses nothing and the next pass finds the row and finishes
it; a stage that raises puts the message in quarantine with the traceback and
the loop goes on.
"""

from __future__ import annotations

import hashlib
import logging
import re
import traceback
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email import policy

from sqlalchemy import bindparam, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parsers import ParsedMessage, Problem, UnreadableMessage, parse_message

from mailbot import mails
from mailbot.app import App
from mailbot.db.models import InboundMessage, Period, Quarantine, ReportRequest, Unit
from mailbot.directory import active_people, customers_by_code, duty_people, keep_directory
from mailbot.domain.validate import validate_report
from mailbot.errors import MailbotError
from mailbot.mailboxes.base import FetchedMail, Folder
from mailbot.outbox.compose import Draft
from mailbot.outbox.queue import answers_in_last_hour, enqueue
from mailbot.reports import ensure_period, local_period, persist_submission, unit_view
from mailbot.request_flow import find_request, handle_reply, notify_assignee
from mailbot.visits.service import find_visit, handle_visit_reply
from mailbot.urgent import handle_urgent

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
    """
    outcomes = []
    with app.sessions() as s:
        keep_directory(s)
        for mail in app.mailbox.fetch_new():
            outcome = intake(app, s, mail)
            app.mailbox.mark_done(mail.ref, outcome.folder)
            outcomes.append(outcome)
    return outcomes


def intake(app: App, s: Session, mail: FetchedMail) -> Outcome:
    row_id, status = record(app, s, mail)
    if status != "received":
        log.info("msg=%s already %s: duplicate of inbound %s", mail.uid_key, status, row_id)
        return Outcome(row_id, "duplicate", FOLDER_OF.get(status, "processed"), f"duplicate of {row_id}")
    return process(app, s, row_id)


# --- record -----------------------------------------------------------------


_AUTH_FAIL = re.compile(r"\b(dmarc|dkim|spf)\s*=\s*(fail|softfail)\b", re.IGNORECASE)


def failed_authentication(raw: bytes) -> str | None:
    """What the receiving server's Authentication-Results says failed for this message (DMARC first), if anything.

    Only the header our own server adds matters, and it is the topmost one; a sender can forge headers below it.
    """
    try:
        results = BytesHeaderParser(policy=policy.compat32).parsebytes(raw).get_all("Authentication-Results") or []
    except Exception:  # noqa: BLE001 - no readable header, no verdict
        return None
    if not results:
        return None
    found = {m.group(1).lower(): m.group(2).lower() for m in _AUTH_FAIL.finditer(str(results[0]))}
    for method in ("dmarc", "dkim", "spf"):
        if found.get(method) == "fail":
            return method
    return None


def _message_id(raw: bytes) -> str | None:
    try:
        value = BytesHeaderParser(policy=policy.compat32).parsebytes(raw).get("Message-ID")
    except Exception:  # noqa: BLE001 - a header we cannot read is simply no key
        return None
    mid = str(value).strip() if value else ""
    return mid[:998] or None


def record(app: App, s: Session, mail: FetchedMail) -> tuple[int, str]:
    """Store the raw message under its unique keys; returns (row id, status) — an existing row if seen before.

    The look-up first keeps a duplicate from failing an INSERT (whose rollback would empty the session); the
    unique constraints still decide when another process inserts the same message in between.
    """
    keys = {"uid_key": mail.uid_key, "sha256": hashlib.sha256(mail.raw).hexdigest(), "mid": _message_id(mail.raw)}
    try:
        with s.begin():
            if (old := s.execute(_SEEN, keys).first()) is not None:
                return old.id, old.status
            row_id = s.scalars(_RECORD, [dict(
                mailbox=app.mailbox.name, uid_key=mail.uid_key, message_id=keys["mid"], sha256=keys["sha256"],
                raw=mail.raw, size=mail.size, received_at=mail.received_at, recorded_at=app.now(), status="received",
                outcome="oversized" if mail.oversized else None)]).one()
            return row_id, "received"
    except IntegrityError:
        with s.begin():
            old = s.execute(_SEEN, keys).first()
            assert old is not None, "unique violation without a matching row"
            return old.id, old.status


# The statements every message runs are built once: on SQLite, building one costs more than running it.
# (A NULL Message-ID matches nothing, as it should.)
_SEEN = (select(InboundMessage.id, InboundMessage.status)
         .where(or_(InboundMessage.uid_key == bindparam("uid_key"), InboundMessage.sha256 == bindparam("sha256"),
                    InboundMessage.message_id == bindparam("mid")))
         .order_by(InboundMessage.id).limit(1))
_RECORD = insert(InboundMessage).returning(InboundMessage.id)
_REQUEST_BY_MESSAGE_ID = select(ReportRequest).where(ReportRequest.message_id.in_(bindparam("ids", expanding=True)))
_REQUEST_BY_TOKEN = select(ReportRequest).where(ReportRequest.token == bindparam("token"))


def resume_unfinished(app: App) -> list[Outcome]:
    """Finish rows recorded before a crash whose mail may no longer be in the inbox."""
    with app.sessions() as s:
        with s.begin():
            ids = s.scalars(select(InboundMessage.id).where(InboundMessage.status == "received")).all()
        return [process(app, s, i) for i in ids]


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
    try:
        with s.begin(), s.no_autoflush:  # the row's fields are written together, not before each query
            msg = s.get(InboundMessage, inbound_id)
            assert msg is not None
            status, note = handle(Ctx(app, s, tag), msg)
            msg.status, msg.outcome, msg.processed_at = status, note, app.now()
    except Exception:  # noqa: BLE001 - the loop edge: quarantine with the traceback and carry on
        detail = traceback.format_exc()
        log.exception("msg=%s crashed; quarantined", inbound_id)
        status, note = "quarantined", "crashed"
        _quarantine_crash(app, s, inbound_id, tag, detail)
    log.info("msg=%s status=%s outcome=%s", inbound_id, status, note)
    return Outcome(inbound_id, status, FOLDER_OF[status], note)


def _quarantine_crash(app: App, s: Session, inbound_id: int, tag: str, detail: str) -> None:
    """Quarantine with the operator told; if even that fails (a broken template?), quarantine silently."""
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
        except Exception:  # noqa: BLE001 - second chance below
            log.exception("msg=%s could not be quarantined with a notice", inbound_id)
    raise RuntimeError(f"inbound {inbound_id} could not even be quarantined")


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
        self.queue(f"operator:ratelimit:{addr}:{hour}", "operator", mails.operator_mail(
            self.department, self.app.settings.operator, "自动回复已暂停",
            f"{addr} 在一小时内触发的自动回复超过上限，本小时内不再回复该地址。"))
        return False


def quarantine(ctx: Ctx, msg: InboundMessage, reason: str, detail: str | None = None) -> tuple[str, str]:
    """Set a message aside with its reason, and tell the operator once."""
    ctx.s.add(Quarantine(inbound_id=msg.id, reason=reason, detail=detail, created_at=ctx.app.now()))
    info = {"id": msg.id, "from_addr": msg.from_addr or "", "subject": msg.subject or "",
            "received_at": msg.received_at}
    ctx.queue(f"operator:quarantine:{msg.id}", "operator", mails.operator_mail(
        ctx.department, ctx.app.settings.operator, f"邮件已隔离：{reason}", reason, message=info, details=detail))
    return "quarantined", f"quarantined: {reason}"


def handle(ctx: Ctx, msg: InboundMessage) -> tuple[str, str]:
    """Decide what one recorded message means and do it; returns (status, note)."""
    try:
        p = parse_message(msg.raw)
    except UnreadableMessage as e:
        return quarantine(ctx, msg, f"无法读取的邮件：{e}")
    env = p.envelope
    msg.kind, msg.from_addr, msg.subject = p.kind, env.from_addr or None, env.subject[:2000]
    if msg.outcome == "oversized":
        if not env.automatic_reasons and env.from_addr and ctx.may_answer(env.from_addr):
            ctx.queue(f"error:{msg.id}", "error_reply", mails.error_mail(
                ctx.department, p, None, None, p.token,
                [Problem("", "邮件超过大小限制，未能接收；请删除大附件后重新发送")]), answers=env.from_addr)
        return quarantine(ctx, msg, f"邮件过大（{msg.size} 字节）")
    if env.automatic_reasons or p.kind in ("bounce", "auto_reply"):
        return "ignored", "automatic: " + ", ".join(env.automatic_reasons or (p.kind,))

    sender = active_people(ctx.s).get(env.from_addr)
    if sender is None:
        return quarantine(ctx, msg, f"发件人 {env.from_addr or '（无）'} 不是登记的联系人")
    if (method := failed_authentication(msg.raw)) is not None:
        return quarantine(ctx, msg, f"发件人 {env.from_addr} 未通过邮件服务器的{method.upper()}验证，可能是冒用地址")
    visit = find_visit(ctx.s, p)
    if visit is not None:
        return handle_visit_reply(ctx, msg, p, sender, visit)
    req = find_request(ctx.s, p) if p.kind != "monthly_report" else None
    if req is not None:
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
            ctx.queue(f"error:{msg.id}", "error_reply", mails.error_mail(
                ctx.department, p, unit, period.key, token,
                [Problem("", "邮件中未找到填报单。请直接回复月报通知邮件，在填报单中填写后发送；"
                             "紧急事项请在主题中注明【紧急】")]), answers=env.from_addr)
        return "answered", "no form: told how to report"
    status = "answered" if any(n.startswith("rejected") for n in notes) else "processed"
    return status, "; ".join(notes)


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
            ctx.queue(f"error:{msg.id}", "error_reply", mails.error_mail(
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
        ctx.queue(f"ack:{msg.id}", "ack", mails.ack_mail(ctx.department, p, sub, names, token or "",
                                                         verdict.warnings), answers=addr)
    return f"accepted v{sub.version} {'on time' if sub.on_time else 'late'}"
