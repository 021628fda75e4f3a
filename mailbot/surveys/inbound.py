"""A survey response: matched to the customer it answers, checked against who may answer for that customer,
counted (a newer answer replaces the older, versions kept) and acknowledged — or answered with what to fix.

Who may answer: the customer's own contacts, and, for a customer surveyed through its unit (代填), that unit's
contacts. Anyone else's answer is quarantined, never counted: survey mail crosses the group's border, and a
score is only worth what its sender is. A score of 2 or less — or a comment the unit filling in marks as a
complaint ("投诉：…") — opens (or joins) a 诉求 for the customer's 总部对接人, so low satisfaction is followed up
rather than only counted.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from parsers import ParsedMessage

from mailbot.db.models import InboundMessage, Person, Request, Survey, SurveyTarget
from mailbot.directory.lookup import duty_people
from mailbot.outbox.queue import replied_to
from mailbot.pipeline.context import Ctx, Sender, quarantine
from mailbot.requests.inbound import notify_assignee
from mailbot.requests.store import open_or_merge
from mailbot.surveys import mails
from mailbot.surveys.results import questions_of
from mailbot.surveys.store import deadline_passed, find_target, record_response

LOW_SCORE = 2
# A unit filling in for its customer (代填) marks a comment as the customer's complaint by starting it so:
# "投诉：…" or "【投诉】…" — followed up like a low score, not only counted (SURVEY.md "Follow-up").
COMPLAINT = re.compile(r"^\s*(?:[【\[［]\s*投诉\s*[】\]］]|投诉\s*[:：])\s*")


def route(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, known: Sender) -> tuple[str, str] | None:
    """A survey response, or any mail from a customer's own contact; a unit's other mail is not ours."""
    sender, addr = known.person, p.envelope.from_addr
    target = _target(ctx.s, p)
    if target is None:
        if sender.role == "customer":
            return quarantine(ctx, msg, f"客户联系人 {addr} 的来信与任何满意度调查无关", at_once=False)
        return None
    if not _may_answer_for(sender, target):
        return quarantine(ctx, msg, f"发件人 {addr} 不是客户 {target.customer.code} 的登记联系人"
                                    f"{'或代填单位的联系人' if target.unit else ''}，调查答复未计入")
    survey = target.survey
    msg.unit_id = sender.unit_id
    if survey.status == "closed":
        return "processed", f"survey {survey.number} closed: not counted"
    answer = p.survey
    may_answer = ctx.may_answer(addr)
    problems = ([f"{e.where}：{e.message}" if e.where else e.message for e in answer.errors] if answer
                else ["邮件中未找到调查表。请直接回复调查邮件，在调查表中填写后发送"])
    if problems:
        if may_answer:
            form = answer.text if answer else mails.form_text(survey, target, questions_of(survey))
            ctx.queue(f"survey-error:{target.token}:{msg.id}", "error_reply",
                      mails.error_mail(ctx.department, p, survey, target, problems, form), answers=addr)
        return "answered", f"survey {target.token}: {len(problems)} problem(s)"
    assert answer is not None
    late = deadline_passed(survey, msg.received_at, ctx.app.tz)
    by_unit = sender.role == "contact"
    response = record_response(ctx.s, target, msg, answer, by_unit=by_unit, deadline_passed=late)
    low = [n for n, score in answer.scores.items() if score is not None and score <= LOW_SCORE]
    complaints = [n for n, text in answer.texts.items() if by_unit and text and COMPLAINT.match(text)]
    if low or complaints:
        _follow_up(ctx, msg, p, survey, target, low, complaints)
    if may_answer:
        ctx.queue(f"survey-ack:{target.token}:{msg.id}", "ack", mails.ack_mail(
            ctx.department, p, survey, target, questions_of(survey), version=response.version, late=late,
            by_unit=by_unit, followed=bool(low or complaints)), answers=addr)
    return "processed", f"survey {target.token}: v{response.version}{' late' if late else ''}"


def _target(s: Session, p: ParsedMessage) -> SurveyTarget | None:
    """The customer a mail answers for: the form's 编号 first, then the thread of our survey mail (every survey
    mail's key is ``survey-<what>:<token>…``)."""
    if p.survey is not None and p.survey.token:
        found = find_target(s, p.survey.token)
        if found is not None:
            return found
    for ours in replied_to(s, p.envelope.thread_ids):
        if ours.idem_key.startswith("survey-"):
            return find_target(s, ours.idem_key.split(":")[1])
    return None


def _may_answer_for(sender: Person, target: SurveyTarget) -> bool:
    if sender.role == "customer":
        return any(c.id == sender.id for c in target.customer.contacts)
    return sender.role == "contact" and target.unit_id is not None and sender.unit_id == target.unit_id


def _follow_up(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, survey: Survey, target: SurveyTarget,
               low: list[str], complaints: list[str]) -> Request:
    answer = p.survey
    assert answer is not None
    questions = questions_of(survey)
    what = "给出低分" if low and not complaints else "提出投诉" if not low else "给出低分并提出投诉"
    lines = [f"{target.customer.name}在“{survey.title}”中{what}："]
    lines += [f"第{n}题 {questions[int(n) - 1].text}：{answer.scores[n]}分" for n in low]
    lines += [f"{'投诉' if n in complaints else '意见'}：{COMPLAINT.sub('', text) if n in complaints else text}"
              for n, text in answer.texts.items() if text]
    unit = target.unit or next((u for u in target.customer.units if u.active), None)
    # A customer without its own 总部对接人 (a VIP customer): the duty list's first, as for a report's 诉求.
    duty = duty_people(ctx.s, ctx.app.directory.duty_addresses())
    req, merged = open_or_merge(ctx.s, ctx.app.settings.requests, source="survey", unit=unit,
                                customer=target.customer, category=None, text="\n".join(lines), inbound=msg,
                                calendar=ctx.app.calendar, tz=ctx.app.tz,
                                assignee=target.customer.hq_staff or (duty[0] if duty else None),
                                subject=f"满意度调查{'低分' if low else '投诉'}：{target.customer.name}")
    if not merged:
        notify_assignee(ctx, req, "assigned", f"req-notice:{req.number}:assigned",
                        lead=f"{target.customer.name}在满意度调查 {survey.number} 中{what}，请跟进。")
    return req
