"""Mail about a visit: the summary, follow-up progress, and anything else people reply (§7.1.4, §7.2.3).

Intake asks `find_visit` first: a reply to any mail the bot sent about a
visit (our Message-ID in In-Reply-To/References → OutboxMail.visit_id), else
a `VIS-yyyy-nnnn` number in the subject, else the number in a filled summary
or progress form. Monthly reports and mail marked urgent in its subject or
urgent block never count as visit mail: they have their own, more important
paths. Header-only urgency (Importance: high) does not divert a visit reply,
because some clients set it on everything.

`handle_visit_reply` then reads, in this order:

1. a calendar client's automatic accept/decline → ignored;
2. a filled progress form (【后续事项进展】) → a progress note on the follow-up,
   done when 是否完成 says so; acknowledged;
3. a filled summary form → 会谈纪要 and 达成事项 filed in the archive, each
   follow-up action recorded and its owner told; acknowledged to the sender
   with the other party in copy, or answered with the exact problems;
4. free text in a follow-up's thread → a progress note ("已完成" alone on a
   line closes it); elsewhere → a comment on the visit.

Only HQ staff, contacts of the visit's units and the owners of its follow-ups
may write about a visit; anyone else's mail is quarantined.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from parsers import ParsedMessage, Problem

from mailbot.db.models import FollowUp, InboundMessage, Person, Visit, VisitNote
from mailbot.outbox.compose import Draft
from mailbot.outbox.drafts import thread_of
from mailbot.outbox.queue import enqueue, replied_to
from mailbot.pipeline.context import Ctx, Sender, quarantine
from mailbot.visits import mails, people
from mailbot.visits.people import Addr
from mailbot.visits.schedule import follow_up_draft, index_of, summary_form_text, summary_recipients
from mailbot.visits.store import stored_plan
from mailbot.visits.summary_form import (
    Progress,
    SummaryForm,
    parse_follow_up_ref,
    read_progress,
    read_summary,
    render_progress_form,
)

NUMBER = re.compile(r"VIS-\d{4}-\d{4,}")
_EARLIEST = date(2000, 1, 1)  # finding a visit needs only the form's number, not its dates
PARTSTAT_CN = {"ACCEPTED": "已接受", "DECLINED": "已拒绝", "TENTATIVE": "暂定", "DELEGATED": "已委托他人"}
_CALENDAR_ANSWER = re.compile(r"^\s*(?:已接受|接受|已暂定|暂定|暂时接受|已拒绝|拒绝|accepted|accept|tentative|"
                              r"declined|decline)\s*[:：]", re.I)
_DONE_LINE = re.compile(r"^(?:已完成|已办结|已落实|已办理完毕|完成)[。！!.]?$")
_ACTION_IN_SUBJECT = re.compile(r"后续事项\s*(\d{1,3})")
_FOLLOW_UP_KEY = re.compile(r"^followup:(\d+):")


def route(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, known: Sender) -> tuple[str, str] | None:
    """Mail about a visit (see the module docstring); anything else: not ours."""
    visit = find_visit(ctx.s, p)
    return None if visit is None else handle_visit_reply(ctx, msg, p, known.person, visit)


def find_visit(s: Session, p: ParsedMessage) -> Visit | None:
    """The visit a mail is about, or None (see the module docstring for the order and the exclusions)."""
    if p.kind == "monthly_report" or any(not r.startswith("邮件头") for r in p.urgent_reasons):
        return None
    for ours in replied_to(s, p.envelope.thread_ids):
        if ours.visit_id is not None:
            return s.get(Visit, ours.visit_id)
    number: str | None = None
    if p.calendar_reply is not None and (m := NUMBER.match(p.calendar_reply.uid)):
        number = m.group(0)
    elif m := NUMBER.search(p.envelope.subject):
        number = m.group(0)
    elif (progress := read_progress(p.text)) is not None and progress.has_answers and progress.ref:
        number = progress.ref[0]
    elif (form := read_summary(p.text, visit_day=_EARLIEST)) is not None and form.has_answers:
        number = form.number
    return s.scalar(select(Visit).where(Visit.number == number)) if number else None


def handle_visit_reply(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, sender: Person,
                       visit: Visit) -> tuple[str, str]:
    """Act on one mail about `visit`; returns (status, note) for the inbound row, as every route does."""
    if p.calendar_reply is not None:
        answer = PARTSTAT_CN.get(p.calendar_reply.partstat, p.calendar_reply.partstat)
        ctx.s.add(VisitNote(visit=visit, at=msg.received_at, author=p.calendar_reply.attendee,
                            text=f"日程答复：{answer}", inbound_id=msg.id))
        return "processed", f"{visit.number}: {p.calendar_reply.attendee} {p.calendar_reply.partstat}"
    if _CALENDAR_ANSWER.match(p.envelope.subject) or any(a.content_type == "text/calendar" for a in p.attachments):
        return "ignored", f"{visit.number}: calendar response"
    if not may_write(sender, visit):
        return quarantine(ctx, msg, f"{sender.email} 与 {visit.number} 无关（不是所属单位联系人或总部人员）")
    msg.unit_id = sender.unit_id  # `mailbot status` shows which unit wrote
    progress = read_progress(p.text)
    if progress is not None and progress.has_answers:
        return _progress(ctx, msg, p, sender, visit, progress)
    form = read_summary(p.text, visit_day=visit.starts_at.astimezone(ctx.app.tz).date())
    if form is not None and form.has_answers:
        return _summary(ctx, msg, p, sender, visit, form)

    text = p.new_text.strip()
    fu = _thread_follow_up(ctx.s, p, visit)
    if fu is not None and text:
        done = any(_DONE_LINE.match(line.strip()) for line in text.splitlines())
        return _record_progress(ctx, msg, p, sender, fu, text, done)
    if text:
        ctx.s.add(VisitNote(visit=visit, at=msg.received_at, author=sender.email, text=text, inbound_id=msg.id))
    if form is not None and visit.summary is None and visit.status != "cancelled":
        # They answered the summary request but not in the form ("纪要见附件"): say how, once.
        _reply(ctx, f"visit-reply:{msg.id}", mails.summary_reply_mail(
            ctx.department, _card(ctx, visit), [p.envelope.from_addr], [], thread=thread_of(p),
            problems=[_problem(Problem("", "纪要填报单中没有填写内容。请在【会谈纪要】【达成事项】【后续事项】下直接填写后发送"
                                           "（附件中的纪要请将要点复制到填报单中）"))],
            form_text=summary_form_text(visit, ctx.app.tz)), visit, p)
        return "answered", f"{visit.number}: summary form left blank; told how to fill it"
    if text:
        return "processed", f"{visit.number}: comment from {sender.email}"
    return "ignored", f"{visit.number}: nothing new in the reply"


def may_write(sender: Person, visit: Visit) -> bool:
    if sender.role == "hq":
        return True
    units = {u.id for u in visit.units} | {f.unit_id for f in visit.follow_ups if f.unit_id}
    return sender.unit_id in units or sender.email in {f.owner_email for f in visit.follow_ups}


def _card(ctx: Ctx, visit: Visit) -> dict[str, object]:
    return mails.card(visit, stored_plan(visit), ctx.app.tz)


def _problem(p: Problem) -> dict[str, str]:
    return {"where": p.where, "message": p.message}


def _reply(ctx: Ctx, key: str, draft: Draft, visit: Visit, p: ParsedMessage) -> None:
    """An automatic answer to the sender (rate-limited like every other), pointing at the visit."""
    if not ctx.may_answer(p.envelope.from_addr):
        return
    enqueue(ctx.s, key=key + ctx.tag, kind="visit_reply", draft=draft, sender=ctx.app.identity, now=ctx.app.now(),
            answers_addr=p.envelope.from_addr, visit_id=visit.id)


def _queue(ctx: Ctx, key: str, kind: str, draft: Draft, visit: Visit) -> None:
    enqueue(ctx.s, key=key + ctx.tag, kind=kind, draft=draft, sender=ctx.app.identity, now=ctx.app.now(),
            visit_id=visit.id)


def _others(ctx: Ctx, visit: Visit, sender: Person) -> list[Addr]:
    """The summary's other author(s), in copy of the acknowledgement so both know what was filed."""
    return people.unique(summary_recipients(ctx.s, visit), besides=[(sender.name, sender.email)])


