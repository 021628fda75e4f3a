"""The campaign report PDF (推广进展报告): the board of `board.py` through WeasyPrint, fetching no URL — per unit and
overall the targets at each stage (with a chart), what moved in the latest feedback, the expected signing dates by
month and what needs HQ with its 诉求.

Customer and unit names come from the directory and units' mail: they reach the page only through the template's
autoescape, and the chart's labels through pygal's XML writer (`render/charts.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from mailbot.campaigns.board import DONE
from mailbot.render.charts import Series, bar_chart, data_uri
from mailbot.render.pdf import pdf_html, render_pdf

Board = Mapping[str, Any]   # the plain values of `board.board_of` (also the JSON of `campaign status --json`)


def stage_chart(data: Board) -> str | None:
    """Targets at each stage, one stacked colour per unit, as a data: URI (None: no target at all)."""
    units: Sequence[Mapping[str, Any]] = data["units"]
    if not data["overall"]["targets"]:
        return None
    series = [Series(u["name"], tuple(float(u["by_stage"][stage]) for stage in data["stages"])) for u in units]
    svg = bar_chart("各阶段目标客户数（个）", list(data["stages"]), series, stacked=True, width=620, height=250)
    return data_uri(svg)


def signing_months(data: Board) -> list[dict[str, object]]:
    """The expected signing months with the targets behind each count (the board gives counts only), so a reader
    can check each figure: targets still on their way, as the board counts them."""
    by_month: dict[str, list[str]] = {}
    for unit in data["units"]:
        for row in unit["rows"]:
            if row["expected_signing"] and row["stage"] not in DONE:
                by_month.setdefault(row["expected_signing"][:7], []).append(
                    f"{row['customer']} {row['name']}（{unit['name']}，{row['stage']}）")
    return [{"month": m, "count": len(by_month[m]), "targets": by_month[m]} for m in sorted(by_month)]


def report_html(data: Board, department: str, generated_at: datetime) -> str:
    units = {u["unit"]: u["name"] for u in data["units"]}
    return pdf_html("campaign_report.html.j2", ("report.css", "campaign.css"), b=data, department=department,
                    generated_at=generated_at, chart=stage_chart(data), signing=signing_months(data),
                    unit_names=units)


def report_pdf(data: Board, department: str, generated_at: datetime) -> bytes:
    return render_pdf(report_html(data, department, generated_at))


def report_filename(data: Board) -> str:
    return f"推广进展报告-{data['campaign']}.pdf"


def default_path(data_dir: Path, data: Board) -> Path:
    return data_dir / "campaigns" / report_filename(data)
