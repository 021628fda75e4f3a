"""The directory file (config/directory.yaml): units, contacts, leaders, HQ staff and customers.

`load_directory` validates the file (every reference must resolve; the message
names the file, the key and what is wrong).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

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
    # A unit's mail that is not a report, from a unit with no hq_staff of its own (staff ids); default: the duty list
    correspondence: tuple[str, ...] = ()


class UnitEntry(_Strict):
    code: str = Field(pattern=r"^[A-Z0-9]{2,12}$")
    name: str
    contacts: tuple[Contact, ...] = Field(min_length=1)
    leader: Leader | None = None
    hq_staff: str | None = None  # the unit's 总部对接人: its mail that is not a report is handed to them


class CustomerEntry(_Strict):
    code: str
    name: str
    units: tuple[str, ...] = Field(min_length=1)
    hq_staff: str | None = None
    aliases: tuple[Annotated[str, Field(min_length=2, max_length=50)], ...] = ()  # short names people write
    # The customer's own people, surveyed directly (§5.3); the only addresses outside the group the bot writes to.
    contacts: tuple[Contact, ...] = ()


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
        dup("e-mail address", [c.email for u in self.units for c in u.contacts] + [s.email for s in self.hq.staff]
            + [c.email for cust in (*self.customers.strategic, *self.customers.vip) for c in cust.contacts])
        if self.hq.head is not None and self.hq.head not in staff:
            problems.append(f"hq.head: {self.hq.head!r} is not in hq.staff")
        for i, ref in enumerate(self.hq.duty):
            if ref not in staff:
                problems.append(f"hq.duty.{i}: {ref!r} is not in hq.staff")
        for i, ref in enumerate(self.hq.reception):
            if ref not in staff and not EMAIL.match(ref):
                problems.append(f"hq.reception.{i}: {ref!r} is neither a staff id nor an e-mail address")
        for i, ref in enumerate(self.hq.correspondence):
            if ref not in staff:
                problems.append(f"hq.correspondence.{i}: {ref!r} is not in hq.staff")
        for i, u in enumerate(self.units):
            if u.hq_staff is not None and u.hq_staff not in staff:
                problems.append(f"units.{i}.hq_staff: {u.hq_staff!r} is not in hq.staff")
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

    def reception_addresses(self) -> list[str]:
        """Who hears of customer visits to HQ (§7.1): `hq.reception`, else the duty list, so an installation that
        has not described a reception list still tells someone at HQ."""
        return [self.staff_email(r) for r in self.hq.reception or self.hq.duty]

    def unit_hq_staff(self, unit_code: str) -> str | None:
        """The staff id of a unit's own 总部对接人, if the directory names one."""
        return next((u.hq_staff for u in self.units if u.code == unit_code), None)

    def correspondence_staff(self, unit_code: str) -> list[StaffEntry]:
        """Who at HQ is handed a unit's mail that is not a report: the unit's 总部对接人, else the correspondence
        list, else the duty list."""
        own = self.unit_hq_staff(unit_code)
        refs = ((own,) if own else self.hq.correspondence) or self.hq.duty
        return [s for ref in refs for s in self.hq.staff if s.id == ref]

    def head_address(self) -> str:
        return self.staff_email(self.hq.head or self.hq.duty[0])


def load_directory(path: Path) -> Directory:
    raw = read_yaml(path)
    try:
        return Directory.model_validate(raw or {})
    except ValidationError as e:
        raise ConfigError(format_validation_error(str(path), e)) from None
