"""The survey report PDF (满意度调查报告): the results of `results.py` through WeasyPrint, fetching no URL.

What customers wrote reaches the page only through the template's autoescape.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from mailbot.render.charts import Series, bar_chart, data_uri
from mailbot.render.mail import cn_date, cn_datetime
from mailbot.render.pdf import render_pdf, templates_dir
from mailbot.surveys.results import SurveyResults


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(templates_dir()), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(day=cn_date, stamp=cn_datetime)
    return env


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
    css = Markup((templates_dir() / "pdf" / "survey.css").read_text(encoding="utf-8"))  # ours: not escaped
    return _environment().get_template("pdf/survey_report.html.j2").render(
        r=r, department=department, generated_at=generated_at, css=css, chart=means_chart(r))


def report_pdf(r: SurveyResults, department: str, generated_at: datetime) -> bytes:
    return render_pdf(report_html(r, department, generated_at))


def report_filename(r: SurveyResults) -> str:
    return f"满意度调查报告-{r.number}.pdf"


def default_path(data_dir: Path, r: SurveyResults) -> Path:
    return data_dir / "surveys" / report_filename(r)
