"""Who sees what, in one place: every page's query goes through `scoped` with the signed-in `Viewer`.

HQ staff see everything. A unit's contact sees only rows of its own unit — submissions, 诉求 — and a row of
another unit is simply not found (the page answers 404, not 403, so a URL tells nothing about what exists).
Customers' own contacts and anyone inactive cannot sign in at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, false, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from mailbot.db.models import Person

T = TypeVar("T")

ROLES = ("hq", "contact")   # the directory people who may sign in


@dataclass(frozen=True)
class Viewer:
    person_id: int
    email: str
    name: str
    role: str              # hq | contact
    unit_id: int | None    # a contact's unit

    @property
    def is_hq(self) -> bool:
        return self.role == "hq"


def viewer_of(s: Session, person_id: int) -> Viewer | None:
    """The signed-in person as the directory has them now: deactivated or moved, their session shrinks with it."""
    p = s.scalar(select(Person).where(Person.id == person_id, Person.active.is_(True), Person.role.in_(ROLES)))
    if p is None or (p.role == "contact" and p.unit_id is None):
        return None
    return Viewer(person_id=p.id, email=p.email, name=p.name, role=p.role, unit_id=p.unit_id)


def scoped(q: Select[T], viewer: Viewer, unit_column: InstrumentedAttribute[Any]) -> Select[T]:
    """`q` limited to what `viewer` may see, `unit_column` being the unit the rows belong to."""
    if viewer.is_hq:
        return q
    if viewer.unit_id is None:
        return q.where(false())
    return q.where(unit_column == viewer.unit_id)
