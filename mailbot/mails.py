"""What each outgoing mail says: build the template context from the database, render, and make a Draft.

The templates (templates/email/) own the wording; this module owns which facts
go into them and to whom the mail goes. Intake and the calendar jobs call these
functions and queue the result under an idempotency key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from parsers import CATEGORY_LABELS, ParsedMessage, Problem, render_form

from mailbot.db.models import Customer, Person, Request, Submission, Unit
from mailbot.domain.commands import STATUS_CN
from mailbot.domain.due import Period
from mailbot.outbox.compose import Attachment, Draft, Thread, clip
from mailbot.outbox.render import render_mail
from mailbot.xlsxform import CONTENT_TYPE, build_workbook, workbook_filename


@dataclass(frozen=True)
class PeriodView:
    key: str
    label: str


def period_view(key: str) -> PeriodView:
    return PeriodView(key=key, label=Period.parse(key).label)


def _draft(name: str, to: Sequence[str], *, cc: Sequence[str] = (), thread: Thread | None = None,
           attachments: Sequence[Attachment] = (), original: bytes | None = None, **ctx: object) -> Draft:
    r = render_mail(name, **ctx)
    return Draft(to=list(to), cc=list(cc), subject=r.subject, text=r.text, html=r.html, thread=thread,
                 attachments=list(attachments), original=original)


def thread_of(p: ParsedMessage) -> Thread:
    return Thread(message_id=p.envelope.message_id, references=p.envelope.references)


def echoed_subject(p: ParsedMessage) -> str:
    """The sender's subject as our mails repeat it (subject line and body): cut to a recognisable length,
    because its length is the sender's choice and a huge one would make our answer undeliverable."""
    return clip(p.envelope.subject) or "（无主题）"


def _blocks(unit: Unit) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    mine = [c for c in unit.customers if c.active]
    return ([(c.code, c.name) for c in mine if c.kind == "strategic"],
            [(c.code, c.name) for c in mine if c.kind == "vip"])


def unit_form(unit: Unit, period_key: str, token: str) -> str:
    strategic, vip = _blocks(unit)
    return render_form(token=token, unit_code=unit.code, unit_name=unit.name, period=period_key,
                       strategic=strategic, vip=vip)


def unit_workbook(unit: Unit, period_key: str, token: str) -> Attachment:
    """The same form as an .xlsx a unit may fill and return instead of the mail body."""
    strategic, vip = _blocks(unit)
    data = build_workbook(token=token, unit_code=unit.code, unit_name=unit.name, period=period_key,
                          strategic=strategic, vip=vip)
    return Attachment(workbook_filename(unit.code, period_key), data, *CONTENT_TYPE)


def _unit_ctx(unit: Unit) -> dict[str, str | None]:
    contact = next((p for p in unit.contacts if p.active), None)
    return {"code": unit.code, "name": unit.name, "contact_name": contact.name if contact else "",
            "leader_name": unit.leader_name or ""}


def contact_addresses(unit: Unit) -> list[str]:
    return [p.email for p in unit.contacts if p.active]


def request_mail(department: str, unit: Unit, period_key: str, deadline: date, token: str,
                 open_matters: Sequence[dict[str, str]]) -> Draft:
    return _draft("request", contact_addresses(unit), attachments=[unit_workbook(unit, period_key, token)],
                  department=department, unit=_unit_ctx(unit),
                  period=period_view(period_key), deadline=deadline, token=token,
                  form_text=unit_form(unit, period_key, token), open_matters=list(open_matters))


def reminder_mail(department: str, unit: Unit, period_key: str, deadline: date, token: str, days_left: int,
                  thread: Thread | None) -> Draft:
    return _draft("reminder", contact_addresses(unit), thread=thread,
                  attachments=[unit_workbook(unit, period_key, token)], department=department,
                  unit=_unit_ctx(unit), period=period_view(period_key), deadline=deadline, token=token,
                  days_left=days_left, form_text=unit_form(unit, period_key, token))


def escalation_mail(department: str, unit: Unit, period_key: str, deadline: date, token: str,
                    reminders_sent: int) -> Draft:
    return _draft("escalation", [unit.leader_email or ""], cc=contact_addresses(unit), department=department,
                  unit=_unit_ctx(unit), period=period_view(period_key), deadline=deadline, token=token,
                  reminders_sent=reminders_sent)


