"""The monthly bulletin's visits chapter: the month's visits and every overdue follow-up action.

`gather_visits` reads the database into the frozen lines of `bulletin_model`
(kept apart, free of the database, like the rest of the bulletin's model);
`templates/pdf/_bulletin_visits.html.j2` lays them out with the bulletin's own
styles and filters. A visit belongs to the month it took place in; overdue
follow-ups are listed whatever month their visit was, because the bulletin
is where HQ sees what is still owed.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailbot.db.models import FollowUp, Visit
from mailbot.visits.chapter_model import FollowUpLine, VisitLine, VisitsSection
from mailbot.visits.mails import FOLLOW_UP_CN, STATUS_CN
from mailbot.visits.plan import KINDS
from mailbot.visits.summary_form import follow_up_ref

__all__ = ["FollowUpLine", "VisitLine", "VisitsSection", "gather_visits"]


def gather_visits(s: Session, first: datetime, nxt: datetime, now: datetime, tz: ZoneInfo) -> VisitsSection:
    """Visits starting in [first, nxt) and the follow-ups overdue at `now`."""
    visits = s.scalars(select(Visit).where(Visit.starts_at >= first, Visit.starts_at < nxt)
                       .order_by(Visit.starts_at, Visit.id)
                       .options(selectinload(Visit.units), selectinload(Visit.follow_ups))).all()
    lines = tuple(VisitLine(
        number=v.number, kind=KINDS[v.kind], customer_code=v.customer.code, customer_name=v.customer.name,
        topic=v.topic, starts_at=v.starts_at.astimezone(tz), place=v.place,
        hq_owner=v.hq_owner.name if v.hq_owner else None, units=tuple(u.name for u in v.units),
        status=STATUS_CN.get(v.status, v.status), follow_ups=len(v.follow_ups),
        follow_ups_open=sum(f.status == "open" for f in v.follow_ups)) for v in visits)
    today = now.astimezone(tz).date()
    overdue = []
    for fu in s.scalars(select(FollowUp).join(FollowUp.visit).where(
            FollowUp.status == "open", FollowUp.due < today, Visit.status != "cancelled")):
        assert fu.due is not None
        index = [f.id for f in fu.visit.follow_ups].index(fu.id) + 1
        overdue.append(FollowUpLine(
            ref=follow_up_ref(fu.visit.number, index), customer_code=fu.visit.customer.code,
            customer_name=fu.visit.customer.name, text=fu.text, owner=fu.owner, due=fu.due,
            overdue_days=(today - fu.due).days, status=FOLLOW_UP_CN.get(fu.status, fu.status)))
    overdue.sort(key=lambda f: (-f.overdue_days, f.ref))
    return VisitsSection(visits=lines, overdue=tuple(overdue))
