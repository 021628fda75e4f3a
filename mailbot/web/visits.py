"""Visits on the board: the list (newest first) and one visit — the facts and lists its notice mail shows
(`visits.mails.card` and `details` over the stored plan), the minutes, the follow-ups with their progress notes.

A unit sees the visits it is one of the units of (`visit_units`), and nothing else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from mailbot.app import App
from mailbot.db.models import Person, Visit, VisitUnit
from mailbot.visits.mails import card, details, follow_up_card
from mailbot.visits.store import audience, stored_plan
from mailbot.web.scope import Viewer, scoped_via

MAX_ROWS = 300


def _visible(viewer: Viewer) -> Select[Any]:
    return scoped_via(select(Visit), viewer, Visit.id, VisitUnit.visit_id, VisitUnit.unit_id)


def visits_page(app: App, s: Session, viewer: Viewer) -> dict[str, Any]:
    today = app.today()
    rows = []
    for v in s.scalars(_visible(viewer).order_by(Visit.starts_at.desc(), Visit.id.desc()).limit(MAX_ROWS)
                       .options(selectinload(Visit.follow_ups), selectinload(Visit.units))):
        c = card(v, stored_plan(v), app.tz)
        late = sum(1 for f in v.follow_ups if f.status == "open" and f.due and f.due < today)
        rows.append({**c, "follow_ups": len(v.follow_ups), "open": sum(f.status == "open" for f in v.follow_ups),
                     "late": late})
    return {"visits": rows}


def visit_page(app: App, s: Session, viewer: Viewer, number: str) -> dict[str, Any] | None:
    """One visit; None when it does not exist or concerns none of the viewer's unit."""
    v = s.scalar(_visible(viewer).where(Visit.number == number.strip().upper()))
    if v is None:
        return None
    plan = stored_plan(v)
    names = {p.email: p.name for p in s.scalars(select(Person).where(Person.email.in_(
        {n.author for n in v.notes})))} if v.notes else {}

    def note(n: Any) -> dict[str, Any]:
        return {"at": n.at, "author": "系统" if n.author == "mailbot" else names.get(n.author, n.author),
                "text": n.text}

    today = app.today()
    follow_ups = [{**follow_up_card(f, i, today), "done_at": f.done_at,
                   "notes": [note(n) for n in v.notes if n.follow_up_id == f.id]}
                  for i, f in enumerate(v.follow_ups, 1)]
    return {"visit": card(v, plan, app.tz), "details": details(plan, audience(s, plan, [])[2]),
            "summary": v.summary, "agreed": v.agreed, "summary_at": v.summary_at, "follow_ups": follow_ups,
            "notes": [note(n) for n in v.notes if n.follow_up_id is None]}
