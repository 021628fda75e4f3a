"""What each visit mail says: template contexts from a visit and its plan, rendered into Drafts.

The wording lives in templates/email/visit_*.j2; this module decides which
facts go in (as plain strings and dicts, already in Chinese) and to whom.
Callers queue the Draft under an idempotency key with the visit's id, so a
reply to any of these mails finds its visit again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from mailbot.db.models import FollowUp, Visit
from mailbot.outbox.compose import Attachment, Draft, Thread
from mailbot.render.mail import render_mail
from mailbot.visits.people import Addr
from mailbot.visits.plan import KINDS, ChecklistItem, VisitPlan
from mailbot.visits.summary_form import follow_up_ref

WEEKDAYS = "一二三四五六日"
STATUS_CN = {"planned": "已计划", "cancelled": "已取消", "done": "纪要已归档"}
FOLLOW_UP_CN = {"open": "办理中", "done": "已完成"}


def day_cn(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def short_day(d: date) -> str:
    return f"{d.month}月{d.day}日"


def when_text(starts: datetime, ends: datetime, tz: ZoneInfo) -> str:
    """2026年11月20日（星期五）09:30—11:30; a visit over several days names both days."""
    a, b = starts.astimezone(tz), ends.astimezone(tz)
    head = f"{day_cn(a.date())}（星期{WEEKDAYS[a.weekday()]}）{a:%H:%M}"
    if a.date() == b.date():
        return f"{head}—{b:%H:%M}"
    return f"{head} 至 {day_cn(b.date())}（星期{WEEKDAYS[b.weekday()]}）{b:%H:%M}"


def card(visit: Visit, plan: VisitPlan, tz: ZoneInfo) -> dict[str, object]:
    """The facts every visit mail shows, in the order people look for them."""
    names = {u.code: u.name for u in visit.units}
    return {
        "number": visit.number, "kind": visit.kind, "kind_cn": KINDS[visit.kind],
        "kind_title": "拜访客户" if visit.kind == "outgoing" else "客户来访",
        "customer": f"{visit.customer.code} {visit.customer.name}", "customer_name": visit.customer.name,
        "headline": (f"拜访{visit.customer.name}" if visit.kind == "outgoing" else f"{visit.customer.name}来访"),
        "topic": visit.topic, "when": when_text(visit.starts_at, visit.ends_at, tz),
        "day": short_day(visit.starts_at.astimezone(tz).date()), "place": visit.place,
        "hq_owner": visit.hq_owner.name if visit.hq_owner else "（未指定）",
        "units": "、".join(names.get(c, c) for c in plan.units) or "（无）",
        "responsible_unit": names.get(plan.responsible_unit or "", plan.responsible_unit or "（未指定）"),
        "status_cn": STATUS_CN.get(visit.status, visit.status),
        "campaign": f"{visit.campaign.number} {visit.campaign.title}" if visit.campaign else None,
    }


def details(plan: VisitPlan, preparers: dict[str, str]) -> dict[str, object]:
    """The plan's lists for the notice; `preparers` maps a preparer reference to how people call them.

    `sections` is the same content as (title, lines) for the plain-text part, so that template stays a loop.
    """
    def checks(items: Sequence[ChecklistItem]) -> list[dict[str, str]]:
        return [{"item": c.item, "preparer": preparers.get(c.preparer, c.preparer), "due": short_day(c.due)}
                for c in items]

    theirs = [a.label() for a in plan.customer_attendees]
    ours = [a.label() for a in plan.our_attendees]
    d: dict[str, object] = {
        "customer_attendees": theirs, "our_attendees": ours,
        "itinerary": [{"time": s.time, "item": s.item} for s in plan.itinerary],
        "duties": [{"who": x.who, "task": x.task} for x in plan.duties],
        "briefing": checks(plan.briefing), "arrangements": checks(plan.arrangements), "notes": plan.notes,
    }
    sections = [
        ("客方参加人员", [f"· {x}" for x in theirs]),
        ("我方参加人员", [f"· {x}" for x in ours]),
        ("行程安排" if plan.kind == "outgoing" else "会谈议程",
         [f"· {s.time}{'　' if s.time else ''}{s.item}" for s in plan.itinerary]),
        ("分工", [f"· {x.who}：{x.task}" for x in plan.duties]),
        ("汇报材料准备", [f"{i}. {c['item']}（{c['preparer']}，{c['due']}前完成）"
                      for i, c in enumerate(checks(plan.briefing), 1)]),
        ("会务安排", [f"{i}. {c['item']}（{c['preparer']}，{c['due']}前完成）"
                  for i, c in enumerate(checks(plan.arrangements), 1)]),
        ("备注", (plan.notes or "").strip().splitlines()),
    ]
    d["sections"] = [{"title": t, "lines": lines} for t, lines in sections if lines]
    return d


def follow_up_card(fu: FollowUp, index: int, today: date) -> dict[str, object]:
    late = (today - fu.due).days if fu.due and fu.status == "open" and fu.due < today else 0
    return {"ref": follow_up_ref(fu.visit.number, index), "index": index, "text": fu.text, "owner": fu.owner,
            "due": short_day(fu.due) if fu.due else "—", "due_full": day_cn(fu.due) if fu.due else "—",
            "status_cn": FOLLOW_UP_CN.get(fu.status, fu.status), "overdue_days": late}


def _draft(name: str, to: Sequence[Addr] | Sequence[str], *, cc: Sequence[Addr] | Sequence[str] = (),
           thread: Thread | None = None, attachments: Sequence[Attachment] = (), **ctx: object) -> Draft:
    r = render_mail(name, **ctx)
    return Draft(to=[_addr(a) for a in to], cc=[_addr(a) for a in cc], subject=r.subject, text=r.text,
                 html=r.html, thread=thread, attachments=list(attachments))


def _addr(a: Addr | str) -> str:
    return a if isinstance(a, str) else a[1]


def _names(people: Sequence[Addr]) -> str:
    return "、".join(dict.fromkeys(n for n, _ in people)) or "各位"


def notice_mail(department: str, action: str, c: dict[str, object], d: dict[str, object], to: Sequence[Addr],
                cc: Sequence[Addr], ics: bytes, *, sequence: int, changes: Sequence[str] = (),
                reason: str | None = None) -> Draft:
    """The notice (action new | changed | cancelled | removed) with the .ics of this version attached."""
    # Outlook and Foxmail show an invitation (accept/decline) only when the part names its iTIP method.
    method = "CANCEL" if action in ("cancelled", "removed") else "REQUEST"
    invitation = Attachment(f"{c['number']}.ics", ics, "text", "calendar", (("method", method), ("charset", "utf-8")))
    return _draft("visit_notice", to, cc=cc, attachments=[invitation],
                  department=department, action=action, visit=c, d=d, recipient_names=_names(to),
                  changes=list(changes), reason=reason, sequence=sequence)


def brief_mail(department: str, c: dict[str, object], item: str, due: date, preparer: str, to: Sequence[Addr],
               cc: Sequence[Addr]) -> Draft:
    return _draft("visit_brief", to, cc=cc, department=department, visit=c, item=item, due=day_cn(due),
                  due_short=short_day(due), preparer=preparer)


def summary_request_mail(department: str, c: dict[str, object], form_text: str, to: Sequence[Addr], *,
                         reminder_days: int | None = None, thread: Thread | None = None) -> Draft:
    return _draft("visit_summary_request", to, thread=thread, department=department, visit=c, form_text=form_text,
                  recipient_names=_names(to), reminder_days=reminder_days)


def summary_reply_mail(department: str, c: dict[str, object], to: Sequence[str], cc: Sequence[Addr], *,
                       thread: Thread, problems: Sequence[dict[str, str]] = (), minutes: str | None = None,
                       agreed: str | None = None, actions: Sequence[dict[str, object]] = (),
                       warnings: Sequence[str] = (), replaced: bool = False, form_text: str | None = None) -> Draft:
    """Accepted (what was filed) or refused (each problem, the form quoted back with the answers kept)."""
    return _draft("visit_summary_reply", to, cc=cc, thread=thread, department=department, visit=c,
                  accepted=not problems, problems=list(problems), minutes=minutes, agreed=agreed,
                  actions=list(actions), warnings=list(warnings), replaced=replaced, form_text=form_text)


def follow_up_mail(department: str, stage: str, c: dict[str, object], fu: dict[str, object], to: Sequence[Addr],
                   cc: Sequence[Addr], form_text: str, *, days_left: int = 0, note: str | None = None,
                   thread: Thread | None = None) -> Draft:
    """stage: assigned | reminder | overdue — to the owner, with the progress form."""
    return _draft("visit_followup", to, cc=cc, thread=thread, department=department, stage=stage, visit=c, fu=fu,
                  recipient_names=_names(to), form_text=form_text, days_left=days_left, note=note)


def progress_reply_mail(department: str, c: dict[str, object], fu: dict[str, object] | None, to: Sequence[str],
                        cc: Sequence[Addr], *, thread: Thread, problems: Sequence[dict[str, str]] = (),
                        note: str | None = None, done: bool = False, remaining: int = 0,
                        form_text: str | None = None) -> Draft:
    return _draft("visit_progress_reply", to, cc=cc, thread=thread, department=department, visit=c, fu=fu,
                  accepted=not problems, problems=list(problems), note=note, done=done, remaining=remaining,
                  form_text=form_text)
