"""The unit's open follow-up actions, as the monthly request lists them above the form.

(FORM.md: reminders stand outside the form, so an untouched form still reads blank.)
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mailbot.db.models import FollowUp, Unit, Visit
from mailbot.visits.mails import short_day
from mailbot.visits.plan import KINDS
from mailbot.visits.schedule import index_of
from mailbot.visits.summary_form import follow_up_ref


def open_follow_ups(s: Session, unit: Unit, today: date | None = None) -> list[dict[str, str]]:
    """The unit's open follow-up actions, in the shape of the monthly request's `open_matters` list.

    A follow-up is the unit's when its owner is one of the unit's contacts or the unit itself was named.
    """
    addrs = [p.email for p in unit.contacts]
    rows = s.scalars(select(FollowUp).join(FollowUp.visit).where(
        FollowUp.status == "open", Visit.status != "cancelled",
        or_(FollowUp.unit_id == unit.id, FollowUp.owner_email.in_(addrs)))
        .order_by(FollowUp.due, FollowUp.id)).all()
    out = []
    for fu in rows:
        v = fu.visit
        late = (today - fu.due).days if today and fu.due and fu.due < today else 0
        due = f"，{short_day(fu.due)}前完成" if fu.due else ""
        out.append({"customer_code": v.customer.code, "customer_name": v.customer.name,
                    "summary": f"{follow_up_ref(v.number, index_of(fu))} {KINDS[v.kind]}后续事项：{fu.text}"
                               f"（责任人{fu.owner}{due}）",
                    "status": f"已逾期{late}天" if late else "办理中"})
    return out
