"""A visit plan file (config/visit.example.yaml) → a validated, frozen `VisitPlan`.

HQ staff write one YAML file per visit (§7.2.1–7.2.2 for a visit to a
customer, §7.1 for a customer's visit to HQ) and run `mailbot visit plan
FILE.yaml`. This module only reads: it turns the file's text into a
`VisitPlan` or raises `PlanError` listing every problem at once, each as
``<file>: <key>: <what is wrong>`` in Chinese, because the people who write
these files read Chinese (`domain.planfile`: every scalar read as text).
Nothing here touches the database or the clock; whether the customer, units
and staff named in the file exist is a second, equally pure step
(`check_references`) fed with what the directory knows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from mailbot.planfile import PlanReader, load_mapping

NUMBER = re.compile(r"VIS-\d{4}-\d{4,}")
KINDS = {"outgoing": "拜访", "incoming": "来访"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TIME_RANGE = re.compile(r"^\s*(\d{1,2})[:：](\d{2})\s*(?:-|—|–|~|～|至|到)\s*(\d{1,2})[:：](\d{2})\s*$")
_TOP_KEYS = frozenset({"number", "kind", "customer", "topic", "date", "end_date", "time", "place", "hq_owner",
                       "units", "responsible_unit", "customer_attendees", "our_attendees", "itinerary",
                       "duties", "briefing", "arrangements", "notes", "campaign"})
CAMPAIGN = re.compile(r"TG-\d{4}-\d{2,3}")   # a national campaign's number (campaigns/plan.py)


@dataclass(frozen=True)
class Attendee:
    """Someone at the meeting; `staff` is an HQ staff id from the directory, `email` invites them."""

    name: str
    title: str | None = None
    org: str | None = None
    email: str | None = None
    staff: str | None = None

    def label(self) -> str:
        return "".join(x for x in (self.org and f"{self.org} ", self.name, self.title and f"（{self.title}）") if x)


@dataclass(frozen=True)
class Step:
    """One line of the itinerary (outgoing) or agenda (incoming)."""

    time: str
    item: str


@dataclass(frozen=True)
class Duty:
    """Division of duties (§7.2.2): who does what."""

    who: str
    task: str


@dataclass(frozen=True)
class ChecklistItem:
    """Something to prepare before the visit, by whom, by when; the preparer is reminded.

    `preparer` is an HQ staff id, a unit code or an e-mail address (resolved against the directory).
    """

    item: str
    preparer: str
    due: date


@dataclass(frozen=True)
class VisitPlan:
    source: str
    kind: str                       # outgoing | incoming
    customer: str                   # S001 / V003
    topic: str
    starts: datetime                # aware, in the configured time zone
    ends: datetime
    place: str
    hq_owner: str                   # HQ staff id
    units: tuple[str, ...]          # unit codes concerned: they get the notice
    responsible_unit: str | None    # asked for the summary with the HQ owner
    number: str | None = None       # set when the file changes a recorded visit
    customer_attendees: tuple[Attendee, ...] = ()
    our_attendees: tuple[Attendee, ...] = ()
    itinerary: tuple[Step, ...] = ()
    duties: tuple[Duty, ...] = ()
    briefing: tuple[ChecklistItem, ...] = ()
    arrangements: tuple[ChecklistItem, ...] = ()   # 会务安排: room, reception, cars, meals (mostly incoming)
    notes: str | None = None
    campaign: str | None = None     # TG-2026-01: a promotion event (推广会, 见面会) of that campaign

    @property
    def checklist(self) -> tuple[ChecklistItem, ...]:
        """Everything someone must prepare, numbered 1.. in this order (the reminder keys use the number)."""
        return self.briefing + self.arrangements


def parse_plan(text: str, source: str, tz: ZoneInfo) -> VisitPlan:
    """Read one plan file's text; raises PlanError naming every problem."""
    data = load_mapping(text, source, "config/visit.example.yaml")
    r = PlanReader(source)
    r.unknown_keys(data, _TOP_KEYS)

    number = r.text(data, "number", "number", required=False)
    if number is not None and not NUMBER.fullmatch(number):
        r.bad("number", f"拜访编号应形如 VIS-2026-0001，写的是“{number}”")
    kind = r.text(data, "kind", "kind") or "outgoing"
    if kind not in KINDS:
        r.bad("kind", f"应为 outgoing（拜访客户）或 incoming（客户来访），写的是“{kind}”")
    customer = (r.text(data, "customer", "customer") or "").upper()
    if customer and not re.fullmatch(r"[SV]\d+", customer):
        r.bad("customer", f"客户代码应形如 S001 或 V003，写的是“{customer}”")
    topic = r.text(data, "topic", "topic") or ""
    place = r.text(data, "place", "place") or ""
    hq_owner = r.text(data, "hq_owner", "hq_owner") or ""

    starts, ends = _times(r, data, tz)

    units = tuple(str(u).strip().upper() for _, u in r.items(data, "units"))
    if not units:
        r.bad("units", "请至少列出一个所属单位（单位代码，如 GD）")
    responsible = r.text(data, "responsible_unit", "responsible_unit", required=False)
    responsible = responsible.upper() if responsible else (units[0] if units else None)
    if responsible and responsible not in units:
        r.bad("responsible_unit", f"“{responsible}”不在 units 中")

    campaign = r.text(data, "campaign", "campaign", required=False)
    if campaign is not None:
        campaign = campaign.upper()
        if not CAMPAIGN.fullmatch(campaign):
            r.bad("campaign", f"推广方案编号应形如 TG-2026-01，写的是“{campaign}”")

    plan = VisitPlan(
        source=source, number=number, campaign=campaign, kind=kind, customer=customer, topic=topic,
        starts=starts or _EPOCH, ends=ends or _EPOCH, place=place, hq_owner=hq_owner, units=units,
        responsible_unit=responsible,
        customer_attendees=tuple(_attendees(r, data, "customer_attendees")),
        our_attendees=tuple(_attendees(r, data, "our_attendees")),
        itinerary=tuple(_steps(r, data)), duties=tuple(_duties(r, data)),
        briefing=tuple(_checklist(r, data, "briefing")), arrangements=tuple(_checklist(r, data, "arrangements")),
        notes=r.text(data, "notes", "notes", required=False))
    r.done()
    return plan


