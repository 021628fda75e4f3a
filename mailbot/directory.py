"""The directory: units, contacts, leaders, HQ staff and customers, from YAML into the database.

`load_directory` validates the file (every reference must resolve; the message
names the file, the key and what is wrong); `sync_directory` makes the database
match it. Rows that disappear from the file are deactivated, never deleted:
past reports still point at them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from mailbot.db.models import Customer, Period, Person, ReportRequest, Unit, UnitCustomer
from mailbot.errors import ConfigError
from mailbot.settings import format_validation_error, read_yaml

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(v: str) -> str:
    v = v.strip().lower()
    if not EMAIL.match(v):
        raise ValueError(f"not an e-mail address: {v!r}")
    return v


Email = Annotated[str, AfterValidator(_email)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Strict):
    name: str
    email: Email
    phone: str | None = None


class Leader(_Strict):
    name: str
    email: Email


class StaffEntry(_Strict):
    id: str
    name: str
    email: Email
    title: str | None = None


class HQ(_Strict):
    department: str = "资源与市场部"
    staff: tuple[StaffEntry, ...]
    duty: tuple[str, ...] = Field(min_length=1)
    bulletin: tuple[str, ...] = Field(min_length=1)
    head: str | None = None          # the department head: overdue requests are escalated to them
    reception: tuple[str, ...] = ()  # told of customer visits to HQ (staff ids or addresses); default: the duty list


class UnitEntry(_Strict):
    code: str = Field(pattern=r"^[A-Z0-9]{2,12}$")
    name: str
    contacts: tuple[Contact, ...] = Field(min_length=1)
    leader: Leader | None = None


class CustomerEntry(_Strict):
    code: str
    name: str
    units: tuple[str, ...] = Field(min_length=1)
    hq_staff: str | None = None


class Customers(_Strict):
    strategic: tuple[CustomerEntry, ...] = ()
    vip: tuple[CustomerEntry, ...] = ()


class Directory(_Strict):
    hq: HQ
    units: tuple[UnitEntry, ...] = Field(min_length=1)
    customers: Customers

    @model_validator(mode="after")
    def _references(self) -> Directory:
        staff = {s.id for s in self.hq.staff}
        units = {u.code for u in self.units}
        problems: list[str] = []

        def dup(kind: str, values: list[str]) -> None:
            seen: set[str] = set()
            for v in values:
                if v in seen:
                    problems.append(f"{kind} {v!r} appears twice")
                seen.add(v)

        dup("unit code", [u.code for u in self.units])
        dup("staff id", [s.id for s in self.hq.staff])
        dup("customer code", [c.code for c in (*self.customers.strategic, *self.customers.vip)])
        dup("e-mail address", [c.email for u in self.units for c in u.contacts] + [s.email for s in self.hq.staff])
        if self.hq.head is not None and self.hq.head not in staff:
            problems.append(f"hq.head: {self.hq.head!r} is not in hq.staff")
        for i, ref in enumerate(self.hq.duty):
            if ref not in staff:
                problems.append(f"hq.duty.{i}: {ref!r} is not in hq.staff")
        for i, ref in enumerate(self.hq.reception):
            if ref not in staff and not EMAIL.match(ref):
                problems.append(f"hq.reception.{i}: {ref!r} is neither a staff id nor an e-mail address")
        for i, ref in enumerate(self.hq.bulletin):
            if ref not in staff and not EMAIL.match(ref):
                problems.append(f"hq.bulletin.{i}: {ref!r} is neither a staff id nor an e-mail address")
        for kind, prefix in (("strategic", "S"), ("vip", "V")):
            for i, c in enumerate(getattr(self.customers, kind)):
                where = f"customers.{kind}.{i}"
                if not re.fullmatch(prefix + r"\d+", c.code):
                    problems.append(f"{where}.code: {c.code!r} must be {prefix} followed by digits")
                for u in c.units:
                    if u not in units:
                        problems.append(f"{where}.units: unit {u!r} is not in units")
                if c.hq_staff is not None and c.hq_staff not in staff:
                    problems.append(f"{where}.hq_staff: {c.hq_staff!r} is not in hq.staff")
                if kind == "strategic" and c.hq_staff is None:
                    problems.append(f"{where}.hq_staff: every strategic customer needs its designated HQ staff (§8.1.3)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def staff_email(self, ref: str) -> str:
        for s in self.hq.staff:
            if s.id == ref:
                return s.email
        return ref

    def bulletin_addresses(self) -> list[str]:
        return [self.staff_email(r) for r in self.hq.bulletin]

    def duty_addresses(self) -> list[str]:
        return [self.staff_email(r) for r in self.hq.duty]

    def head_address(self) -> str:
        return self.staff_email(self.hq.head or self.hq.duty[0])


def load_directory(path: Path) -> Directory:
    raw = read_yaml(path)
    try:
        return Directory.model_validate(raw or {})
    except ValidationError as e:
        raise ConfigError(format_validation_error(str(path), e)) from None


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
            cust.hq_staff = staff[entry.hq_staff] if entry.hq_staff else None
            session.flush()
            for code in entry.units:
                wanted.add((units[code].id, cust.id))
    for key in wanted - links.keys():
        session.add(UnitCustomer(unit_id=key[0], customer_id=key[1]))
    for key in links.keys() - wanted:
        session.delete(links[key])
    session.flush()


# --- look-ups: the stored directory, loaded once per session ------------------------------------------
# An intake pass keeps one session for all its messages (see intake.run_pass), so these cost one query a pass.

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
    """Active contacts and HQ staff by (lower-case) e-mail address."""
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
