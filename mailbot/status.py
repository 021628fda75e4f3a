"""`mailbot status`: one screen an operator reads to know where the month stands."""

from __future__ import annotations

from sqlalchemy import func, select

from mailbot import health
from mailbot.app import App
from mailbot.db.models import (
    InboundMessage,
    OutboxMail,
    Period,
    Quarantine,
    ReportRequest,
    Request,
    Submission,
    Unit,
)
from mailbot.domain import due
from mailbot.domain.commands import OPEN, STATUS_CN
from mailbot.outbox.queue import stopped as outbox_stopped
from mailbot.state import DbStateStore


def _pad(text: str, width: int) -> str:
    """Left-justify in a terminal, where a CJK character takes two columns."""
    cols = sum(2 if ord(c) >= 0x2E80 else 1 for c in text)
    return text + " " * max(width - cols, 1)


def render_status(app: App, period_key: str) -> str:
    tz = app.tz
    out = []
    with app.sessions() as s:
        period = s.scalar(select(Period).where(Period.key == period_key))
        deadline = period.deadline if period else due.deadline(due.Period.parse(period_key), app.schedule)
        out.append(f"period {period_key}  deadline {deadline:%Y-%m-%d}  today {app.today():%Y-%m-%d}")
        out.append("")
        out.append(f"{'unit':<8}{_pad('name', 14)}{'requested':<12}report")
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
            out.append(f"{unit.code:<8}{_pad(unit.name, 14)}{'yes' if asked else 'no':<12}{report}")

        out.append("")
        open_q = s.execute(select(Quarantine, InboundMessage).join(InboundMessage)
                           .where(Quarantine.released_at.is_(None)).order_by(Quarantine.id)).all()
        out.append(f"quarantine: {len(open_q)} message(s)")
        for q, m in open_q:
            out.append(f"  #{m.id} {m.received_at.astimezone(tz):%m-%d %H:%M} {m.from_addr or '?'}: {q.reason}")
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


def list_requests(app: App, *, assignee: str | None = None, unit: str | None = None, customer: str | None = None,
                  overdue_only: bool = False, include_closed: bool = False) -> list[dict[str, object]]:
    """Requests as rows for `mailbot requests` (a table, or --json)."""
    now = app.now()
    rows: list[dict[str, object]] = []
    with app.sessions() as s:
        q = select(Request).order_by(Request.due_at, Request.id)
        if not include_closed:
            q = q.where(Request.status.in_(OPEN))
        for r in s.scalars(q):
            overdue = bool(r.due_at and r.due_at < now and r.status in ("new", "in_progress"))
            if overdue_only and not overdue:
                continue
            if assignee and not (r.assignee and assignee in (r.assignee.email, r.assignee.staff_key, r.assignee.name)):
                continue
            if unit and not (r.unit and r.unit.code == unit):
                continue
            if customer and not (r.customer and r.customer.code == customer):
                continue
            rows.append({"number": r.number, "status": r.status, "status_cn": STATUS_CN[r.status],
                         "source": r.source, "unit": r.unit.code if r.unit else None,
                         "customer": r.customer.code if r.customer else None,
                         "assignee": r.assignee.email if r.assignee else None,
                         "created_at": r.created_at.astimezone(app.tz).isoformat(timespec="minutes"),
                         "due_at": r.due_at.astimezone(app.tz).isoformat(timespec="minutes") if r.due_at else None,
                         "overdue_days": (now - r.due_at).days if overdue and r.due_at else 0,
                         "text": r.text})
    return rows


def render_requests(rows: list[dict[str, object]]) -> str:
    if not rows:
        return "no requests"
    out = [f"{'number':<14}{_pad('status', 12)}{'due':<12}{'late':<6}{'unit':<6}{'cust':<6}{'assignee':<26}matter"]
    for r in rows:
        late = f"{r['overdue_days']}d" if r["overdue_days"] else ""
        text = str(r["text"]).replace("\n", " ")
        out.append(f"{r['number']:<14}{_pad(str(r['status_cn']), 12)}{str(r['due_at'] or '')[:10]:<12}{late:<6}"
                   f"{r['unit'] or '':<6}{r['customer'] or '':<6}{str(r['assignee'] or ''):<26}"
                   f"{text[:30]}{'…' if len(text) > 30 else ''}")
    return "\n".join(out)
