"""What the requests (诉求) capability mails: urgent forwards and acknowledgements, notices, answers, refusals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from parsers import CATEGORY_LABELS, ParsedMessage

from mailbot.db.models import Customer, Person, Request, Unit
from mailbot.domain.commands import STATUS_CN
from mailbot.outbox.compose import Draft, Thread, clip
from mailbot.outbox.drafts import draft, echoed_subject, thread_of, unit_context
from mailbot.requests.store import title_of


def urgent_forward_mail(department: str, p: ParsedMessage, raw: bytes, req: Request,
                        recipients: Sequence[Person], unit: Unit | None, customer: Customer | None,
                        received_at: datetime, reasons: Sequence[str], *,
                        open_requests: Sequence[Request] = (), last_report: dict[str, object] | None = None,
                        candidates: Sequence[Customer] = (), reply_address: str) -> Draft:
    names = "、".join(r.name for r in recipients)
    others = [{"number": r.number, "status_cn": STATUS_CN[r.status], "unit_name": r.unit.name if r.unit else None,
               "text": r.text} for r in open_requests if r.id != req.id]
    return draft("urgent_forward", [r.email for r in recipients], original=raw, urgent=True, department=department,
                 due_at=req.due_at, reply_address=reply_address,
                  recipient_name=names, unit=unit_context(unit) if unit else None,
                  customer={"code": customer.code, "name": customer.name} if customer else None,
                  candidates=[{"code": c.code, "name": c.name} for c in candidates],
                  sender={"name": clip(p.envelope.from_name), "addr": clip(p.envelope.from_addr)},
                  original_subject=echoed_subject(p), received_at=received_at,
                  text=req.text, request_number=req.number, reasons=list(reasons), open_requests=others,
                  last_report=last_report)


def urgent_ack_mail(department: str, p: ParsedMessage, unit: Unit | None, req: Request,
                    recipients: Sequence[Person]) -> Draft:
    return draft("urgent_ack", [p.envelope.from_addr], thread=thread_of(p), department=department,
                  unit=unit_context(unit) if unit else None, request_number=req.number,
                  original_subject=echoed_subject(p),
                  forwarded_to=[r.name for r in recipients])


SOURCE_CN = {"strategic": "战略客户月报", "vip": "VIP客户月报", "urgent": "紧急事项", "survey": "满意度调查",
             "campaign": "全国性产品及服务方案推广"}


ACTION_CN = {"created": "登记", "reported_again": "再次报告", "status": "状态变更", "transfer": "转交",
             "answer": "答复单位", "approval": "提交集团审议", "note": "备注", "comment": "来信",
             "close": "关闭", "overdue": "逾期提醒", "escalated": "逾期上报", "urgent_ladder": "紧急督促"}


NOTICE_CN = {"assigned": "待办", "transferred": "转交", "reported_again": "再次报告", "unit_comment": "单位来信",
             "overdue": "逾期", "escalated": "逾期上报", "urgent_ladder": "紧急未回复"}


def request_card(req: Request) -> dict[str, object]:
    return {"number": req.number, "title": title_of(req), "status_cn": STATUS_CN.get(req.status, req.status),
            "source_cn": SOURCE_CN.get(req.source, req.source), "unit_name": req.unit.name if req.unit else None,
            "customer": f"{req.customer.code} {req.customer.name}" if req.customer else None,
            "category_label": f"{req.category}. {CATEGORY_LABELS[req.category]}" if req.category else None,
            "text": req.text, "created_at": req.created_at, "due_at": req.due_at,
            "assignee_name": req.assignee.name if req.assignee else None}


def _history(req: Request) -> list[dict[str, object]]:
    return [{"at": e.at, "actor": e.actor, "action": e.action, "action_cn": ACTION_CN.get(e.action, e.action),
             "detail": e.detail} for e in req.events]


def request_notice_mail(department: str, reason: str, req: Request, to: Sequence[Person], *, lead: str,
                        reply_address: str, note: str | None = None, note_label: str = "新情况",
                        cc: Sequence[str] = ()) -> Draft:
    """To HQ staff about a 诉求; `reply_address` is the bot's, for the one-click commands."""
    return draft("request_notice", [p.email for p in to], cc=cc, department=department, reply_address=reply_address,
                  reason_cn=NOTICE_CN[reason], recipient_name="、".join(p.name for p in to), lead=lead,
                  note=note, note_label=note_label, req=request_card(req), history=_history(req))


def request_answer_mail(department: str, req: Request, to: Sequence[str], answer: str, answered_by: str,
                        thread: Thread | None) -> Draft:
    return draft("request_answer", to, thread=thread, department=department, req=request_card(req),
                  answer=answer, answered_by=answered_by)


# What a unit may read of a 诉求's history: HQ's internal notes (备注) stay internal.
_UNIT_VISIBLE = frozenset({"created", "reported_again", "status", "transfer", "answer", "approval", "close",
                           "comment", "overdue", "escalated"})


def request_status_mail(department: str, req: Request, to: str, thread: Thread) -> Draft:
    """To a unit that asked "查询": where its 诉求 stands, and what has happened (without HQ's internal notes)."""
    return draft("request_status", [to], thread=thread, department=department, req=request_card(req),
                 history=[e for e in _history(req) if e["action"] in _UNIT_VISIBLE])


def request_digest_mail(department: str, to: Sequence[str], name: str, requests: Sequence[Request], now: datetime,
                        *, board: bool) -> Draft:
    """The week's open 诉求: a 承办人's own, or (`board`) everyone's for the 部门负责人; overdue first."""
    rows = [{**request_card(r), "overdue_days": (now - r.due_at).days if r.due_at and r.due_at < now else 0,
             "ok": r.due_at is None or r.due_at >= now} for r in requests]
    return draft("request_digest", to, department=department, recipient_name=name, board=board, rows=rows,
                 overdue=sum(1 for row in rows if not row["ok"]), today=now)


def request_update_ack_mail(department: str, req: Request, actor: Person, changes: Sequence[str],
                            problems: Sequence[str], thread: Thread) -> Draft:
    return draft("request_update_ack", [actor.email], thread=thread, department=department,
                  req=request_card(req), actor_name=actor.name, changes=list(changes), problems=list(problems))


def request_refused_mail(department: str, p: ParsedMessage, number: str) -> Draft:
    return draft("request_refused", [p.envelope.from_addr], thread=thread_of(p), department=department,
                  number=number, original_subject=clip(p.envelope.subject))
