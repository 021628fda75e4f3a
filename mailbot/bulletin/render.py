"""Lay out a `Bulletin`: model → HTML (Jinja2) → PDF bytes.

The template (`templates/pdf/bulletin.html.j2`) does the layout; this module
gives it the few derived figures (the cover summary) and the filters that
turn codes, dates and versions into the Chinese the reader sees. Autoescape
is on because most of the text comes from subsidiaries' emails, and
StrictUndefined makes a renamed model field fail the render instead of
printing an empty cell.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from mailbot.bulletin.cutoff import label
from mailbot.bulletin.model import (
    Bulletin,
    CustomerSection,
    Masthead,
    Matter,
    MonthFigures,
    Risk,
    UnitStatus,
    VipMatter,
)
from mailbot.bulletin.prose import overview
from mailbot.bulletin.trends import figures_of
from mailbot.render.charts import Series, bar_chart, data_uri, line_chart
from mailbot.render.pdf import render_pdf, templates_dir

SHANGHAI = ZoneInfo("Asia/Shanghai")

STATUS_LABELS: dict[str, str] = {"on_time": "按时", "late": "逾期", "missing": "未报"}


@dataclass(frozen=True)
class BulletinSummary:
    """The figures printed on the cover."""

    units: int
    on_time: int
    late: int
    missing: int
    major_risks: int
    coordination: int
    urgent: int
    unreported_customers: int


def summarise(b: Bulletin) -> BulletinSummary:
    """Count what the cover shows."""
    statuses = [u.status for u in b.units]
    return BulletinSummary(
        units=len(b.units),
        on_time=statuses.count("on_time"),
        late=statuses.count("late"),
        missing=statuses.count("missing"),
        major_risks=sum(1 for r in b.risks if r.level == "重大"),
        coordination=len(b.coordination),
        urgent=len(b.urgent),
        unreported_customers=sum(1 for c in b.customers if not c.reported_units),
    )


def month_cn(period: str) -> str:
    """"2026-11" → "2026年11月"."""
    year, month = period.split("-")
    return f"{int(year)}年{int(month)}月"


def date_cn(value: date | datetime) -> str:
    """A date as "2026年11月28日" (datetimes in Beijing time)."""
    if isinstance(value, datetime):
        value = _local(value).date()
    return f"{value.year}年{value.month}月{value.day}日"


WEEKDAYS = "一二三四五六日"


def day_cn(value: date) -> str:
    """A date in a list of what is coming, as mails write it: "12月1日（周二）"."""
    return f"{value.month}月{value.day}日（周{WEEKDAYS[value.weekday()]}）"


def datetime_cn(value: datetime | None) -> str:
    """A timestamp as "11月26日 15:04" in Beijing time; "—" when absent."""
    if value is None:
        return "—"
    t = _local(value)
    return f"{t.month}月{t.day}日 {t:%H:%M}"


def status_label(status: str) -> str:
    """Submission status code → 按时 / 逾期 / 未报; an unknown code is a bug upstream."""
    try:
        return STATUS_LABELS[status]
    except KeyError:
        raise ValueError(f"unknown unit status {status!r}") from None


def version_label(version: int | None) -> str:
    """1 → 首报, 2+ → 第N版（更正）, None → —."""
    if version is None:
        return "—"
    return "首报" if version <= 1 else f"第{version}版（更正）"


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, "…" marking the cut: a table line in the body, the whole text in an annex."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def yes_no(value: bool | None) -> str:
    """True → 是, False → 否, None (not answered) → 未填."""
    if value is None:
        return "未填"
    return "是" if value else "否"


def _local(value: datetime) -> datetime:
    # Naive datetimes are taken to be Beijing time already, as the model promises.
    return value.astimezone(SHANGHAI) if value.tzinfo is not None else value


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Built once per process: compiling the template costs more than rendering it.
    env = Environment(
        loader=FileSystemLoader(templates_dir()),
        autoescape=True,  # every bulletin template is HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        month_cn=month_cn,
        date_cn=date_cn,
        datetime_cn=datetime_cn,
        day_cn=day_cn,
        clip=clip,
        status_label=status_label,
        version_label=version_label,
        yes_no=yes_no,
        first_line=_first_sentence,
    )
    return env


@lru_cache(maxsize=1)
def _stylesheet() -> Markup:
    # Our own file, inlined so the PDF renderer needs no file access at all;
    # Markup because escaping would turn CSS quotes into entities.
    return Markup((templates_dir() / "pdf" / "bulletin.css").read_text(encoding="utf-8"))


def masthead_of(b: Bulletin) -> Masthead:
    """The bulletin's masthead; a hand-made month without one gets the defaults, 第N期 = the month's number."""
    if b.masthead is not None:
        return b.masthead
    year, month = (int(x) for x in b.period.split("-"))
    return Masthead(department=b.department, year=year, issue=month, issued_on=_local(b.generated_at).date())


@dataclass(frozen=True)
class Chart:
    title: str
    uri: str  # data:image/svg+xml;base64,… (pygal's SVG, made inert in render.charts)


def charts(history: tuple[MonthFigures, ...]) -> tuple[Chart, ...]:
    """The three trends of 一、本月总体情况: 报送及时率, risks by level, 诉求 registered and answered."""
    if not history:
        return ()
    labels = [_month_label(f.period, i) for i, f in enumerate(history)]
    rate = line_chart("报送及时率（%）", labels, [Series("报送及时率", tuple(f.timeliness for f in history))],
                      percent=True, width=330, height=170)
    risks = bar_chart("风险提示（项）", labels, [Series("重大", tuple(float(f.risks_major) for f in history)),
                                          Series("一般", tuple(float(f.risks_minor) for f in history))],
                      stacked=True, width=330, height=170, colours=("#a50000", "#d08a00"))
    requests = bar_chart("诉求（件）", labels, [Series("新登记", tuple(float(f.requests_opened) for f in history)),
                                          Series("已答复", tuple(float(f.requests_answered) for f in history))],
                         width=330, height=170, colours=("#1f3a5f", "#3f7f4f"))
    return (Chart("报送及时率", data_uri(rate)), Chart("风险提示", data_uri(risks)), Chart("诉求", data_uri(requests)))


def _month_label(period: str, index: int) -> str:
    # "11月", with the year where it changes (and on the first label) so a 12-month axis reads across January.
    year, month = (int(x) for x in period.split("-"))
    return f"{year % 100}年{month}月" if index == 0 or month == 1 else f"{month}月"


NOTHING = ("", "无", "没有", "暂无", "/", "—")


@dataclass(frozen=True)
class CustomerBrief:
    """One strategic customer in 四、重点客户动态: its top risk and the first sentence of each matter."""

    section: CustomerSection
    risk: Risk | None
    lines: tuple[Matter, ...]  # text cut to its first sentence; the annex has it whole
    more: int                  # matters left out here


@dataclass(frozen=True)
class Dynamics:
    briefs: tuple[CustomerBrief, ...]         # shown in the body, at most `limit`
    more_briefs: int                          # customers with something to say left to 附件2
    routine: tuple[CustomerSection, ...]      # reported only item 1 (execution of the national plan)
    unreported: tuple[CustomerSection, ...]
    vip: tuple[VipMatter, ...]                # VIP rows that say something (附件3 has them all)
    vip_body: tuple[VipMatter, ...]           # the ones shown in the body: 需总部协调 first, at most `limit`
    vip_quiet: tuple[VipMatter, ...]          # 无 / 无 / 否


# The main body is read in five minutes (≤ 12 pages for a 40-unit month): 四 shows this many customers and VIP
# rows, the most pressing first, and says how many more the annexes hold.
BODY_ROWS = 20


def dynamics(b: Bulletin, per_customer: int = 2, limit: int = BODY_ROWS) -> Dynamics:
    """Who has something to say this month: a risk, a call for HQ, or a matter beyond item 1; the rest in a line."""
    top: dict[str, Risk] = {}
    for r in b.risks:
        top.setdefault(r.customer_code, r)  # ranked already: the first is the highest
    briefs, routine, unreported = [], [], []
    for c in b.customers:
        said = [m for cat in c.categories if cat.number != 1 for m in cat.matters]
        # Each unit's first matter before anyone's second: a customer served by three units is heard from each.
        nth: dict[str, int] = {}
        rounds = []
        for m in said:
            nth[m.unit_code] = nth.get(m.unit_code, -1) + 1
            rounds.append((nth[m.unit_code], m))
        said = [m for _, m in sorted(rounds, key=lambda x: x[0])]  # stable: category order within a round
        if c.code in top or c.needs_hq or said:
            lines = tuple(Matter(m.unit_code, m.unit_name, _first_sentence(m.text, 45))
                          for m in said[:per_customer])
            briefs.append(CustomerBrief(c, top.get(c.code), lines, max(len(said) - per_customer, 0)))
        elif c.reported_units:
            routine.append(c)
        else:
            unreported.append(c)
    vip = tuple(v for v in b.vip if v.needs_hq or (v.issue or "").strip() not in NOTHING
                or (v.handling or "").strip() not in NOTHING)
    quiet = tuple(v for v in b.vip if v not in vip)
    briefs.sort(key=lambda x: (RISK_RANK.get(x.risk.level if x.risk else "", 9), not x.section.needs_hq,
                               x.section.code))
    vip_body = sorted(vip, key=lambda v: (not v.needs_hq, v.customer_code, v.unit_code))[:limit]
    return Dynamics(tuple(briefs[:limit]), max(len(briefs) - limit, 0), tuple(routine), tuple(unreported), vip,
                    tuple(vip_body), quiet)


def risk_rows(b: Bulletin) -> tuple[Risk, ...]:
    """三 in the body: one row per customer (its units joined, its highest level first), the first line of what
    was said; 附件5 has every unit's risk in full."""
    rows: dict[str, Risk] = {}
    units: dict[str, list[str]] = {}
    for r in b.risks:  # ranked: the first row of a customer is its highest level
        key = r.customer_code if r.customer_code != "—" else f"—{len(rows)}"
        if key not in rows:
            rows[key] = replace(r, text=_first_sentence(r.text, 80))
            units[key] = []
        if r.unit_name not in units[key]:
            units[key].append(r.unit_name)
    return tuple(replace(r, unit_name="、".join(units[k])) for k, r in rows.items())


