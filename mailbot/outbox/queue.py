"""The outbox: mail is queued in the transaction that decides to send it, and delivered later.

The idempotency key (e.g. `reminder:2026-11:GD:T-3`) is a unique column, so a
second decision to send the same thing — after a restart, a retry, or from a
second daemon — finds the first row and sends nothing new. Delivery retries
with exponential backoff; a mail that keeps failing is marked dead and the
operator is told once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar, Protocol

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from mailbot.db.models import KeyValue, OutboxMail
from mailbot.db.session import transaction
from mailbot.errors import MailbotError
from mailbot.outbox.compose import Draft, Identity, compose

log = logging.getLogger(__name__)


class DeliveryFailed(MailbotError):
    """This mail, not the transport, failed (e.g. SMTP 4xx for it): tried again later with backoff."""


class PermanentFailure(DeliveryFailed):
    """The transport says this mail can never be delivered (e.g. SMTP 5xx)."""


class TransportUnavailable(MailbotError):
    """The transport cannot send anything right now (server down, login refused): not this mail's fault.

    The pass stops without counting an attempt, so an outage does not use up the mails' retries.
    """

    # An outage passes by itself and is a warning; a setting someone must fix (a secret that cannot be read,
    # a login or sender refused) is logged as an error on every pass until it is fixed.
    needs_operator: bool = False


class Transport(Protocol):
    def send(self, mail: OutboxMail) -> None:
        """Deliver one mail; raise PermanentFailure, or any other exception for a temporary failure."""
        ...


# A draft, or how to build one: the calendar asks for the same keys all day, and a draft with its workbook costs
# ~150 ms to build, so a job hands over the recipe and only a key not queued yet has it built.
DraftOrRecipe = Draft | Callable[[], Draft]


def enqueue(session: Session, *, key: str, kind: str, draft: DraftOrRecipe, sender: Identity, now: datetime,
            answers_addr: str | None = None, request_id: int | None = None,
            visit_id: int | None = None, priority: int | None = None) -> tuple[OutboxMail, bool]:
    """Queue a mail under an idempotency key; returns (row, created). An existing key wins, before the draft is
    built."""
    existing = session.scalar(_BY_KEY, {"key": key})
    if existing is not None:
        return existing, False
    if not isinstance(draft, Draft):
        draft = draft()
    mail = compose(draft, sender, now)
    return insert_row(session, key=key, kind=kind, message_id=mail.message_id, raw=mail.raw, subject=draft.subject,
                      recipients=",".join(dict.fromkeys([*draft.to, *draft.cc])), now=now, answers_addr=answers_addr,
                      request_id=request_id, visit_id=visit_id,
                      priority=priority if priority is not None else int(draft.urgent))


def insert_row(session: Session, *, key: str, kind: str, message_id: str, raw: bytes, subject: str,
               recipients: str, now: datetime, answers_addr: str | None = None, request_id: int | None = None,
               visit_id: int | None = None, priority: int = 0) -> tuple[OutboxMail, bool]:
    """An outbox row under its idempotency key (a composed mail, or a push's JSON); returns (row, created)."""
    # Another process (a CLI job beside the daemon) may queue the same key between the look-up and here:
    # ON CONFLICT DO NOTHING lets the unique key decide without failing, or needing a savepoint around, our
    # transaction.
    row = session.scalars(_INSERT_NEW[session.get_bind().dialect.name], [dict(
        idem_key=key, kind=kind, message_id=message_id, recipients=recipients, answers_addr=answers_addr,
        subject=subject, raw=raw, created_at=now, status="pending", attempts=0, next_attempt_at=now,
        request_id=request_id, visit_id=visit_id, priority=priority)]).first()
    if row is None:
        again = session.scalar(_BY_KEY, {"key": key})
        assert again is not None
        return again, False
    return row, True


# Built once (intake queues a mail for most messages): INSERT … ON CONFLICT (idem_key) DO NOTHING per dialect.
_BY_KEY = select(OutboxMail).where(OutboxMail.idem_key == bindparam("key"))
_INSERT_NEW = {
    "postgresql": postgresql.insert(OutboxMail).on_conflict_do_nothing(index_elements=[OutboxMail.idem_key])
    .returning(OutboxMail),
    "sqlite": sqlite.insert(OutboxMail).on_conflict_do_nothing(index_elements=[OutboxMail.idem_key])
    .returning(OutboxMail),
}
_ANSWERS_SINCE = select(func.count()).select_from(OutboxMail).where(
    OutboxMail.answers_addr == bindparam("addr"), OutboxMail.created_at > bindparam("since"))
_BY_MESSAGE_IDS = (select(OutboxMail).where(OutboxMail.message_id.in_(bindparam("ids", expanding=True)))
                   .order_by(OutboxMail.id.desc()))


def replied_to(session: Session, message_ids: Sequence[str]) -> list[OutboxMail]:
    """Our mails among the ones a received message answers (its In-Reply-To / References)."""
    if not message_ids:
        return []
    return list(session.scalars(_BY_MESSAGE_IDS, {"ids": list(message_ids)}))


def answers_in_last_hour(session: Session, addr: str, now: datetime) -> int:
    """How many automatic answers went to one sender lately (the loop breaker)."""
    return session.scalar(_ANSWERS_SINCE, {"addr": addr, "since": now - timedelta(hours=1)}) or 0


@dataclass
class Plan:
    """What a job queued (or, in a dry run, would have queued)."""

    queued: list[tuple[str, str, str]] = field(default_factory=list)  # (key, recipients, subject)
    files: list[Path] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"{k}  →  {r}  「{s}」" for k, r, s in self.queued] + [f"file: {f}" for f in self.files]

    def report(self, dry_run: bool) -> str:
        """What a command prints about its plan."""
        head = f"{'would queue' if dry_run else 'queued'} {len(self.queued)} mail(s)"
        return "\n".join([head, *("  " + line for line in self.lines())])

    def extend(self, other: Plan) -> None:
        self.queued += other.queued
        self.files += other.files

    def queue(self, session: Session, key: str, kind: str, draft: DraftOrRecipe, *, sender: Identity,
              now: datetime) -> OutboxMail | None:
        """`enqueue`, noting what was new: a key queued before is not planned again."""
        row, created = enqueue(session, key=key, kind=kind, draft=draft, sender=sender, now=now)
        if not created:
            return None
        self.queued.append((key, row.recipients, row.subject))
        return row


