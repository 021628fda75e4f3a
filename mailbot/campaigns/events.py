"""A campaign's promotion events (推广会, 见面会): visits planned with the visits machinery — notice, .ics,
minutes, follow-ups — whose plan file names the campaign (`campaign: TG-2026-01`, stored as `Visit.campaign_id`).

The visits capability does everything an event needs; this module only reads the link, for the board (`status
--json`, the report PDF), the bulletin chapter and each customer's campaign history. A cancelled event is left
out everywhere: it did not happen and will not.

An event's state as at a moment: 纪要已归档 once its minutes are filed, 已举行，待报纪要 once it has ended
without them, else 计划中 (without a moment, as recorded: 纪要已归档 or 计划中).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from mailbot.db.models import Campaign, Visit

HELD_WITHOUT_MINUTES = "已举行，待报纪要"
MINUTES_FILED = "纪要已归档"
PLANNED = "计划中"


@dataclass(frozen=True)
class Event:
    """One promotion event of a campaign, as the board, the chapter and the archive show it."""

    visit: str                  # VIS-2026-0002
    kind: str                   # 拜访 | 来访
    customer: str               # S001
    customer_name: str
    topic: str
    starts_at: datetime
    units: tuple[str, ...]      # the units' names, in code order
    state: str                  # PLANNED | HELD_WITHOUT_MINUTES | MINUTES_FILED, as of `at`
    follow_ups_open: int
    follow_ups_done: int


def _state(visit: Visit, at: datetime | None) -> str:
    """As of `at`; None: as the record stands, which cannot tell a past event without minutes from a coming one."""
    if visit.status == "done" and visit.summary_at is not None and (at is None or visit.summary_at <= at):
        return MINUTES_FILED
    return HELD_WITHOUT_MINUTES if at is not None and visit.ends_at <= at else PLANNED


def _event(visit: Visit, at: datetime | None) -> Event:
    follow_ups = [f for f in visit.follow_ups if at is None or f.created_at <= at]
    done = sum(1 for f in follow_ups if f.status == "done" and f.done_at is not None
               and (at is None or f.done_at <= at))
    return Event(visit=visit.number, kind="拜访" if visit.kind == "outgoing" else "来访",
                 customer=visit.customer.code, customer_name=visit.customer.name, topic=visit.topic,
                 starts_at=visit.starts_at, units=tuple(u.name for u in visit.units), state=_state(visit, at),
                 follow_ups_open=len(follow_ups) - done, follow_ups_done=done)


def _visits(s: Session, *where: ColumnElement[bool]) -> list[Visit]:
    return list(s.scalars(select(Visit).where(Visit.status != "cancelled", *where)
                          .order_by(Visit.starts_at, Visit.id)))


def campaign_events(s: Session, campaign: Campaign, at: datetime) -> list[Event]:
    """The campaign's events, oldest first, as they stand at `at` (what was recorded after it is not there yet)."""
    return [_event(v, at) for v in _visits(s, Visit.campaign_id == campaign.id, Visit.created_at <= at)]


def customer_events(s: Session, customer_id: int, at: datetime | None = None) -> list[tuple[Campaign, Event]]:
    """Every campaign event held for or with one customer, with its campaign, oldest first (as at `at`, else as
    recorded)."""
    visits = _visits(s, Visit.customer_id == customer_id, Visit.campaign_id.is_not(None))
    return [(v.campaign, _event(v, at)) for v in visits if v.campaign is not None]


def as_json(event: Event, tz: ZoneInfo) -> dict[str, object]:
    """The event as plain values (the board's JSON)."""
    return {"visit": event.visit, "kind": event.kind, "customer": event.customer, "name": event.customer_name,
            "topic": event.topic, "date": event.starts_at.astimezone(tz).date().isoformat(),
            "units": list(event.units), "state": event.state,
            "follow_ups": {"open": event.follow_ups_open, "done": event.follow_ups_done}}