def _summary(p: ParsedMessage, names: Mapping[str, str]) -> list[dict[str, object]]:
    """What the report said, customer by customer, as it was stored (from the accepted parse, not read back)."""
    out: list[dict[str, object]] = []
    for b in p.strategic:
        lines = [{"label": f"{n}. {CATEGORY_LABELS[n]}", "text": text}
                 for n, text in sorted((int(k), v) for k, v in b.items.items() if v is not None)]
        out.append({"code": b.customer, "name": names[b.customer], "kind": "战略客户", "lines": lines,
                    "risk": b.risk, "needs_hq": b.needs_hq})
    for v in p.vip:
        lines = [{"label": label, "text": text}
                 for label, text in (("问题或诉求", v.issue), ("本单位处理情况", v.handling)) if text]
        out.append({"code": v.customer, "name": names[v.customer], "kind": "VIP客户", "lines": lines,
                    "risk": None, "needs_hq": v.needs_hq})
    return out


def ack_mail(department: str, p: ParsedMessage, sub: Submission, names: Mapping[str, str], token: str,
             warnings: Sequence[Problem]) -> Draft:
    """The receipt for an accepted report; `names` are the customers' names by code."""
    return _draft("ack", [p.envelope.from_addr], thread=thread_of(p), department=department,
                  unit=_unit_ctx(sub.unit), period=period_view(sub.period.key), token=token,
                  version=sub.version, on_time=sub.on_time, received_at=sub.received_at,
                  summary=_summary(p, names), warnings=[_problem_text(w) for w in warnings],
                  urgent_text=sub.urgent_text)


def _problem_text(p: Problem) -> str:
    return f"{p.where}：{p.message}" if p.where else p.message


def error_mail(department: str, p: ParsedMessage, unit: Unit | None, period_key: str | None,
               token: str | None, problems: Sequence[Problem]) -> Draft:
    return _draft("error_reply", [p.envelope.from_addr], thread=thread_of(p), department=department,
                  unit=_unit_ctx(unit) if unit else None,
                  period=period_view(period_key) if period_key else None, token=token,
                  problems=[{"where": x.where, "message": x.message} for x in problems],
                  form_text=p.form_text, original_subject=echoed_subject(p))


def urgent_forward_mail(department: str, p: ParsedMessage, raw: bytes, req: Request,
                        recipients: Sequence[Person], unit: Unit | None, customer: Customer | None,
                        received_at: datetime, reasons: Sequence[str], *,
                        open_requests: Sequence[Request] = (), last_report: dict[str, object] | None = None) -> Draft:
    names = "、".join(r.name for r in recipients)
    others = [{"number": r.number, "status_cn": STATUS_CN[r.status], "unit_name": r.unit.name if r.unit else None,
               "text": r.text} for r in open_requests if r.id != req.id]
    return _draft("urgent_forward", [r.email for r in recipients], original=raw, department=department,
                  recipient_name=names, unit=_unit_ctx(unit) if unit else None,
                  customer={"code": customer.code, "name": customer.name} if customer else None,
                  sender={"name": clip(p.envelope.from_name), "addr": clip(p.envelope.from_addr)},
                  original_subject=echoed_subject(p), received_at=received_at,
                  text=req.text, request_number=req.number, reasons=list(reasons), open_requests=others,
                  last_report=last_report)


def urgent_ack_mail(department: str, p: ParsedMessage, unit: Unit | None, req: Request,
                    recipients: Sequence[Person]) -> Draft:
    return _draft("urgent_ack", [p.envelope.from_addr], thread=thread_of(p), department=department,
                  unit=_unit_ctx(unit) if unit else None, request_number=req.number,
                  original_subject=echoed_subject(p),
                  forwarded_to=[r.name for r in recipients])