# --- the summary ---------------------------------------------------------------------------------


def _summary(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, sender: Person, visit: Visit,
             form: SummaryForm) -> tuple[str, str]:
    problems = list(form.problems)
    if form.number and form.number != visit.number:
        problems.insert(0, Problem("编号", f"填报单中的编号 {form.number} 与所回复邮件的 {visit.number} 不一致"))
    if visit.status == "cancelled":
        problems.insert(0, Problem("", f"{visit.number} 已取消，无需填报纪要"))
    if problems:
        _reply(ctx, f"visit-reply:{msg.id}", mails.summary_reply_mail(
            ctx.department, _card(ctx, visit), [p.envelope.from_addr], [], thread=thread_of(p),
            problems=[_problem(x) for x in problems], form_text=form.text), visit, p)
        return "answered", f"{visit.number}: summary refused, {len(problems)} problem(s)"

    now = msg.received_at
    replaced = visit.summary is not None
    if replaced:  # a corrected summary replaces the filed one; the archive keeps what it said
        ctx.s.add(VisitNote(visit=visit, at=now, author="mailbot",
                            text=f"原纪要（已被更正）：{visit.summary}\n原达成事项：{visit.agreed or '无'}"))
    visit.summary, visit.agreed, visit.summary_at, visit.status = form.minutes, form.agreed, now, "done"
    ctx.s.add(VisitNote(visit=visit, at=now, author=sender.email, text="更正纪要" if replaced else "提交纪要",
                        inbound_id=msg.id))
    known = {f.text for f in visit.follow_ups}
    warnings: list[str] = []
    for a in form.actions:
        if a.text in known:
            continue
        person, unit = people.owner_of(ctx.s, a.owner, visit)
        fu = FollowUp(visit=visit, text=a.text, owner=a.owner, owner_email=person.email if person else None,
                      unit=unit, due=a.due, status="open", created_at=now)
        ctx.s.add(fu)
        ctx.s.flush()
        if person is None and unit is None:
            warnings.append(f"后续事项{index_of(fu)}的责任人“{a.owner}”不在名录中，提醒将发给总部对接人"
                            f"{visit.hq_owner.name if visit.hq_owner else ''}")
        draft = follow_up_draft(ctx.s, fu, "assigned", ctx.app.today(), department=ctx.department,
                                tz=ctx.app.tz)
        if draft is not None:
            _queue(ctx, f"followup:{fu.id}:assigned", "visit_followup", draft, visit)
    today = ctx.app.today()
    actions = [mails.follow_up_card(f, i, today) for i, f in enumerate(visit.follow_ups, 1)]
    _reply(ctx, f"visit-reply:{msg.id}", mails.summary_reply_mail(
        ctx.department, _card(ctx, visit), [p.envelope.from_addr], _others(ctx, visit, sender), thread=thread_of(p),
        minutes=visit.summary, agreed=visit.agreed, actions=actions, warnings=warnings, replaced=replaced), visit, p)
    return "processed", (f"{visit.number}: summary {'corrected' if replaced else 'filed'} by {sender.email}, "
                         f"{len(visit.follow_ups)} follow-up(s)")


