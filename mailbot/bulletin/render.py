"""Lay out a `Bulletin`: model → HTML (Jinja2) → PDF bytes.

The template (`templates/pdf/bulletin.html.j2`) does the layout; this module
gives it the few derived figures (the cover summary) and the filters that
turn codes, dates and versions into the Chinese the reader sees. Autoescape
is on because most of the text comes from subsidiaries' emails, and
StrictUndefined makes a renamed model field fail the render instead of
printing an empty cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from mailbot.bulletin.model import Bulletin
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
        status_label=status_label,
        version_label=version_label,
        yes_no=yes_no,
    )
    return env


@lru_cache(maxsize=1)
def _stylesheet() -> Markup:
    # Our own file, inlined so the PDF renderer needs no file access at all;
    # Markup because escaping would turn CSS quotes into entities.
    return Markup((templates_dir() / "pdf" / "bulletin.css").read_text(encoding="utf-8"))


def render_bulletin_html(b: Bulletin) -> str:
    """The bulletin as one self-contained HTML document (CSS inlined)."""
    template = _environment().get_template("pdf/bulletin.html.j2")
    return template.render(b=b, summary=summarise(b), css=_stylesheet())


def render_bulletin_pdf(b: Bulletin) -> bytes:
    """The bulletin as PDF bytes, ready to attach to the distribution mail."""
    return render_pdf(render_bulletin_html(b))