@dataclass
class Change:
    """What a command that launches or changes something (a survey, a campaign) did: what it says of it, and the
    mail it queued; a subclass names what to say when nothing changed."""

    number: str
    said: list[str] = field(default_factory=list)
    plan: Plan = field(default_factory=Plan)
    UNCHANGED: ClassVar[str] = "未发送任何邮件"

    def lines(self) -> list[str]:
        return [f"{self.number}：{'；'.join(self.said) or self.UNCHANGED}", *("  " + line for line in self.plan.lines())]


@dataclass(frozen=True)
class SendReport:
    sent: int
    retried: int
    dead: Sequence[int]
    more: bool = False  # the call stopped at its limit with more due: the caller should deliver again at once


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 6 * 3600))


def _stops_the_pass(e: Exception) -> bool:
    """The transport cannot send anything now, or a setting of ours is wrong (MailbotError other than a mail's
    own DeliveryFailed): stop, count no attempt. Anything else is this mail's failure."""
    return isinstance(e, TransportUnavailable) or (isinstance(e, MailbotError) and not isinstance(e, DeliveryFailed))


def send_pending(sessions: sessionmaker[Session], transport: Transport, now: datetime, *,
                 max_attempts: int, limit: int = 500, urgent_only: bool = False) -> SendReport:
    """Deliver what is due, an urgent matter's mail first, one row per transaction: a crash repeats at most the
    mail in flight. `urgent_only`: just the urgent ones (the pipeline's call right after an urgent mail)."""
    due = select(OutboxMail.id).where(OutboxMail.status == "pending", OutboxMail.next_attempt_at <= now)
    with sessions() as s:
        ids = s.scalars((due.where(OutboxMail.priority > 0) if urgent_only else due)
                        .order_by(OutboxMail.priority.desc(), OutboxMail.id).limit(limit)).all()
    sent = retried = 0
    dead: list[int] = []
    stopped_by: str | None = None
    for mail_id in ids:
        with transaction(sessions) as s:
            mail = s.get(OutboxMail, mail_id, with_for_update=True)
            if mail is None or mail.status != "pending":
                continue
            failure: Exception | None = None
            try:
                transport.send(mail)
            except Exception as e:  # noqa: BLE001 - sorted here: the transport's fault or ours, or this mail's
                if not _stops_the_pass(e):
                    failure = e
                else:
                    # The same for every mail (a server down, a secret that cannot be read, no OAuth token): the
                    # pass stops and no mail pays for it with a retry.
                    stopped_by = error = f"{type(e).__name__}: {e}"[:2000]
                    mail.last_error = error
                    _record_stop(s, error, now)
                    if not isinstance(e, TransportUnavailable) or e.needs_operator:
                        log.error("outbox: cannot send, check the outbox settings; %d mail(s) wait: %s", len(ids),
                                  error)
                    else:
                        log.warning("outbox: transport unavailable, %d mail(s) wait: %s", len(ids), error)
                    break
            mail.attempts += 1
            if failure is None:
                mail.status, mail.sent_at, mail.last_error = "sent", now, None
                sent += 1
                log.info("outbox=%s key=%s sent to %s", mail.id, mail.idem_key, mail.recipients,
                         extra={"outbox_id": mail.id})
                continue
            mail.last_error = f"{type(failure).__name__}: {failure}"[:2000]
            if isinstance(failure, PermanentFailure) or mail.attempts >= max_attempts:
                mail.status = "dead"
                dead.append(mail.id)
                log.error("outbox=%s key=%s dead after %d attempt(s): %s", mail.id, mail.idem_key,
                          mail.attempts, failure, extra={"outbox_id": mail.id})
            else:
                mail.next_attempt_at = now + backoff(mail.attempts)
                retried += 1
                log.warning("outbox=%s key=%s attempt %d failed: %s", mail.id, mail.idem_key, mail.attempts,
                            failure, extra={"outbox_id": mail.id})
    if sent and stopped_by is None:
        with transaction(sessions) as s:
            s.execute(delete(KeyValue).where(KeyValue.key == STOPPED_KEY))
    return SendReport(sent, retried, dead, more=len(ids) == limit and stopped_by is None)


# Why the outbox last stopped (a JSON object: since, error) until a mail gets through; `mailbot status` shows it.
STOPPED_KEY = "outbox:stopped"


def _record_stop(s: Session, error: str, now: datetime) -> None:
    row = s.get(KeyValue, STOPPED_KEY)
    if row is None:
        s.add(KeyValue(key=STOPPED_KEY, value=json.dumps({"since": now.isoformat(), "error": error}), updated_at=now))
    else:  # the first failure's time is the one worth showing: "not sending since …"
        since = json.loads(row.value).get("since", now.isoformat())
        row.value, row.updated_at = json.dumps({"since": since, "error": error}), now


def stopped(s: Session) -> tuple[datetime, str] | None:
    """Since when, and why, the outbox has sent nothing; None once a mail got through."""
    row = s.get(KeyValue, STOPPED_KEY)
    if row is None:
        return None
    data = json.loads(row.value)
    return datetime.fromisoformat(data["since"]), str(data["error"])