def operator_mail(department: str, operator: str, title: str, reason: str, *,
                  message: dict[str, object] | None = None, details: str | None = None) -> Draft:
    """A notice to the operator; `message` (id, from_addr, subject, received_at) is the inbound mail concerned.

    The title may carry a reason quoting the mail, and the mail's sender and subject are the sender's to choose:
    each is cut like any echo. `details` (a traceback) stays whole: it is ours and the operator needs all of it.
    """
    if message is not None:
        message = {**message, **{k: clip(str(message[k])) for k in ("from_addr", "subject") if message.get(k)}}
    return _draft("operator_notice", [operator], department=department, title=clip(title), reason=reason,
                  message=message, details=details)


def operator_digest_mail(department: str, operator: str, items: Sequence[dict[str, object]]) -> Draft:
    """Quarantines that can wait, in one mail; each item: id, from_addr, subject, received_at, reason."""
    cut = [{**i, "from_addr": clip(str(i["from_addr"] or "")), "subject": clip(str(i["subject"] or ""))} for i in items]
    return _draft("operator_digest", [operator], department=department, items=cut)


def bulletin_mail(department: str, to: Sequence[str], period_key: str, pdf: bytes, filename: str,
                  stats: dict[str, int], missing_units: Sequence[str], late_units: Sequence[str]) -> Draft:
    return _draft("bulletin_cover", to, attachments=[Attachment(filename, pdf, "application", "pdf")],
                  department=department, period=period_view(period_key), filename=filename, stats=stats,
                  missing_units=list(missing_units), late_units=list(late_units))


# --- requests (诉求) -------------------------------------------------------------

SOURCE_CN = {"strategic": "战略客户月报", "vip": "VIP客户月报", "urgent": "紧急事项"}
ACTION_CN = {"created": "登记", "reported_again": "再次报告", "status": "状态变更", "transfer": "转交",
             "answer": "答复单位", "approval": "提交集团审议", "note": "备注", "comment": "来信",
             "close": "关闭", "overdue": "逾期提醒", "escalated": "逾期上报"}
NOTICE_CN = {"assigned": "待办", "transferred": "转交", "reported_again": "再次报告", "unit_comment": "单位来信",
             "overdue": "逾期", "escalated": "逾期上报"}


def request_card(req: Request) -> dict[str, object]:
    return {"number": req.number, "status_cn": STATUS_CN.get(req.status, req.status),
            "source_cn": SOURCE_CN.get(req.source, req.source), "unit_name": req.unit.name if req.unit else None,
            "customer": f"{req.customer.code} {req.customer.name}" if req.customer else None,
            "category_label": f"{req.category}. {CATEGORY_LABELS[req.category]}" if req.category else None,
            "text": req.text, "created_at": req.created_at, "due_at": req.due_at,
            "assignee_name": req.assignee.name if req.assignee else None}


def _history(req: Request) -> list[dict[str, object]]:
    return [{"at": e.at, "actor": e.actor, "action_cn": ACTION_CN.get(e.action, e.action), "detail": e.detail}
            for e in req.events]


def request_notice_mail(department: str, reason: str, req: Request, to: Sequence[Person], *, lead: str,
                        note: str | None = None, note_label: str = "新情况", cc: Sequence[str] = ()) -> Draft:
    return _draft("request_notice", [p.email for p in to], cc=cc, department=department,
                  reason_cn=NOTICE_CN[reason], recipient_name="、".join(p.name for p in to), lead=lead,
                  note=note, note_label=note_label, req=request_card(req), history=_history(req))


def request_answer_mail(department: str, req: Request, to: Sequence[str], answer: str, answered_by: str,
                        thread: Thread | None) -> Draft:
    return _draft("request_answer", to, thread=thread, department=department, req=request_card(req),
                  answer=answer, answered_by=answered_by)


def request_update_ack_mail(department: str, req: Request, actor: Person, changes: Sequence[str],
                            problems: Sequence[str], thread: Thread) -> Draft:
    return _draft("request_update_ack", [actor.email], thread=thread, department=department,
                  req=request_card(req), actor_name=actor.name, changes=list(changes), problems=list(problems))


def request_refused_mail(department: str, p: ParsedMessage, number: str) -> Draft:
    return _draft("request_refused", [p.envelope.from_addr], thread=thread_of(p), department=department,
                  number=number, original_subject=clip(p.envelope.subject))
