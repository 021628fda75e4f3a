"""`mailbot status`: who reported, quarantine and why, the outbox backlog, the last poll and error — as text for
a person, as JSON for a machine (`--json`), and as an exit code for monitoring (the monitoring-plugin convention:
0 healthy, 1 warning, 2 alarm).

`gather_status` reads everything into a `Status`; `render_status` and `Status.as_json` only lay it out, and
`Status.state` decides the exit code from the same facts, so the three never disagree.

Alarm: mail we cannot deliver (dead letters, or the outbox stopped), or a mailbox that fails or has been silent
longer than `health.silence_minutes`. Warning: anything a person should look at but nothing is lost — mail in
quarantine, addresses our mail bounced from, units missing after the deadline, a daemon never run, holiday data
missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

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
EXIT = {"ok": 0, "warning": 1, "alarm": 2}


@dataclass(frozen=True)
class UnitReport:
    code: str
    name: str
    requested: bool
    state: str                      # on_time | late | missing | not_yet
    version: int | None
    received_at: datetime | None


@dataclass(frozen=True)
class Item:
    """One line of a list: a quarantined or handed-over message, a bouncing address, an unsent mail."""

    ref: str
    at: datetime | None
    who: str
    text: str
    state: str = ""     # an unsent mail's outbox status (pending, dead)


@dataclass(frozen=True)
class Status:
    period: str
    deadline: date
    today: date
    units: tuple[UnitReport, ...]
    quarantine: tuple[Item, ...]
    bouncing: tuple[Item, ...]
    handed_over: tuple[Item, ...]       # the last HANDOVER_DAYS days, newest first
    outbox: dict[str, int]              # pending, sent, dead
    outbox_path: str
    not_sending: tuple[datetime, str] | None
    unsent: tuple[Item, ...]
    mailbox: str
    last_ok: datetime | None
    failing_since: datetime | None
    failures: int
    last_error: str | None
    silent: bool                        # no successful poll for longer than health.silence_minutes
    guessed_years: tuple[int, ...]

    @property
    def problems(self) -> list[tuple[str, str]]:
        """(level, what) for each reason the state is not ok, alarms first."""
        alarms = [("alarm", f"{self.outbox['dead']} mail(s) could not be delivered (dead letters)")
                  if self.outbox["dead"] else None,
                  ("alarm", f"the outbox is not sending: {self.not_sending[1]}") if self.not_sending else None,
                  ("alarm", f"the mailbox fails: {self.last_error}") if self.failing_since else None,
                  ("alarm", "no successful poll for longer than health.silence_minutes")
                  if self.silent and not self.failing_since else None]
        missing = [u.code for u in self.units if u.state == "missing"]
        warnings = [("warning", f"{len(self.quarantine)} message(s) in quarantine") if self.quarantine else None,
                    ("warning", f"{len(self.bouncing)} address(es) our mail bounced from") if self.bouncing else None,
                    ("warning", f"missing after the deadline: {', '.join(missing)}") if missing else None,
                    ("warning", "the daemon has not polled yet") if self.last_ok is None else None,
                    ("warning", f"no holiday data for {', '.join(map(str, self.guessed_years))}")
                    if self.guessed_years else None]
        return [p for p in (*alarms, *warnings) if p is not None]

    @property
    def state(self) -> str:
        levels = {level for level, _ in self.problems}
        return "alarm" if "alarm" in levels else "warning" if levels else "ok"

    def as_json(self) -> dict[str, Any]:
        """The status for machines (docs/status.schema.json); times in ISO 8601 with their offset."""
        def at(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        def item(i: Item) -> dict[str, Any]:
            return {"ref": i.ref, "at": at(i.at), "who": i.who, "text": i.text, **({"state": i.state} if i.state else {})}

        return {
            "state": self.state, "problems": [{"level": lv, "text": t} for lv, t in self.problems],
            "period": self.period, "deadline": self.deadline.isoformat(), "today": self.today.isoformat(),
            "units": [{"code": u.code, "name": u.name, "requested": u.requested, "state": u.state,
                       "version": u.version, "received_at": at(u.received_at)} for u in self.units],
            "quarantine": [item(i) for i in self.quarantine], "bouncing": [item(i) for i in self.bouncing],
            "handed_over": {"days": HANDOVER_DAYS, "items": [item(i) for i in self.handed_over]},
            "outbox": {**self.outbox, "path": self.outbox_path,
                       "not_sending": {"since": at(self.not_sending[0]), "error": self.not_sending[1]}
                       if self.not_sending else None,
                       "unsent": [item(i) for i in self.unsent]},
            "mailbox": {"name": self.mailbox, "last_ok": at(self.last_ok), "failing_since": at(self.failing_since),
                        "failures": self.failures, "last_error": self.last_error, "silent": self.silent},
            "calendar": {"guessed_years": list(self.guessed_years)},
        }


def gather_status(app: App, period_key: str) -> Status:
    tz = app.tz
    with app.sessions() as s:
        period = s.scalar(select(Period).where(Period.key == period_key))
        deadline = period.deadline if period else due.deadline(due.Month.parse(period_key), app.schedule)
        units = []
        for unit in s.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)):
            asked = bool(period and s.scalar(select(ReportRequest.id).where(
                ReportRequest.period_id == period.id, ReportRequest.unit_id == unit.id)))
            subs = s.scalars(select(Submission).where(Submission.unit_id == unit.id,
                                                      Submission.period_id == (period.id if period else -1))
                             .order_by(Submission.version)).all()
            if subs:
                state = "on_time" if any(x.on_time for x in subs) else "late"
                units.append(UnitReport(unit.code, unit.name, asked, state, subs[-1].version,
                                        subs[-1].received_at.astimezone(tz)))
            else:
                units.append(UnitReport(unit.code, unit.name, asked,
                                        "missing" if app.today() > deadline else "not_yet", None, None))
        quarantine = tuple(
            Item(f"#{m.id}", m.received_at.astimezone(tz), m.from_addr or "?", q.reason)
            for q, m in s.execute(select(Quarantine, InboundMessage).join(InboundMessage)
                                  .where(Quarantine.released_at.is_(None)).order_by(Quarantine.id)).all())
        bouncing = tuple(
            Item(p.email, p.bounced_at.astimezone(tz) if p.bounced_at else None,
                 f"{p.unit.code if p.unit else '-'} {p.name}", p.bounce_note or "")
            for p in s.scalars(select(Person).where(Person.bounced_at.is_not(None), Person.active.is_(True))
                               .order_by(Person.email)))
        since = app.now() - timedelta(days=HANDOVER_DAYS)
        handed = tuple(
            Item(f"#{m.id}", m.received_at.astimezone(tz), m.from_addr or "?",
                 f"→ {handover.recipients}: {(m.subject or '')[:60]}")
            for handover, m in s.execute(select(Handover, InboundMessage).join(InboundMessage)
                                         .where(Handover.created_at >= since).order_by(Handover.id.desc())).all())
        counts = dict(s.execute(select(OutboxMail.status, func.count()).group_by(OutboxMail.status)).all())
        stop = outbox_stopped(s)
        unsent = tuple(Item(mail.idem_key, None, mail.recipients, mail.last_error or "", mail.status)
                       for mail in s.scalars(select(OutboxMail).where(OutboxMail.status != "sent")
                                             .order_by(OutboxMail.id)))
    h = health.load(DbStateStore(app.sessions, app.now))
    failing = h.last_error_at is not None and (not h.last_ok or h.last_error_at > h.last_ok)
    silence = timedelta(minutes=app.settings.health.silence_minutes)
    return Status(
        period=period_key, deadline=deadline, today=app.today(), units=tuple(units), quarantine=quarantine,
        bouncing=bouncing, handed_over=handed,
        outbox={k: counts.get(k, 0) for k in ("pending", "sent", "dead")},
        outbox_path=str(app.settings.path(app.settings.outbox.path)),
        not_sending=(stop[0].astimezone(tz), stop[1]) if stop else None, unsent=unsent, mailbox=app.mailbox.name,
        last_ok=h.last_ok.astimezone(tz) if h.last_ok else None,
        failing_since=h.failing_since.astimezone(tz) if failing and h.failing_since else None,
        failures=h.failures if failing else 0, last_error=h.last_error if failing else None,
        silent=h.last_ok is not None and app.now() - h.last_ok > silence,
        guessed_years=tuple(sorted(app.calendar.guessed_years)))


def render_status(app: App, period_key: str) -> str:
    return render_text(gather_status(app, period_key))


def render_text(st: Status) -> str:
    report = {"on_time": "on time", "late": "LATE"}
    out = [f"period {st.period}  deadline {st.deadline:%Y-%m-%d}  today {st.today:%Y-%m-%d}", "",
           f"{'unit':<8}{pad('name', 14)}{'requested':<12}report"]
    for u in st.units:
        text = (f"v{u.version} {report[u.state]} {u.received_at:%m-%d %H:%M}" if u.received_at
                else "MISSING" if u.state == "missing" else "not yet")
        out.append(f"{u.code:<8}{pad(u.name, 14)}{'yes' if u.requested else 'no':<12}{text}")
    out += ["", f"quarantine: {len(st.quarantine)} message(s)"]
    out += [f"  {i.ref} {i.at:%m-%d %H:%M} {i.who}: {i.text}" for i in st.quarantine]
    if st.bouncing:
        out.append(f"addresses our mail bounced from: {len(st.bouncing)} (their units' mail goes to the other "
                   f"contacts and the leader until directory.yaml is fixed)")
        out += [f"  {i.ref} ({i.who}) since {i.at:%m-%d %H:%M}: {i.text}" for i in st.bouncing]
    out.append(f"handed over to HQ staff in the last {HANDOVER_DAYS} days: {len(st.handed_over)} message(s)")
    out += [f"  {i.ref} {i.at:%m-%d %H:%M} {i.who} {i.text}" for i in st.handed_over[:HANDOVER_LINES]]
    out.append(f"outbox: pending {st.outbox['pending']}, sent {st.outbox['sent']}, dead {st.outbox['dead']}  "
               f"({st.outbox_path})")
    if st.not_sending:
        out.append(f"  not sending since {st.not_sending[0]:%Y-%m-%d %H:%M}: {st.not_sending[1]}")
    out += [f"  {i.state} {i.ref} → {i.who}: {i.text}" for i in st.unsent]
    last_ok = f"{st.last_ok:%Y-%m-%d %H:%M}" if st.last_ok else "never (daemon not run yet)"
    out.append(f"mailbox: {st.mailbox}; last successful poll {last_ok}")
    if st.failing_since:
        out.append(f"  failing since {st.failing_since:%Y-%m-%d %H:%M} ({st.failures} failed polls): {st.last_error}")
    if st.guessed_years:
        years = ", ".join(str(y) for y in st.guessed_years)
        out.append(f"calendar: no holiday data for {years}; weekends only — describe it under calendar.years")
    out += ["", f"state: {st.state.upper()}"] + [f"  {level}: {text}" for level, text in st.problems]
    return "\n".join(out)
