"""Plan files HQ staff write (a visit, a survey, a campaign): read as text, every mistake named at once.

YAML 1.1 reads an unquoted ``14:00`` as the number 840 and refuses to load a
file at all over an impossible date such as ``2026-13-01``; plan files are
therefore read with every plain scalar as text (`TextLoader`), and dates are
read out of the text with a message naming the key. Problems are collected
(`PlanReader`) and raised together (`PlanError`), each as
``<file>: <key>: <what is wrong>`` in Chinese, because the people who write
these files read Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from mailbot.errors import MailbotError

_DATE_TEXT = re.compile(r"^\s*(\d{4})\s*(?:[-./]|年)\s*(\d{1,2})\s*(?:[-./]|月)\s*(\d{1,2})\s*日?\s*$")


class TextLoader(yaml.SafeLoader):
    """SafeLoader with no implicit numbers or timestamps: nothing in a plan is a number."""


TextLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


class PlanError(MailbotError):
    """The plan file is wrong; `problems` holds one ``file: key: message`` line per mistake."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


def load_mapping(text: str, source: str, example: str) -> dict[Any, Any]:
    """The file's top-level mapping; `example` names the commented example file to point at."""
    try:
        data = yaml.load(text, Loader=TextLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise PlanError([f"{source}: 不是有效的 YAML：{e}"]) from None
    if not isinstance(data, dict):
        raise PlanError([f"{source}: 文件应为“键: 值”的形式，参见 {example}"])
    return data


@dataclass
class PlanReader:
    """Collects problems while reading, so the author sees every mistake in one run."""

    source: str
    problems: list[str] = field(default_factory=list)

    def bad(self, key: str, message: str) -> None:
        self.problems.append(f"{self.source}: {key}: {message}")

    def unknown_keys(self, data: Mapping[Any, Any], known: frozenset[str]) -> None:
        for key in sorted(set(map(str, data)) - known):
            self.bad(key, "未知的键（拼写错误？）")

    def text(self, data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.bad(where, "必须填写")
            return None
        if isinstance(value, (dict, list)):
            self.bad(where, "应为一段文字")
            return None
        return str(value).strip()

    def day(self, value: Any, where: str) -> date | None:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        m = _DATE_TEXT.match(str(value)) if value is not None else None
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                pass
        self.bad(where, f"日期应写作 2026-11-20，写的是“{'' if value is None else value}”")
        return None

    def number(self, data: Mapping[str, Any], pattern: re.Pattern[str], what: str, example: str) -> str:
        """The plan's number (`number:`), upper case; a problem unless it reads like `example`."""
        number = (self.text(data, "number", "number") or "").upper()
        if number and not pattern.fullmatch(number):
            self.bad("number", f"{what}应形如 {example}，写的是“{number}”")
        return number

    def required_day(self, data: Mapping[str, Any], key: str, missing: str) -> date | None:
        """A date that must be there; `missing` says what it is and gives an example."""
        if data.get(key) is None:
            self.bad(key, missing)
            return None
        return self.day(data[key], key)

    def items(self, data: Mapping[str, Any], key: str) -> list[tuple[str, Any]]:
        """A list value as (key.i, item) pairs; absent is empty, anything but a list is a problem."""
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.bad(key, "应为列表（每项一行，以“- ”开头）")
            return []
        return [(f"{key}.{i}", v) for i, v in enumerate(value)]

    def day_offsets(self, data: Mapping[str, Any], key: str, before: str) -> tuple[int, ...]:
        """A list of whole days before something (`before`: "截止日" …), nearest last, each once."""
        offsets: set[int] = set()
        for where, value in self.items(data, key):
            if str(value).strip().isdigit():
                offsets.add(int(str(value)))
            else:
                self.bad(where, f"应为{before}前的天数（如 3），写的是“{value}”")
        return tuple(sorted(offsets, reverse=True))

    def done(self) -> None:
        if self.problems:
            raise PlanError(self.problems)


# --- which customers a plan file names: codes, or kinds and units -------------------------------------------------

CUSTOMER_KINDS = ("strategic", "vip")


@dataclass(frozen=True)
class CustomerFilter:
    """Listed customer codes, or every customer of the kinds given served by the units given (none: every unit)."""

    codes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = CUSTOMER_KINDS
    units: tuple[str, ...] = ()
    bare_list: bool = False   # the codes were the key's whole value (`key: [S001]`), not `key: {codes: […]}`


@dataclass(frozen=True)
class CustomerFact:
    """What the directory says of one customer, as plain values (its active units in directory order)."""

    code: str
    kind: str
    units: tuple[str, ...]


def read_customer_filter(r: PlanReader, value: object, key: str) -> CustomerFilter:
    """`key: [S001, V002]`, or `key: {codes: […], kind: strategic | vip | all, units: [GD, …]}`."""
    if isinstance(value, list):
        return CustomerFilter(codes=tuple(str(v).strip().upper() for v in value), bare_list=True)
    if not isinstance(value, dict):
        r.bad(key, "应为客户代码列表，或 {kind: strategic/vip/all, units: [GD, …], codes: [S001, …]}")
        return CustomerFilter()
    r.unknown_keys({f"{key}.{k}": v for k, v in value.items()},
                   frozenset(f"{key}.{k}" for k in ("codes", "kind", "units")))
    codes = tuple(str(v).strip().upper() for _, v in r.items(value, "codes"))
    kind = str(value.get("kind", "all")).strip().lower()
    if kind not in (*CUSTOMER_KINDS, "all"):
        r.bad(f"{key}.kind", f"应为 strategic、vip 或 all，写的是“{kind}”")
    units = tuple(str(v).strip().upper() for _, v in r.items(value, "units"))
    return CustomerFilter(codes=codes, kinds=CUSTOMER_KINDS if kind == "all" else (kind,), units=units)


def matching_customers(f: CustomerFilter, known: Sequence[CustomerFact], units: frozenset[str], source: str,
                       key: str) -> tuple[list[CustomerFact], list[str]]:
    """(the customers the filter names, in directory order; each code or unit the directory does not know, as
    ``file: key: message``). Listed codes are taken whatever their kind or units."""
    problems: list[str] = []
    by_code = {c.code for c in known}
    codes_key = key if f.bare_list else f"{key}.codes"
    for i, code in enumerate(f.codes):
        if code not in by_code:
            problems.append(f"{source}: {codes_key}.{i}: 客户 {code} 不在客户名录中（config/directory.yaml）")
    for i, u in enumerate(f.units):
        if u not in units:
            problems.append(f"{source}: {key}.units.{i}: 单位代码 {u} 不在名录中")
    if f.codes:
        return [c for c in known if c.code in f.codes], problems
    return [c for c in known if c.kind in f.kinds and (not f.units or set(c.units) & set(f.units))], problems
