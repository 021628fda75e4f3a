"""What a capability handling one inbound message is given: the per-message context, and the sender it may trust.

`Ctx` is one message's transaction: its session, the clock and settings, `queue` for the mail it decides to
send (under idempotency keys, with `reparse`'s tag), the loop breaker, and `quarantine`. `Sender` is who sent
the mail as `pipeline.sender.authenticate` established it. This is the one part of the pipeline that the
capabilities import; the pipeline itself (`intake`, `routes`) sits above them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.db.models import InboundMessage, Person, Quarantine
from mailbot.outbox.compose import Draft
from mailbot.outbox.operator import operator_mail
from mailbot.outbox.push import payload
from mailbot.outbox.queue import answers_in_last_hour, enqueue, insert_row


@dataclass(frozen=True)
class Sender:
    person: Person
    vouched: bool   # our mail server's Authentication-Results confirm the address (DMARC, or aligned DKIM/SPF)
    check: str      # what the check found, for notices


@dataclass
class Ctx:
    app: App
    s: Session
    tag: str = ""  # set by reparse, so the answers of a second run are new mails, not the first run's keys
    urgent_queued: bool = False  # an urgent matter's mail was queued: the pipeline has it delivered at once

    def queue(self, key: str, kind: str, draft: Draft, answers: str | None = None,
              request_id: int | None = None, urgent: bool = False) -> None:
        """Queue a mail in this message's transaction; `urgent` (or an urgent draft) sends it ahead of the rest."""
        urgent = urgent or draft.urgent
        enqueue(self.s, key=key + self.tag, kind=kind, draft=draft, sender=self.app.identity, now=self.app.now(),
                answers_addr=answers, request_id=request_id, priority=int(urgent))
        self.urgent_queued = self.urgent_queued or urgent

    def push(self, key: str, title: str, text: str, request_id: int | None = None) -> None:
        """Tell the configured instant-message robots (`push` in the settings): outbox rows, sent first."""
        for channel in self.app.settings.push:
            ident = f"{key}:{channel.name}{self.tag}"
            body = json.dumps(payload(channel.kind, title, text), ensure_ascii=False).encode()
            insert_row(self.s, key=ident, kind="push", message_id=f"<{ident}@push>", raw=body, subject=title,
                       recipients=channel.name, now=self.app.now(), request_id=request_id, priority=1)
            self.urgent_queued = True

    @property
    def department(self) -> str:
        return self.app.department

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
               at_once: bool = True, next_step: str | None = None) -> tuple[str, str]:
    """Set a message aside with its reason; the operator is told at once — the mail attached, with the next step —
    or in the next digest (`pipeline.digest`)."""
    reason = reason if len(reason) <= _REASON_CHARS else reason[:_REASON_CHARS - 1] + "…"
    now = ctx.app.now()
    ctx.s.add(Quarantine(inbound_id=msg.id, reason=reason, detail=detail, created_at=now,
                         notified_at=now if at_once else None))
    if at_once:
        info = {"id": msg.id, "from_addr": msg.from_addr or "", "subject": msg.subject or "",
                "received_at": msg.received_at}
        step = next_step or (f"排除上述原因后（例如在 directory.yaml 中更正或登记发件人），运行 mailbot reparse {msg.id} "
                             f"重新处理；不需处理的邮件可不理会。")
        ctx.queue(f"operator:quarantine:{msg.id}", "operator", operator_mail(
            ctx.department, ctx.app.settings.operator, f"邮件已隔离：{reason}", reason, message=info,
            details=detail, next_step=step.format(id=msg.id), original=msg.raw))
    return "quarantined", f"quarantined: {reason}"


_REASON_CHARS = 200  # Quarantine.reason's column
