"""What the monthly cycle mails: the request with its form, reminders, escalations, acknowledgements, error replies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date

from parsers import CATEGORY_LABELS, ParsedMessage, Problem, render_form

from mailbot.db.models import Request, Submission, Unit
from mailbot.directory.lookup import unit_recipients
from mailbot.outbox.compose import Attachment, Draft, Thread
from mailbot.outbox.drafts import draft, echoed_subject, period_view, thread_of, unit_context
from mailbot.reports.campaign_forms import RidingForm
from mailbot.reports.workbook import CONTENT_TYPE, build_workbook, workbook_filename


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


def request_mail(department: str, unit: Unit, period_key: str, deadline: date, token: str,
                 open_matters: Sequence[dict[str, str]], riding: Sequence[RidingForm] = ()) -> Draft:
    """`riding`: the feedback forms of campaigns answered with the monthly request, above the monthly form."""
    return draft("request", unit_recipients(unit),
                 attachments=[unit_workbook(unit, period_key, token), *(r.workbook for r in riding)],
                 department=department, unit=unit_context(unit), workbook=workbook_filename(unit.code, period_key),
                 period=period_view(period_key), deadline=deadline, token=token,
                 form_text=unit_form(unit, period_key, token), open_matters=list(open_matters),
                 campaigns=[r.view() for r in riding])


def reminder_mail(department: str, unit: Unit, period_key: str, deadline: date, token: str, days_left: int,
                  thread: Thread | None, riding: Sequence[RidingForm] = ()) -> Draft:
    return draft("reminder", unit_recipients(unit), thread=thread,
                 attachments=[unit_workbook(unit, period_key, token), *(r.workbook for r in riding)],
                 department=department, workbook=workbook_filename(unit.code, period_key),
                 unit=unit_context(unit), period=period_view(period_key), deadline=deadline, token=token,
                 days_left=days_left, form_text=unit_form(unit, period_key, token),
                 campaigns=[r.view() for r in riding])


def escalation_mail(department: str, unit: Unit, period_key: str, deadline: date, token: str,
                    reminders_sent: int) -> Draft:
    cc = [a for a in unit_recipients(unit) if a != unit.leader_email]
    return draft("escalation", [unit.leader_email or ""], cc=cc, department=department,
                  unit=unit_context(unit), period=period_view(period_key), deadline=deadline, token=token,
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
             warnings: Sequence[Problem], requests: Sequence[tuple[Request, bool]] = (),
             riders: Sequence[Mapping[str, object]] = ()) -> Draft:
    """The receipt for an accepted report; `names` are the customers' names by code; `requests` the 诉求 the report
    opened or was merged into (with True when merged), so the unit knows their numbers; `riders` what was recorded
    from the campaign feedback that came with it (`Rider.record`), one section each."""
    return draft("ack", [p.envelope.from_addr], thread=thread_of(p), department=department,
                  unit=unit_context(sub.unit), period=period_view(sub.period.key), token=token,
                  version=sub.version, on_time=sub.on_time, received_at=sub.received_at,
                  summary=_summary(p, names), warnings=[_problem_text(w) for w in warnings],
                  urgent_text=sub.urgent_text, requests=[_request_line(r, merged) for r, merged in requests],
                  read_from=p.form_source if p.form_source not in (None, "body") else None,
                  campaigns=[dict(r) for r in riders])


def _request_line(r: Request, merged: bool) -> dict[str, object]:
    return {"number": r.number, "customer": f"{r.customer.code} {r.customer.name}" if r.customer else "",
            "text": r.text, "assignee": r.assignee.name if r.assignee else None, "due_at": r.due_at, "merged": merged}


def _problem_text(p: Problem) -> str:
    return f"{p.where}：{p.message}" if p.where else p.message


def error_mail(department: str, p: ParsedMessage, unit: Unit | None, period_key: str | None,
               token: str | None, problems: Sequence[Problem], names: Mapping[str, str] | None = None,
               riding: Sequence[tuple[str, str, Sequence[Problem]]] = ()) -> Draft:
    """What to fix, one plain sentence per problem (`names`: customers' names by code), and the sender's own form
    back with the wrong answers marked. `riding`: (title, the sender's copy, its problems) of each campaign
    feedback form that came with the report — its problems listed after the report's, its copy quoted back above
    the monthly form with its own wrong answers marked, so the corrected reply carries both again."""
    every = [*problems, *(x for _, _, found in riding for x in found)]
    return draft("error_reply", [p.envelope.from_addr], thread=thread_of(p), department=department,
                 unit=unit_context(unit) if unit else None,
                 period=period_view(period_key) if period_key else None, token=token,
                 problems=[problem_sentence(x, names or {}) for x in every],
                 form_text=p.form_text, marked=marked_lines(p.form_text or "", problems),
                 original_subject=echoed_subject(p),
                 campaigns=[{"title": title, "form_text": text, "marked": marked_lines(text, found)}
                            for title, text, found in riding])


_CHOICE = re.compile(r"^(?P<field>.+?)只能填(?P<options>.+?)，填写的是“(?P<value>.*)”$", re.S)
# A customer's block in the monthly form, or in a campaign feedback form riding with it (【客户】).
_BLOCK = re.compile(r"^[>\s]*[【\[［](?:战略客户|VIP客户|客户)[】\]］]\s*([SV]\d+)")
# A numbered label ("1. 进展阶段"): the field is named without its number.
_NUMBER = re.compile(r"^(?:\d+\s*[.．、)）]|[(（]\d+[)）])\s*")


def problem_sentence(p: Problem, names: Mapping[str, str]) -> str:
    """ "S001/风险等级: 风险等级只能填…，填写的是“较大”" → "S001 国家电网有限公司的“风险等级”填写为“较大”，不在可选范围内，
    请改为“无”“一般”或“重大”。" """
    message = p.message.rstrip("。")
    block, _, field = p.where.partition("/")
    owner = f"{block} {names[block]}" if block in names else block
    if not p.where:
        return message + "。"
    if not field:
        return f"{owner}：{message}。"
    choice = _CHOICE.match(message)
    if choice:
        return f"{owner}的“{field}”填写为“{choice['value']}”，不在可选范围内，请改为{choice['options']}。"
    return f"{owner}的“{field}”：{message}。"


def marked_lines(form_text: str, problems: Sequence[Problem]) -> list[int]:
    """The lines of the sender's form (0-based) holding a wrong answer: the field's line in its customer's block."""
    wanted = {(block, field) for block, _, field in (x.where.partition("/") for x in problems) if field}
    marked, block = [], None
    for i, line in enumerate(form_text.splitlines()):
        opened = _BLOCK.match(line)
        if opened:
            block = opened.group(1)
        elif any(b == block and _labelled(line, f) for b, f in wanted):
            marked.append(i)
    return marked


def _labelled(line: str, field: str) -> bool:
    """Whether a form line is the field's own: its label, a number before it dropped (1. 进展阶段)."""
    return _NUMBER.sub("", line.lstrip("> \t"), count=1).startswith(field)