# Above this many 一般 lines, 三 names them in a paragraph instead of a row each (their text stays in 附件5).
MINOR_ROWS = 20


def risk_table(b: Bulletin) -> tuple[tuple[Risk, ...], tuple[Risk, ...], tuple[Risk, ...]]:
    """三's rows, and the 一般 and cleared risks named in one paragraph each when they are too many for rows."""
    rows = risk_rows(b)
    minor = tuple(r for r in rows if r.level != "重大")
    if len(minor) <= MINOR_ROWS and len(b.cleared) <= MINOR_ROWS:
        return rows, (), ()
    return tuple(r for r in rows if r.level == "重大"), minor, b.cleared


RISK_RANK = {"重大": 0, "一般": 1}


def _first_sentence(text: str, limit: int = 60) -> str:
    line = text.strip().split("\n", 1)[0]
    for mark in "。；;":
        if mark in line[:-1]:
            line = line[: line.index(mark) + 1]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def sorted_units(b: Bulletin) -> tuple[UnitStatus, ...]:
    """附件1 in the order a reader chases: missing, then late, then on time; by code within each."""
    order = {"missing": 0, "late": 1, "on_time": 2}
    return tuple(sorted(b.units, key=lambda u: (order.get(u.status, 9), u.code)))


def render_bulletin_html(b: Bulletin) -> str:
    """The bulletin as one self-contained HTML document (CSS inlined)."""
    template = _environment().get_template("pdf/bulletin.html.j2")
    return template.render(b=b, summary=summarise(b), css=_stylesheet(), masthead=masthead_of(b),
                           cutoff_label=label(b.cutoff or b.generated_at, SHANGHAI),
                           overview=overview(b), dyn=dynamics(b), units=sorted_units(b),
                           risk_table=risk_table(b),
                           charts=charts(b.history or (figures_of(b),)))


def render_bulletin_pdf(b: Bulletin) -> bytes:
    """The bulletin as PDF bytes, ready to attach to the distribution mail."""
    return render_pdf(render_bulletin_html(b))
