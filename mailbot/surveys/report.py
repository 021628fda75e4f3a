"""The survey report PDF (满意度调查报告): the results of `results.py` through WeasyPrint, fetching no URL.

What customers wrote reaches the page only through the template's autoescape.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from mailbot.render.charts import Series, bar_chart, data_uri
from mailbot.render.pdf import pdf_html, render_pdf
from mailbot.surveys.results import SurveyResults


def means_chart(r: SurveyResults) -> str | None:
    """Each scored question's mean as bars — beside the previous survey's when there is one — as a data: URI."""
    if not any(q.mean is not None for q in r.questions):
        return None
    series = [Series("本次", tuple(q.mean for q in r.questions))]
    if r.previous:
        series.append(Series(r.previous, tuple(q.previous_mean for q in r.questions)))
    svg = bar_chart("各题平均分（满分5分）", [f"第{q.number}题" for q in r.questions], series, width=620, height=240,
                    decimals=2)
    return data_uri(svg)


def report_html(r: SurveyResults, department: str, generated_at: datetime) -> str:
    return pdf_html("survey_report.html.j2", ("report.css", "survey.css"), r=r, department=department,
                    generated_at=generated_at, chart=means_chart(r))


def report_pdf(r: SurveyResults, department: str, generated_at: datetime) -> bytes:
    return render_pdf(report_html(r, department, generated_at))


def report_filename(r: SurveyResults) -> str:
    return f"满意度调查报告-{r.number}.pdf"


def default_path(data_dir: Path, r: SurveyResults) -> Path:
    return data_dir / "surveys" / report_filename(r)