_UTC = ZoneInfo("UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)  # placeholder only ever seen when problems are raised


def _times(r: PlanReader, data: Mapping[str, Any], tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    first = r.day(data.get("date"), "date") if data.get("date") is not None else None
    if data.get("date") is None:
        r.bad("date", "必须填写（如 2026-11-20）")
    last = r.day(data.get("end_date"), "end_date") if data.get("end_date") is not None else first
    raw = data.get("time")
    if raw is None:
        r.bad("time", "必须填写开始和结束时间，如 \"09:30-11:30\"")
        return None, None
    m = _TIME_RANGE.match(str(raw))
    if m is None:
        r.bad("time", f"应写作 \"09:30-11:30\"，写的是“{raw}”")
        return None, None
    try:
        t0, t1 = time(int(m[1]), int(m[2])), time(int(m[3]), int(m[4]))
    except ValueError:
        r.bad("time", f"时间不存在：“{raw}”")
        return None, None
    if first is None or last is None:
        return None, None
    starts = datetime.combine(first, t0, tz)
    ends = datetime.combine(last, t1, tz)
    if ends <= starts:
        r.bad("time", f"结束时间应晚于开始时间（{raw}）")
    return starts, ends


def _attendees(r: PlanReader, data: Mapping[str, Any], key: str) -> list[Attendee]:
    out = []
    for where, v in r.items(data, key):
        if isinstance(v, str) and v.strip():
            out.append(Attendee(name=v.strip()))
            continue
        if not isinstance(v, dict):
            r.bad(where, "应为姓名，或 {name: 姓名, title: 职务}")
            continue
        unknown = set(map(str, v)) - {"name", "title", "org", "email", "staff"}
        for k in sorted(unknown):
            r.bad(f"{where}.{k}", "未知的键（可用 name、title、org、email、staff）")
        staff = r.text(v, "staff", f"{where}.staff", required=False)
        name = r.text(v, "name", f"{where}.name", required=staff is None)
        email = r.text(v, "email", f"{where}.email", required=False)
        if email is not None and not _EMAIL.match(email):
            r.bad(f"{where}.email", f"不是邮箱地址：“{email}”")
        out.append(Attendee(name=name or "", title=r.text(v, "title", "", required=False),
                            org=r.text(v, "org", "", required=False), email=email.lower() if email else None,
                            staff=staff))
    return out


def _steps(r: PlanReader, data: Mapping[str, Any]) -> list[Step]:
    out = []
    for where, v in r.items(data, "itinerary"):
        if not isinstance(v, dict):
            r.bad(where, "应为 {time: \"09:30\", item: 内容}")
            continue
        when = v.get("time")
        out.append(Step(time=str(when or "").strip(), item=r.text(v, "item", f"{where}.item") or ""))
    return out


def _duties(r: PlanReader, data: Mapping[str, Any]) -> list[Duty]:
    out = []
    for where, v in r.items(data, "duties"):
        if not isinstance(v, dict):
            r.bad(where, "应为 {who: 负责方, task: 分工内容}")
            continue
        out.append(Duty(who=r.text(v, "who", f"{where}.who") or "", task=r.text(v, "task", f"{where}.task") or ""))
    return out


def _checklist(r: PlanReader, data: Mapping[str, Any], key: str) -> list[ChecklistItem]:
    out = []
    for where, v in r.items(data, key):
        if not isinstance(v, dict):
            r.bad(where, "应为 {item: 材料或事项, preparer: 准备人, due: 2026-11-17}")
            continue
        item = r.text(v, "item", f"{where}.item") or ""
        preparer = r.text(v, "preparer", f"{where}.preparer") or ""
        due = r.day(v.get("due"), f"{where}.due") if v.get("due") is not None else None
        if v.get("due") is None:
            r.bad(f"{where}.due", "必须填写完成日期（如 2026-11-17），准备人将在此前收到提醒")
        out.append(ChecklistItem(item=item, preparer=preparer, due=due or date.min))
    return out


# --- references: does the directory know the names the file uses? ------------------------


@dataclass(frozen=True)
class Refs:
    """What the directory knows, as plain sets, so reference checks stay pure."""

    customers: frozenset[str]
    units: frozenset[str]
    staff: frozenset[str]


def resolvable(ref: str, refs: Refs) -> bool:
    """A preparer is an HQ staff id, a unit code or an e-mail address."""
    return ref in refs.staff or ref.upper() in refs.units or bool(_EMAIL.match(ref))


def check_references(plan: VisitPlan, refs: Refs) -> list[str]:
    """Every name in the plan that the directory does not know, as ``file: key: message`` lines."""
    out: list[str] = []

    def bad(key: str, message: str) -> None:
        out.append(f"{plan.source}: {key}: {message}")

    if plan.customer not in refs.customers:
        bad("customer", f"客户 {plan.customer} 不在客户名录中（config/directory.yaml）")
    if plan.hq_owner not in refs.staff:
        bad("hq_owner", f"“{plan.hq_owner}”不是总部人员编号（hq.staff 的 id，如 liuyang）")
    for i, u in enumerate(plan.units):
        if u not in refs.units:
            bad(f"units.{i}", f"单位代码 {u} 不在名录中")
    for i, a in enumerate(plan.our_attendees):
        if a.staff is not None and a.staff not in refs.staff:
            bad(f"our_attendees.{i}.staff", f"“{a.staff}”不是总部人员编号")
    for key, items in (("briefing", plan.briefing), ("arrangements", plan.arrangements)):
        for i, c in enumerate(items):
            if not resolvable(c.preparer, refs):
                bad(f"{key}.{i}.preparer", f"“{c.preparer}”既不是总部人员编号、单位代码，也不是邮箱地址")
            if c.due > plan.starts.date():
                bad(f"{key}.{i}.due", f"完成日期 {c.due.isoformat()} 晚于{KINDS[plan.kind]}日期")
    return out


# --- storage: the plan as Visit.details JSON, and back ------------------------------------


def to_json(plan: VisitPlan) -> dict[str, Any]:
    """The parts of a plan not kept in Visit's own columns, as JSON-ready data (dates as ISO text)."""
    return {
        "responsible_unit": plan.responsible_unit,
        "customer_attendees": [_attendee_json(a) for a in plan.customer_attendees],
        "our_attendees": [_attendee_json(a) for a in plan.our_attendees],
        "itinerary": [{"time": s.time, "item": s.item} for s in plan.itinerary],
        "duties": [{"who": d.who, "task": d.task} for d in plan.duties],
        "briefing": [_check_json(c) for c in plan.briefing],
        "arrangements": [_check_json(c) for c in plan.arrangements],
        "notes": plan.notes,
        "campaign": plan.campaign,
    }


def _attendee_json(a: Attendee) -> dict[str, str]:
    return {k: v for k, v in (("name", a.name), ("title", a.title), ("org", a.org), ("email", a.email),
                              ("staff", a.staff)) if v}


def _check_json(c: ChecklistItem) -> dict[str, str]:
    return {"item": c.item, "preparer": c.preparer, "due": c.due.isoformat()}


def from_stored(*, source: str, number: str, kind: str, customer: str, topic: str, starts: datetime,
                ends: datetime, place: str, hq_owner: str, units: Sequence[str], details: Mapping[str, Any]
                ) -> VisitPlan:
    """Rebuild the plan of a recorded visit (its columns plus `to_json`'s details)."""
    def checks(key: str) -> tuple[ChecklistItem, ...]:
        return tuple(ChecklistItem(item=c["item"], preparer=c["preparer"], due=date.fromisoformat(c["due"]))
                     for c in details.get(key, []))

    return VisitPlan(
        source=source, number=number, kind=kind, customer=customer, topic=topic, starts=starts, ends=ends,
        place=place, hq_owner=hq_owner, units=tuple(units), responsible_unit=details.get("responsible_unit"),
        customer_attendees=tuple(Attendee(**a) for a in details.get("customer_attendees", [])),
        our_attendees=tuple(Attendee(**a) for a in details.get("our_attendees", [])),
        itinerary=tuple(Step(**s) for s in details.get("itinerary", [])),
        duties=tuple(Duty(**d) for d in details.get("duties", [])),
        briefing=checks("briefing"), arrangements=checks("arrangements"), notes=details.get("notes"),
        campaign=details.get("campaign"))


def essence(plan: VisitPlan) -> dict[str, Any]:
    """Everything a change notice is about; two plans with equal essence need no new notice."""
    return {"kind": plan.kind, "customer": plan.customer, "topic": plan.topic,
            "starts": plan.starts.astimezone(_UTC).isoformat(), "ends": plan.ends.astimezone(_UTC).isoformat(),
            "place": plan.place, "hq_owner": plan.hq_owner,
            "units": list(plan.units), **to_json(plan)}


CHANGE_LABELS = {"kind": "类型", "customer": "客户", "topic": "主题", "place": "地点", "hq_owner": "总部对接人",
                 "units": "所属单位", "responsible_unit": "纪要牵头单位", "customer_attendees": "客方参加人员",
                 "our_attendees": "我方参加人员", "itinerary": "行程（议程）安排", "duties": "分工",
                 "briefing": "汇报材料", "arrangements": "会务安排", "notes": "备注", "campaign": "所属推广方案"}


def changed_keys(old: VisitPlan, new: VisitPlan) -> list[str]:
    """Which parts differ, as essence keys ("starts"/"ends" folded into "time"), in a stable order."""
    a, b = essence(old), essence(new)
    keys = ["time"] if (a["starts"], a["ends"]) != (b["starts"], b["ends"]) else []
    return keys + [k for k in a if k not in ("starts", "ends") and a[k] != b[k]]
