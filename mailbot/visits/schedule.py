"""The visits' calendar jobs: briefing reminders, summary requests, follow-up chasing — safe to run twice.

`visit_jobs` is called on every tick of the daemon (and by hand). What is
due is computed from the database and the working-day calendar (`timing.py`);
each mail has an idempotency key naming its stage —

    visit:VIS-2026-0001:brief:2:2026-11-17        preparer of checklist item 2, due 11-17
    visit:VIS-2026-0001:summary-request           after the visit ends
    visit:VIS-2026-0001:summary-reminder:D+3      no summary yet
    followup:7:assigned                           owner told when the summary is filed
    followup:7:chase:2026-12-15:T-3               before the due date; D+1, D+8, … after it

— so a restart, a second daemon or the operator running it again sends
nothing twice. A due date changed later starts a fresh sequence of stages,
because the date is part of the key.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.db.models import FollowUp, OutboxMail, Person, Visit
from mailbot.db.session import transaction
from mailbot.outbox.compose import Draft, Thread
from mailbot.outbox.queue import Plan
from mailbot.visits import mails, people
from mailbot.visits.people import Addr
from mailbot.visits.store import queue, stored_plan
from mailbot.visits.summary_form import follow_up_ref, render_progress_form, render_summary_form
from mailbot.visits.timing import POLICY, brief_day, chase_stage, summary_stage


def visit_jobs(app: App, *, dry_run: bool = False) -> Plan:
    """Everything visits need today; returns what was queued (for `Plan.lines()` and the tick's log)."""
    out = Plan()
    now, today = app.now(), app.today()
    with transaction(app.sessions, dry_run=dry_run) as s:
        for visit in s.scalars(select(Visit).where(Visit.status == "planned", Visit.starts_at > now)
                               .order_by(Visit.id)):
            _briefing_reminders(app, s, out, visit, today)
        for visit in s.scalars(select(Visit).where(Visit.status == "planned", Visit.ends_at <= now,
                                                   Visit.summary_at.is_(None)).order_by(Visit.id)):
            _ask_for_summary(app, s, out, visit, today)
        for fu in s.scalars(select(FollowUp).join(FollowUp.visit).where(
                FollowUp.status == "open", FollowUp.due.is_not(None), Visit.status != "cancelled")
                .order_by(FollowUp.id)):
            _chase(app, s, out, fu, today)
    return out


def _local_day(tz: ZoneInfo, t: datetime) -> date:
    return t.astimezone(tz).date()


def _briefing_reminders(app: App, s: Session, out: Plan, visit: Visit, today: date) -> None:
    plan = stored_plan(visit)
    announced = _local_day(app.tz, visit.updated_at)
    for i, item in enumerate(plan.checklist, 1):
        on = brief_day(item.due, announced, POLICY.brief_offsets, app.calendar)
        if on is None or not on <= today <= item.due:
            continue
        name, to = people.resolve(s, item.preparer)
        owner = [(visit.hq_owner.name, visit.hq_owner.email)] if visit.hq_owner else []
        draft = partial(mails.brief_mail, app.department, mails.card(visit, plan, app.tz),
                        item.item, item.due, name, to or owner, people.unique(owner, besides=to) if to else [])
        queue(app, s, out, f"visit:{visit.number}:brief:{i}:{item.due.isoformat()}", "visit_brief", draft, visit)


def summary_recipients(s: Session, visit: Visit) -> list[Addr]:
    """The responsible unit's contacts and the HQ owner: the two who write the summary (§7.1.4, §7.2.3)."""
    plan = stored_plan(visit)
    unit = people.unit_by_code(s, plan.responsible_unit) if plan.responsible_unit else None
    to = people.contacts(unit) if unit is not None else []
    if visit.hq_owner is not None:
        to.append((visit.hq_owner.name, visit.hq_owner.email))
    return people.unique(to)


def summary_form_text(visit: Visit, tz: ZoneInfo) -> str:
    return render_summary_form(kind=visit.kind, number=visit.number,
                               customer=f"{visit.customer.code} {visit.customer.name}", topic=visit.topic,
                               when=mails.when_text(visit.starts_at, visit.ends_at, tz))


def _ask_for_summary(app: App, s: Session, out: Plan, visit: Visit, today: date) -> None:
    plan = stored_plan(visit)
    to = summary_recipients(s, visit)
    c = mails.card(visit, plan, app.tz)
    dept = app.department
    key = f"visit:{visit.number}:summary-request"
    first = s.scalar(select(OutboxMail).where(OutboxMail.idem_key == key))
    if first is None:
        queue(app, s, out, key, "visit_summary_request",
              mails.summary_request_mail(dept, c, summary_form_text(visit, app.tz), to), visit)
        return
    stage = summary_stage(_local_day(app.tz, visit.ends_at), today, POLICY.summary_after, app.calendar)
    if stage is not None:
        days = (today - _local_day(app.tz, visit.ends_at)).days
        def draft() -> Draft:
            return mails.summary_request_mail(dept, c, summary_form_text(visit, app.tz), to, reminder_days=days,
                                              thread=Thread(first.message_id))

        queue(app, s, out, f"visit:{visit.number}:summary-reminder:{stage}", "visit_summary_request", draft, visit)


def index_of(fu: FollowUp) -> int:
    """The action's number within its visit (1, 2, …): follow-ups are never deleted, so it is stable."""
    return [f.id for f in fu.visit.follow_ups].index(fu.id) + 1


def owner_addresses(s: Session, fu: FollowUp) -> list[Addr]:
    """Who is chased: the registered owner, else their unit's contacts, else the visit's HQ owner."""
    if fu.owner_email:
        p = s.scalar(select(Person).where(Person.email == fu.owner_email))
        return [(p.name if p else fu.owner, fu.owner_email)]
    if fu.unit is not None and (c := people.contacts(fu.unit)):
        return c
    v = fu.visit
    return [(v.hq_owner.name, v.hq_owner.email)] if v.hq_owner else []


def follow_up_draft(s: Session, fu: FollowUp, stage: str, today: date, *, department: str, tz: ZoneInfo,
                    note: str | None = None, thread: Thread | None = None) -> Draft | None:
    """The mail about one follow-up (assigned | reminder | overdue), with its progress form; None if nobody to tell."""
    visit = fu.visit
    to = owner_addresses(s, fu)
    if not to:
        return None
    owner = [(visit.hq_owner.name, visit.hq_owner.email)] if visit.hq_owner else []
    cc = people.unique(owner, besides=to) if stage == "overdue" or not fu.owner_email and not fu.unit else []
    n = index_of(fu)
    return mails.follow_up_mail(department, stage, mails.card(visit, stored_plan(visit), tz),
                               mails.follow_up_card(fu, n, today), to, cc,
                               render_progress_form(follow_up_ref(visit.number, n)),
                               days_left=(fu.due - today).days if fu.due else 0, note=note, thread=thread)


def _chase(app: App, s: Session, out: Plan, fu: FollowUp, today: date) -> None:
    assert fu.due is not None
    stage = chase_stage(fu.due, today, _local_day(app.tz, fu.created_at), POLICY, app.calendar)
    if stage is None:
        return
    assigned = s.scalar(select(OutboxMail.message_id).where(OutboxMail.idem_key == f"followup:{fu.id}:assigned"))
    draft = follow_up_draft(s, fu, "overdue" if today > fu.due else "reminder", today, department=app.department,
                            tz=app.tz, thread=Thread(assigned) if assigned else None)
    if draft is not None:
        queue(app, s, out, f"followup:{fu.id}:chase:{fu.due.isoformat()}:{stage}", "visit_followup", draft, fu.visit)
