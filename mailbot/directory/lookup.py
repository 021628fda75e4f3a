"""The directory in the database: `sync_directory` makes the rows match the file, and the per-session look-ups.

Rows that disappear from the file are deactivated, never deleted: past reports still point at them.
"""

from __future__ import annotations

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from mailbot.db.models import Customer, CustomerContact, Period, Person, ReportRequest, Unit, UnitCustomer
from mailbot.directory.config import Directory


def _upsert_person(session: Session, email: str, **fields: object) -> Person:
    person = session.scalar(select(Person).where(Person.email == email))
    if person is None:
        person = Person(email=email, **fields)
        session.add(person)
    else:
        for k, v in fields.items():
            setattr(person, k, v)
    return person


def sync_directory(session: Session, d: Directory) -> None:
    """Make the database's directory tables say what the file says (idempotent)."""
    for p in session.scalars(select(Person)):
        p.active = False
    staff: dict[str, Person] = {}
    for s in d.hq.staff:
        staff[s.id] = _upsert_person(session, s.email, name=s.name, role="hq", staff_key=s.id, title=s.title,
                                     unit=None, phone=None, active=True)
    session.flush()

    units: dict[str, Unit] = {u.code: u for u in session.scalars(select(Unit))}
    for u in units.values():
        u.active = False
    for entry in d.units:
        unit = units.get(entry.code)
        if unit is None:
            unit = units[entry.code] = Unit(code=entry.code, name=entry.name)
            session.add(unit)
        unit.name, unit.active = entry.name, True
        unit.leader_name = entry.leader.name if entry.leader else None
        unit.leader_email = entry.leader.email if entry.leader else None
        session.flush()
        for c in entry.contacts:
            _upsert_person(session, c.email, name=c.name, phone=c.phone, role="contact", staff_key=None,
                           title=None, unit=unit, active=True)

    customers: dict[str, Customer] = {c.code: c for c in session.scalars(select(Customer))}
    for old in customers.values():
        old.active = False
    links = {(uc.unit_id, uc.customer_id): uc for uc in session.scalars(select(UnitCustomer))}
    wanted: set[tuple[int, int]] = set()
    for kind in ("strategic", "vip"):
        for entry in getattr(d.customers, kind):
            cust = customers.get(entry.code)
            if cust is None:
                cust = customers[entry.code] = Customer(code=entry.code, name=entry.name, kind=kind)
                session.add(cust)
            cust.name, cust.kind, cust.active = entry.name, kind, True
            cust.aliases = "\n".join(entry.aliases) or None
            cust.hq_staff = staff[entry.hq_staff] if entry.hq_staff else None
            session.flush()
            for code in entry.units:
                wanted.add((units[code].id, cust.id))
            for c in entry.contacts:
                person = _upsert_person(session, c.email, name=c.name, phone=c.phone, role="customer",
                                        staff_key=None, title=None, unit=None, active=True)
                session.flush()
                link = session.get(CustomerContact, person.id)
                if link is None:
                    session.add(CustomerContact(person_id=person.id, customer_id=cust.id))
                else:
                    link.customer_id = cust.id
    for key in wanted - links.keys():
        session.add(UnitCustomer(unit_id=key[0], customer_id=key[1]))
    for key in links.keys() - wanted:
        session.delete(links[key])
    session.flush()


_KEPT = (Unit, Person, Customer, Period, ReportRequest)  # rows a pass reads again and again and never changes


def keep_directory(s: Session) -> None:
    """Hold on to the directory rows the session loads, with the relationships they load in turn.

    A session's identity map holds objects weakly, so without this each message would load them again.
    """
    kept: set[object] = s.info.setdefault("directory", set())

    @event.listens_for(s, "loaded_as_persistent")
    def _keep(_session: Session, obj: object) -> None:
        if isinstance(obj, _KEPT):
            kept.add(obj)


def active_people(s: Session) -> dict[str, Person]:
    """Active contacts, HQ staff and customers' own contacts by (lower-case) e-mail address."""
    found: dict[str, Person] | None = s.info.get("people")
    if found is None:
        found = s.info["people"] = {p.email: p for p in s.scalars(select(Person).where(Person.active.is_(True)))}
    return found


def customers_by_code(s: Session) -> dict[str, Customer]:
    """Every customer, active or not, by code."""
    found: dict[str, Customer] | None = s.info.get("customers")
    if found is None:
        found = s.info["customers"] = {c.code: c for c in s.scalars(select(Customer))}
    return found


def duty_people(s: Session, duty_emails: list[str]) -> list[Person]:
    """The duty list's active people, in the directory's order."""
    people = active_people(s)
    return [people[e] for e in duty_emails if e in people]


def unit_recipients(unit: Unit) -> list[str]:
    """Whom a unit's mail goes to: its contacts — but not an address our mail bounced from, and while one does,
    its 单位负责人 as well, so the unit still hears (until the directory is fixed)."""
    contacts = [p for p in unit.contacts if p.active]
    working = [p.email for p in contacts if p.bounced_at is None]
    if len(working) < len(contacts) and unit.leader_email and unit.leader_email not in working:
        working.append(unit.leader_email)
    return working
