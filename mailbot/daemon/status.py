"""`mailbot status`: who reported, quarantine and why, the outbox backlog, the last poll and error.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from mailbot.app import App
from mailbot.daemon import health
from mailbot.db.models import (
    Handover,
    InboundMessage,
    OutboxMail,
    Period,
    Person,
    Quarantine,
    ReportRequest,
    Submission,
    Unit,
)
from mailbot.db.state import DbStateStore
from mailbot.domain import due
from mailbot.outbox.queue import stopped as outbox_stopped
from mailbot.render.text import pad

HANDOVER_DAYS, HANDOVER_LINES = 30, 20


def render_status(app: App, period_key: str) -> str:
    tz = app.tz
    out = []
    with app.sessions() as s:
        period = s.scalar(select(Period).where(Period.key == period_key))
        deadline = period.deadline if period else due.deadline(due.Month.parse(period_key), app.schedule)
        out.append(f"period {period_key}  deadline {deadline:%Y-%m-%d}  today {app.today():%Y-%m-%d}")
        out.append("")
        out.append(f"{'unit':<8}{pad('name', 14)}{'requested':<12}report")
        for unit in s.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)):
            asked = period and s.scalar(select(ReportRequest.id).where(
                ReportRequest.period_id == period.id, ReportRequest.unit_id == unit.id))
            subs = s.scalars(select(Submission).where(Submission.unit_id == unit.id,
                                                      Submission.period_id == (period.id if period else -1))
                             .order_by(Submission.version)).all()
            if subs:
                cur = subs[-1]
                late = "on time" if any(x.on_time for x in subs) else "LATE"
                report = f"v{cur.version} {late} {cur.received_at.astimezone(tz):%m-%d %H:%M}"
            else:
                report = "MISSING" if app.today() > deadline else "not yet"
            out.append(f"{unit.code:<8}{pad(unit.name, 14)}{'yes' if asked else 'no':<12}{report}")

        out.append("")
        open_q = s.execute(select(Quarantine, InboundMessage).join(InboundMessage)
                           .where(Quarantine.released_at.is_(None)).order_by(Quarantine.id)).all()
        out.append(f"quarantine: {len(open_q)} message(s)")
        for q, m in open_q:
            out.append(f"  #{m.id} {m.received_at.astimezone(tz):%m-%d %H:%M} {m.from_addr or '?'}: {q.reason}")
        bouncing = s.scalars(select(Person).where(Person.bounced_at.is_not(None), Person.active.is_(True))
                             .order_by(Person.email)).all()
        if bouncing:
            out.append(f"addresses our mail bounced from: {len(bouncing)} (their units' mail goes to the other "
                       f"contacts and the leader until directory.yaml is fixed)")
            for person in bouncing:
                since_ = person.bounced_at.astimezone(tz) if person.bounced_at else None
                out.append(f"  {person.email} ({person.unit.code if person.unit else '-'} {person.name}) since "
                           f"{since_:%m-%d %H:%M}: {person.bounce_note or ''}")
        since = app.now() - timedelta(days=HANDOVER_DAYS)
        handed = s.execute(select(Handover, InboundMessage).join(InboundMessage)
                           .where(Handover.created_at >= since).order_by(Handover.id.desc())).all()
        out.append(f"handed over to HQ staff in the last {HANDOVER_DAYS} days: {len(handed)} message(s)")
        for handover, m in handed[:HANDOVER_LINES]:
            out.append(f"  #{m.id} {m.received_at.astimezone(tz):%m-%d %H:%M} {m.from_addr or '?'} → "
                       f"{handover.recipients}: {(m.subject or '')[:60]}")
        counts = dict(s.execute(select(OutboxMail.status, func.count()).group_by(OutboxMail.status)).all())
        out.append(f"outbox: pending {counts.get('pending', 0)}, sent {counts.get('sent', 0)}, "
                   f"dead {counts.get('dead', 0)}  ({app.settings.path(app.settings.outbox.path)})")
        if (stop := outbox_stopped(s)) is not None:
            out.append(f"  not sending since {stop[0].astimezone(tz):%Y-%m-%d %H:%M}: {stop[1]}")
        for mail in s.scalars(select(OutboxMail).where(OutboxMail.status != "sent").order_by(OutboxMail.id)):
            out.append(f"  {mail.status} {mail.idem_key} → {mail.recipients}: {mail.last_error or ''}")
    h = health.load(DbStateStore(app.sessions, app.now))
    last_ok = f"{h.last_ok.astimezone(tz):%Y-%m-%d %H:%M}" if h.last_ok else "never (daemon not run yet)"
    out.append(f"mailbox: {app.mailbox.name}; last successful poll {last_ok}")
    if h.last_error_at and (not h.last_ok or h.last_error_at > h.last_ok):
        out.append(f"  failing since {h.failing_since.astimezone(tz):%Y-%m-%d %H:%M}"  # type: ignore[union-attr]
                   f" ({h.failures} failed polls): {h.last_error}")
    if app.calendar.guessed_years:
        years = ", ".join(str(y) for y in sorted(app.calendar.guessed_years))
        out.append(f"calendar: no holiday data for {years}; weekends only — describe it under calendar.years")
    return "\n".join(out)
