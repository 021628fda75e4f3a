"""A unit contact's mail: the monthly report (validated, filed, acknowledged or answered with what to fix),
urgent mail (handed to `requests.urgent`), or — a failed attempt at the report with no form — how to report.

The report number and thread must be the sender's own unit's: another unit's number is refused.

A report may carry another form answered in the same reply — the feedback of a campaign that rides in the
monthly request. That capability sits above this one, so it hands its part in as a `Rider`: checked with the
report (one error reply lists the problems of both, nothing recorded until both are right), filling what it
answers of the report, recorded with it, and shown in the report's one acknowledgement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from parsers import ParsedMessage, Problem

from mailbot.db.models import InboundMessage, Period, ReportRequest, Submission, Unit
from mailbot.directory.lookup import customers_by_code, duty_people
from mailbot.domain.report_attempt import attempts_report
from mailbot.domain.validate import validate_report
from mailbot.pipeline.context import Ctx, Sender, quarantine
from mailbot.reports.mails import ack_mail, error_mail
from mailbot.reports.store import current_submission, ensure_period, local_period, persist_submission, unit_view
from mailbot.requests.inbound import notify_assignee
from mailbot.requests.urgent import handle_urgent


class Rider(Protocol):
    """Another form answered in the same reply as the monthly report."""

    def problems(self) -> list[tuple[str, str, Sequence[Problem]]]:
        """(title, the sender's copy, its problems) of every riding form: all of them are quoted back when any
        form has something to fix, since nothing of the reply is recorded."""

    def fill(self, p: ParsedMessage) -> ParsedMessage:
        """The report with what the riding forms answer of it filled in (before it is stored)."""

    def record(self, period: Period, sub: Submission) -> Sequence[Mapping[str, object]]:
        """Record the riding forms with the accepted report; what the acknowledgement shows of each."""


def route(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, known: Sender,
          rider: Rider | None = None) -> tuple[str, str] | None:
    """A unit contact's mail about the monthly report or an urgent matter, or a failed attempt at the report (told
    how to report); a contact's other mail, and anyone else's, is not ours. `rider`: the campaign feedback
    that came with a report."""
    sender, env = known.person, p.envelope
    if sender.role != "contact" or sender.unit is None:
        return None
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
        notes.append(handle_report(ctx, msg, p, unit, period, token, answer=may_answer, rider=rider))
    elif not p.urgent:
        attempt = attempts_report(answers_our_request=rr is not None, carries_report_number=p.token is not None,
                                  attachment_names=(a.filename for a in p.attachments),
                                  month_accepted=current_submission(ctx.s, period.id, unit.id) is not None)
        if not attempt:
            return None  # correspondence: `correspondence.route` hands it to a person
        if may_answer:
            ctx.queue(f"error:{msg.id}", "error_reply", error_mail(
                ctx.department, p, unit, period.key, token,
                [Problem("", "邮件中未找到填报单。请直接回复月度报送通知邮件，在填报单中填写后发送；"
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
                  token: str | None, *, answer: bool, rider: Rider | None = None) -> str:
    verdict = validate_report(p, unit_view(ctx.s, unit))
    riding = rider.problems() if rider is not None else []
    addr = p.envelope.from_addr
    if not verdict.accepted or any(found for _, _, found in riding):
        if answer:
            names = {code: c.name for code, c in customers_by_code(ctx.s).items()}
            ctx.queue(f"error:{msg.id}", "error_reply", error_mail(
                ctx.department, p, unit, period.key, token, verdict.problems, names, riding), answers=addr)
        count = len(verdict.problems) + sum(len(found) for _, _, found in riding)
        return f"rejected: {count} problem(s)"
    if rider is not None:
        p = rider.fill(p)
    duty = duty_people(ctx.s, ctx.app.directory.duty_addresses())
    sub, requests = persist_submission(ctx.s, msg, p, unit, period, ctx.app.tz, ctx.app.settings.requests,
                                       duty[0] if duty else None, ctx.app.calendar)
    for req, merged in requests:
        if not merged:
            notify_assignee(ctx, req, "assigned", f"req-notice:{req.number}:assigned",
                            lead=f"{unit.name}在{period.key}月报中提出需总部协调的事项，请办理。")
    sections = rider.record(period, sub) if rider is not None else ()
    if answer:
        names = {code: c.name for code, c in customers_by_code(ctx.s).items()}
        ctx.queue(f"ack:{msg.id}", "ack", ack_mail(ctx.department, p, sub, names, token or "", verdict.warnings,
                                                   requests, sections), answers=addr)
    return f"accepted v{sub.version} {'on time' if sub.on_time else 'late'}" + (
        f", campaign feedback: {len(sections)}" if sections else "")


_REQUEST_BY_MESSAGE_ID = select(ReportRequest).where(ReportRequest.message_id.in_(bindparam("ids", expanding=True)))
_REQUEST_BY_TOKEN = select(ReportRequest).where(ReportRequest.token == bindparam("token"))
