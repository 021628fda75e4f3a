"""Who sees what, in one place: every page's query goes through `scoped` with the signed-in `Viewer`.

HQ staff see everything. A unit's contact — and its 单位负责人, who is no person row of the directory but the unit's
`leader_email` — sees only rows of its own unit: submissions, 诉求, customers, visits, surveys, campaigns; a row of
another unit is simply not found (the page answers 404, not 403, so a URL tells nothing about what exists).
Customers' own contacts and anyone inactive cannot sign in at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVarTuple, Unpack

from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from mailbot.db.models import Person, Unit

Ts = TypeVarTuple("Ts")   # what a select returns: one entity, or columns

ROLES = ("hq", "contact")   # the directory people who may sign in (besides the units' leaders)


@dataclass(frozen=True)
class Viewer:
    person_id: int | None  # None for a unit leader (not a person row)
    email: str
    name: str
    role: str              # hq | contact | leader
    unit_id: int | None    # a contact's or a leader's unit

    @property
    def is_hq(self) -> bool:
        return self.role == "hq"

    @property
    def scope(self) -> tuple[str, int | None]:
        """What this viewer may see, as a key: everyone with the same scope sees the same rows."""
        return ("hq", None) if self.is_hq else ("unit", self.unit_id)


def viewer_of(s: Session, person_id: int) -> Viewer | None:
    """The signed-in person as the directory has them now: deactivated or moved, their session shrinks with it."""
    p = s.scalar(select(Person).where(Person.id == person_id, Person.active.is_(True), Person.role.in_(ROLES)))
    if p is None or (p.role == "contact" and p.unit_id is None):
        return None
    return Viewer(person_id=p.id, email=p.email, name=p.name, role=p.role, unit_id=p.unit_id)


def leader_unit(s: Session, email: str) -> Unit | None:
    """The active unit `email` leads (the first by code, should one person lead two)."""
    return s.scalar(select(Unit).where(Unit.active.is_(True), func.lower(Unit.leader_email) == email.strip().lower())
                    .order_by(Unit.code).limit(1))


def leader_viewer(s: Session, unit_id: int, email: str) -> Viewer | None:
    """A signed-in 单位负责人 as the directory has them now: no longer the unit's leader, no longer signed in."""
    unit = s.get(Unit, unit_id)
    if unit is None or not unit.active or (unit.leader_email or "").lower() != email.lower():
        return None
    return Viewer(person_id=None, email=email.lower(), name=unit.leader_name or email, role="leader",
                  unit_id=unit.id)


def viewer_by_address(s: Session, email: str) -> Viewer | None:
    """Whoever `email` signs in as: a directory person first, else a unit's leader (the SSO header's look-up)."""
    address = email.strip().lower()
    pid = s.scalar(select(Person.id).where(Person.email == address))
    viewer = viewer_of(s, pid) if pid is not None else None
    if viewer is None:
        unit = leader_unit(s, address)
        viewer = leader_viewer(s, unit.id, address) if unit is not None else None
    return viewer


def scoped(q: Select[Unpack[Ts]], viewer: Viewer, unit_column: InstrumentedAttribute[Any]) -> Select[Unpack[Ts]]:
    """`q` limited to what `viewer` may see, `unit_column` being the unit the rows belong to."""
    if viewer.is_hq:
        return q
    if viewer.unit_id is None:
        return q.where(false())
    return q.where(unit_column == viewer.unit_id)


def scoped_via(q: Select[Unpack[Ts]], viewer: Viewer, id_column: InstrumentedAttribute[Any],
               link_id: InstrumentedAttribute[Any], link_unit: InstrumentedAttribute[Any]) -> Select[Unpack[Ts]]:
    """`q` limited to rows linked to the viewer's unit through a link table (a customer served by several units,
    a visit concerning several): `id_column` in the link table's `link_id` where its `link_unit` is theirs."""
    if viewer.is_hq:
        return q
    return q.where(id_column.in_(scoped(select(link_id), viewer, link_unit)))
