"""What one month's key-customer bulletin says, as plain frozen data.

The bulletin compiler (which reads the database) builds a `Bulletin`; the
renderer (`mailbot.bulletin.render`) only lays it out. Keeping the model free
of database and presentation code means the layout can be tested with
hand-made months and the compiler with no PDF at all.

Times are tz-aware (Asia/Shanghai). Text fields may hold whatever a
subsidiary wrote in its email: the renderer escapes them, the model does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from mailbot.requests.chapter import RequestsSection
from mailbot.visits.chapter_model import VisitsSection


@dataclass(frozen=True)
class UnitStatus:
    """One unit's monthly submission: on time, late or missing."""

    code: str
    name: str
    status: str  # "on_time" | "late" | "missing"
    submitted_at: datetime | None  # the accepted submission in force
    version: int | None  # 1 = first report, 2+ = corrected resends


@dataclass(frozen=True)
class Matter:
    """One answer a unit gave to one §8.1.1 item for one customer."""

    unit_code: str
    unit_name: str
    text: str


@dataclass(frozen=True)
class CategoryMatters:
    """The matters reported under one §8.1.1 item (1..9)."""

    number: int
    label: str  # e.g. "全国性天然气产品及服务方案执行情况"
    matters: tuple[Matter, ...]


@dataclass(frozen=True)
class CustomerSection:
    """Everything reported this month about one strategic customer."""

    code: str  # "S001"
    name: str  # "国家电网有限公司"
    hq_staff: str | None  # designated HQ staff (§8.1.3)
    units: tuple[str, ...]  # names of the units serving it
    reported_units: tuple[str, ...]  # names of the units whose report covered it
    risk: str | None  # highest reported: "重大" > "一般" > "无"; None when nobody said
    needs_hq: bool  # any unit asked for HQ coordination
    categories: tuple[CategoryMatters, ...]  # non-empty categories, in number order


@dataclass(frozen=True)
class VipMatter:
    """One unit's answer for one VIP customer (§8.1.2)."""

    customer_code: str
    customer_name: str
    unit_code: str
    unit_name: str
    issue: str | None
    handling: str | None
    needs_hq: bool | None


@dataclass(frozen=True)
class Risk:
    """A risk warning, already ranked by the compiler (重大 first)."""

    level: str  # "重大" | "一般"
    customer_code: str
    customer_name: str
    unit_name: str
    text: str  # the matters of items 5–8 joined, or "（未说明）"


@dataclass(frozen=True)
class CoordinationItem:
    """A matter on which a unit asked for HQ coordination."""

    source: str  # "战略客户" | "VIP客户" | "紧急事项"
    customer_code: str | None
    customer_name: str | None
    unit_name: str
    text: str


@dataclass(frozen=True)
class UrgentMatter:
    """An urgent matter received during the month (§8.1.4)."""

    received_at: datetime
    unit_name: str | None
    customer_code: str | None
    customer_name: str | None
    subject: str
    text: str
    forwarded_to: tuple[str, ...]  # HQ staff names
    title: str = ""  # the 诉求's one-line title (domain.titles)


@dataclass(frozen=True)
class Bulletin:
    """One month's bulletin, in the order its sections are printed."""

    period: str  # "2026-11"
    department: str  # "资源与市场部"
    deadline: date
    generated_at: datetime
    units: tuple[UnitStatus, ...]
    customers: tuple[CustomerSection, ...]
    vip: tuple[VipMatter, ...]
    risks: tuple[Risk, ...]  # ranked by the compiler: 重大 first
    coordination: tuple[CoordinationItem, ...]
    urgent: tuple[UrgentMatter, ...]
    requests: RequestsSection | None = None  # 七、诉求办理情况 (absent: the chapter is left out)
    visits: VisitsSection | None = None      # 八、拜访与来访
