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

from mailbot.campaigns.chapter import CampaignLine
from mailbot.evaluation.chapter import EvaluationSection
from mailbot.requests.chapter import RequestsSection
from mailbot.surveys.chapter import SurveyLine
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
    change: str = ""  # against last month: 新增 | 持续 | 已解除 | 未再报告 ("" when not compared)
    trend: str = ""   # the customer's risk level against last month: ↑ | ↓ | → ("" when new or not compared)


@dataclass(frozen=True)
class CoordinationItem:
    """A matter on which a unit asked for HQ coordination."""

    source: str  # "战略客户" | "VIP客户" | "紧急事项"
    customer_code: str | None
    customer_name: str | None
    unit_name: str
    text: str
    number: str = ""  # the 诉求 opened for it, SQ-2026-0001 ("" when none was)


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
    number: str = ""  # the 诉求 it became, SQ-2026-0001
    due_at: datetime | None = None


@dataclass(frozen=True)
class Masthead:
    """The head of page 1 as a Chinese enterprise 月报 prints it (from settings; see bulletin.masthead)."""

    group: str = "气电集团"
    title: str = "重点客户月报"
    department: str = "资源与市场部"
    year: int = 0           # the issue's year: 2026年第N期
    issue: int = 0          # N, counted within the year from the configured first issue
    total_issue: int = 0    # 总第M期 since the first issue; 0 when no first issue is configured
    issued_on: date | None = None
    classification: str = "内部资料 注意保密"
    editor: str = ""        # 编制
    reviewer: str = ""      # 审核
    issuer: str = ""        # 签发
    distribution: str = ""  # 报送／分送 line at the end of the main body


@dataclass(frozen=True)
class MonthFigures:
    """One month's figures, the same definitions for this month and the ones it is compared with."""

    period: str
    units: int            # units asked to report
    on_time: int
    late: int
    missing: int
    risks_major: int      # risk lines of 重大 (urgent mail counts)
    risks_minor: int
    requests_opened: int  # 诉求 registered in the month
    requests_answered: int
    urgent: int

    @property
    def timeliness(self) -> float | None:
        """报送及时率: on-time units of units asked, in per cent; None for a month nobody was asked."""
        return round(100 * self.on_time / self.units, 1) if self.units else None


@dataclass(frozen=True)
class Decision:
    """One line of 二、需决策与协调事项: a 重大 risk, a 诉求 awaiting group review or an overdue 诉求."""

    kinds: tuple[str, ...]  # 重大风险 | 需集团审议 | 逾期诉求 (one matter may be several)
    number: str             # SQ-2026-0001, or "" for a risk no 诉求 carries
    customer: str           # "S011 陕西延长石油（集团）有限责任公司", or "（客户未识别）"
    unit_name: str
    assignee: str | None    # 承办人 (for a risk: the customer's 总部对接人)
    due: date | None
    overdue_days: int
    title: str


@dataclass(frozen=True)
class AgendaItem:
    """One line of 七、下月工作安排."""

    when: date
    kind: str        # 报送截止 | 拜访 | 来访 | 跟踪事项 | 诉求办理期限
    ref: str         # a number (VIS-…, SQ-…) or ""
    text: str
    owner: str | None


@dataclass(frozen=True)
class LateReport:
    """补报: a report for a month whose issue had gone out, accepted before this issue's cut-off."""

    unit_code: str
    unit_name: str
    period: str                 # the month it reports on, "2026-11"
    received_at: datetime       # when it was accepted
    version: int                # 1 = the unit's first report of that month, 2+ = a correction
    risks: tuple[Risk, ...]     # 重大 / 一般 risks it raised that its previous version (if any) did not
    asks: tuple[CoordinationItem, ...]  # 需总部协调 it raised that its previous version did not


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
    requests: RequestsSection | None = None  # 五、诉求办理 (absent: the chapter is left out)
    visits: VisitsSection | None = None      # 六、拜访与来访
    masthead: Masthead | None = None         # None: defaults from the period (render.masthead_of)
    previous: MonthFigures | None = None     # last month, for 一 and 三; None in the first month
    history: tuple[MonthFigures, ...] = ()   # up to 12 months ending with this one, for the charts
    cleared: tuple[Risk, ...] = ()           # last month's risks not raised again (change 已解除 / 未再报告)
    decisions: tuple[Decision, ...] = ()     # 二、需决策与协调事项
    agenda: tuple[AgendaItem, ...] = ()      # 下月工作安排, by date
    campaigns: tuple[CampaignLine, ...] = ()  # 全国性方案推广: running in the month or closed in it
    surveys: tuple[SurveyLine, ...] = ()     # 满意度调查: closed in the month, or running at its end
    evaluation: EvaluationSection | None = None  # 维护工作评估: the quarter's table, in a month closing a quarter
    cutoff: datetime | None = None           # what the figures count to (cutoff.Cutoffs); None: the generation time
    late: tuple[LateReport, ...] = ()        # 补报: earlier months' reports accepted since the last issue
