"""Who a visit concerns: the names in a plan or a summary, turned into people with addresses.

A plan names people by directory keys (an HQ staff id, a unit code) or by
address; a summary names each follow-up's owner the way people write it
("王静", "四川分公司 王静", an address, a unit's name). Only registered people
and units are ever mailed by the bot: an owner nobody can identify is not
guessed at, the HQ owner is chased instead and told why. Customers' own
staff are never mailed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.db.models import Person, Unit, Visit
from mailbot.directory.lookup import unit_recipients

Addr = tuple[str, str]  # (display name, address)
_EMAIL = re.compile(r"[^@\s<>（）()，,;；]+@[^@\s<>（）()，,;；]+\.[A-Za-z]{2,}")


def unique(addrs: Iterable[Addr], *, besides: Iterable[Addr] = ()) -> list[Addr]:
    """Addresses in first-seen order, each once, leaving out those already in `besides`."""
    seen = {a.lower() for _, a in besides}
    out: list[Addr] = []
    for name, addr in addrs:
        if addr and addr.lower() not in seen:
            seen.add(addr.lower())
            out.append((name, addr))
    return out


def contacts(unit: Unit) -> list[Addr]:
    """The unit's contacts that mail reaches — and its 单位负责人 while one of them bounces (`unit_recipients`)."""
    names = {p.email: p.name for p in unit.contacts}
    names.setdefault(unit.leader_email or "", unit.leader_name or "")
    return [(names[addr], addr) for addr in unit_recipients(unit)]


def staff(s: Session, key: str) -> Person | None:
    return s.scalar(select(Person).where(Person.staff_key == key, Person.role == "hq"))


def unit_by_code(s: Session, code: str) -> Unit | None:
    return s.scalar(select(Unit).where(Unit.code == code.upper()))


def resolve(s: Session, ref: str) -> tuple[str, list[Addr]]:
    """A plan's preparer reference → (how to name them, their addresses)."""
    if (p := staff(s, ref)) is not None:
        return p.name, [(p.name, p.email)]
    if (u := unit_by_code(s, ref)) is not None:
        return u.name, contacts(u)
    addr = ref.strip().lower()
    known = s.scalar(select(Person).where(Person.email == addr))
    return (known.name, [(known.name, addr)]) if known else (addr, [(addr, addr)])


def owner_of(s: Session, text: str, visit: Visit) -> tuple[Person | None, Unit | None]:
    """Who a follow-up's owner text means: a registered person (and their unit), or just a unit, or nobody.

    An address decides outright. Otherwise a registered name contained in the text, preferring people of
    the visit's units and HQ when the same name occurs twice; then a unit's name or code.
    """
    if m := _EMAIL.search(text):
        p = s.scalar(select(Person).where(Person.email == m.group(0).lower(), Person.active.is_(True)))
        return (p, p.unit) if p else (None, None)
    people = [p for p in s.scalars(select(Person).where(Person.active.is_(True))) if p.name and p.name in text]
    if people:
        longest = max(len(p.name) for p in people)
        people = [p for p in people if len(p.name) == longest]  # "王静怡" is not "王静"
        if len(people) > 1:
            ours = {u.id for u in visit.units}
            people = [p for p in people if p.role == "hq" or p.unit_id in ours]
        if len(people) == 1:
            return people[0], people[0].unit
        return None, None
    for u in s.scalars(select(Unit).where(Unit.active.is_(True))):
        if u.name in text or re.search(rf"(?<![A-Za-z0-9]){re.escape(u.code)}(?![A-Za-z0-9])", text):
            return None, u
    return None, None