# --- progress on a follow-up -------------------------------------------------------------------


def _thread_follow_up(s: Session, p: ParsedMessage, visit: Visit) -> FollowUp | None:
    """The follow-up a reply is about: the thread's chase or notice mail, else 后续事项N / VIS-…-N in the subject."""
    for ours in replied_to(s, p.envelope.thread_ids):
        if ours.visit_id == visit.id and (m := _FOLLOW_UP_KEY.match(ours.idem_key)):
            fu = s.get(FollowUp, int(m.group(1)))
            if fu is not None and fu.visit_id == visit.id:
                return fu
    ref = parse_follow_up_ref(p.envelope.subject)
    if ref is not None and ref[0] == visit.number:
        return _nth(visit, ref[1])
    if m2 := _ACTION_IN_SUBJECT.search(p.envelope.subject):
        return _nth(visit, int(m2.group(1)))
    return None


def _nth(visit: Visit, n: int) -> FollowUp | None:
    return visit.follow_ups[n - 1] if 1 <= n <= len(visit.follow_ups) else None


def _progress(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, sender: Person, visit: Visit,
              progress: Progress) -> tuple[str, str]:
    problems = list(progress.problems)
    fu: FollowUp | None = None
    if progress.ref is not None and progress.ref[0] == visit.number:
        fu = _nth(visit, progress.ref[1])
    elif progress.ref is None:
        fu = _thread_follow_up(ctx.s, p, visit)
    if fu is None:
        problems.insert(0, Problem("事项编号", "无法确定是哪一项后续事项；请回复该事项的提醒邮件，勿修改事项编号"))
    if problems:
        _reply(ctx, f"visit-reply:{msg.id}", mails.progress_reply_mail(
            ctx.department, _card(ctx, visit), mails.follow_up_card(fu, index_of(fu), ctx.app.today()) if fu else None,
            [p.envelope.from_addr], [], thread=thread_of(p), problems=[_problem(x) for x in problems],
            form_text=render_progress_form(f"{visit.number}-{index_of(fu)}") if fu else None), visit, p)
        return "answered", f"{visit.number}: progress refused, {len(problems)} problem(s)"
    assert fu is not None
    return _record_progress(ctx, msg, p, sender, fu, progress.text or ("已完成" if progress.done else ""),
                            bool(progress.done))


def _record_progress(ctx: Ctx, msg: InboundMessage, p: ParsedMessage, sender: Person, fu: FollowUp, text: str,
                     done: bool) -> tuple[str, str]:
    """Append the progress to the archive; close the follow-up when reported done; acknowledge."""
    visit = fu.visit
    now = msg.received_at
    if text:
        ctx.s.add(VisitNote(visit=visit, follow_up_id=fu.id, at=now, author=sender.email, text=text,
                            inbound_id=msg.id))
    closed = done and fu.status == "open"
    if closed:
        fu.status, fu.done_at = "done", now
    remaining = sum(f.status == "open" for f in visit.follow_ups)
    owner = [(visit.hq_owner.name, visit.hq_owner.email)] if visit.hq_owner else []
    _reply(ctx, f"visit-reply:{msg.id}", mails.progress_reply_mail(
        ctx.department, _card(ctx, visit), mails.follow_up_card(fu, index_of(fu), ctx.app.today()),
        [p.envelope.from_addr], people.unique(owner, besides=[(sender.name, sender.email)]) if closed else [],
        thread=thread_of(p), note=text or None, done=fu.status == "done", remaining=remaining), visit, p)
    ref = f"{visit.number}-{index_of(fu)}"
    return "processed", f"{ref}: {'done' if closed else 'progress'} from {sender.email}"
