"""The monthly report form as an .xlsx workbook, attached to the request mail.

Some units would rather fill a spreadsheet than a mail body; the request
carries the same form (`parsers.formtext.form_rows`, so the labels are
spelled in one place only) as one protected sheet (`render.workbook`):
column A holds the labels and 【…】 marker rows, column B the answers;
风险等级 and 需总部协调 offer drop-down lists.

A returned workbook is read by `parsers.xlsxform.read_workbook`, which
finds each field by its label cell; keep new layouts to "label in column
A, answer in column B" and the two stay in step.
"""

from __future__ import annotations

from collections.abc import Sequence

from parsers.formtext import (
    FORM_TITLE,
    HQ_OPTIONS,
    RISK_OPTIONS,
    WORKBOOK_INSTRUCTIONS,
    form_rows,
    options,
)

from mailbot.render.workbook import CONTENT_TYPE, Choice, build_form_workbook

__all__ = ["CONTENT_TYPE", "build_workbook", "workbook_filename"]


def workbook_filename(unit_code: str, period: str) -> str:
    """The attachment's name, e.g. 重点客户月报填报单_2026-11_GD.xlsx."""
    return f"{FORM_TITLE}_{period}_{unit_code}.xlsx"


def build_workbook(*, token: str, unit_code: str, unit_name: str, period: str,
                   strategic: Sequence[tuple[str, str]], vip: Sequence[tuple[str, str]]) -> bytes:
    """The blank form as .xlsx bytes; arguments as for `parsers.render_form`."""
    rows = form_rows(token=token, unit_code=unit_code, unit_name=unit_name, period=period,
                     strategic=strategic, vip=vip)
    return build_form_workbook(
        rows, sheet_title=FORM_TITLE, instructions=WORKBOOK_INSTRUCTIONS, doc_title=f"{FORM_TITLE} {token}",
        choices={"risk": Choice(options(RISK_OPTIONS), "风险等级只能填写"),
                 "hq": Choice(options(HQ_OPTIONS), "需总部协调只能填写")},
        short_keys=frozenset({"name", "phone"}), tall_keys=frozenset({"urgent"}))
