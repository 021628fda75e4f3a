"""The monthly report form as an .xlsx workbook, attached to the request mail.

Some units would rather fill a spreadsheet than a mail body; the request
carries the same form (`parsers.formtext.form_rows`, so the labels are
spelled in one place only) as one protected sheet: column A holds the
labels and 【…】 marker rows, column B the answers.  Only the answer cells
are unlocked, so a unit cannot edit a label or the 报告编号 by accident —
the 报告编号 sits in a locked cell and identifies the report when the
workbook comes back.  风险等级 and 需总部协调 offer drop-down lists.

A returned workbook is read by `parsers.xlsxform.read_workbook`, which
finds each field by its label cell; keep new layouts to "label in column
A, answer in column B" and the two stay in step.  openpyxl is imported
inside `build_workbook`: the CLI imports this module's callers on every
command and should not pay for it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from parsers.formtext import (
    FORM_TITLE,
    HQ_OPTIONS,
    RISK_OPTIONS,
    WORKBOOK_INSTRUCTIONS,
    form_rows,
    options,
)

CONTENT_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")

# Column widths in Excel's units (about one Latin digit; a CJK character takes two).
_LABEL_WIDTH = 52     # the longest label, "4. 需总部支持的合作诉求或需总部出面的合作机会", is ~45
_ANSWER_WIDTH = 80
_ANSWER_HEIGHT = 42   # points: room for two or three lines of answer
_FONT = "宋体"
_MARKER_FILL = "DDEBF7"
_ANSWER_FILL = "FFFFFF"
_LOCKED_FILL = "F2F2F2"


def workbook_filename(unit_code: str, period: str) -> str:
    """The attachment's name, e.g. 重点客户月报填报单_2026-11_GD.xlsx."""
    return f"{FORM_TITLE}_{period}_{unit_code}.xlsx"


def build_workbook(*, token: str, unit_code: str, unit_name: str, period: str,
                   strategic: Sequence[tuple[str, str]], vip: Sequence[tuple[str, str]]) -> bytes:
    """The blank form as .xlsx bytes; arguments as for `parsers.render_form`."""
    # The ignores keep mypy clean where types-openpyxl is not installed.
    from openpyxl import Workbook  # type: ignore[import-untyped, unused-ignore]
    from openpyxl.styles import (  # type: ignore[import-untyped, unused-ignore]
        Alignment,
        Border,
        Font,
        PatternFill,
        Protection,
        Side,
    )
    from openpyxl.worksheet.datavalidation import DataValidation  # type: ignore[import-untyped, unused-ignore]
    from openpyxl.worksheet.properties import PageSetupProperties  # type: ignore[import-untyped, unused-ignore]

    book = Workbook()
    sheet = book.active
    assert sheet is not None   # a new Workbook always has its one sheet
    sheet.title = FORM_TITLE
    sheet.column_dimensions["A"].width = _LABEL_WIDTH
    sheet.column_dimensions["B"].width = _ANSWER_WIDTH
    thin = Side(style="thin", color="BFBFBF")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="top")
    plain, bold = Font(name=_FONT, size=11), Font(name=_FONT, size=11, bold=True)

    def choice_list(parenthesised: str, message: str) -> DataValidation:
        choices = options(parenthesised)
        rule = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True,
                              showErrorMessage=True, errorTitle="请从列表中选择",
                              error=message + "：" + "、".join(choices))
        sheet.add_data_validation(rule)
        return rule

    risk_rule = choice_list(RISK_OPTIONS, "风险等级只能填写")
    hq_rule = choice_list(HQ_OPTIONS, "需总部协调只能填写")

    # Above the title, outside the form: the reader starts at the title row.
    sheet.append([WORKBOOK_INSTRUCTIONS])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=2)
    sheet["A1"].alignment = Alignment(wrap_text=True, vertical="center")
    sheet["A1"].font = Font(name=_FONT, size=10, color="C00000")
    sheet.row_dimensions[1].height = 34

    for row in form_rows(token=token, unit_code=unit_code, unit_name=unit_name, period=period,
                         strategic=strategic, vip=vip):
        if row.kind in ("blank", "note"):
            continue   # the note's wording is for the mail body; the workbook has its own above
        sheet.append([row.text, row.value or None])
        r = sheet.max_row
        label, answer = sheet.cell(r, 1), sheet.cell(r, 2)
        label.font, label.alignment = plain, wrap
        if row.kind == "marker":
            sheet.merge_cells(start_row=r, start_column=1, end_row=r, end_column=2)
            label.font = bold
            label.fill = PatternFill("solid", fgColor=_MARKER_FILL)
            continue
        label.border = answer.border = border
        answer.font, answer.alignment = plain, wrap
        if row.kind == "prefilled":
            answer.fill = PatternFill("solid", fgColor=_LOCKED_FILL)
            continue
        # An answer cell: the only cells a unit can type into.
        answer.protection = Protection(locked=False)
        answer.fill = PatternFill("solid", fgColor=_ANSWER_FILL)
        answer.number_format = "@"   # text, so 0755-… phone numbers and "1." keep their form
        if row.key == "risk":
            risk_rule.add(answer)
        elif row.key == "hq":
            hq_rule.add(answer)
        elif row.key not in ("name", "phone"):
            sheet.row_dimensions[r].height = _ANSWER_HEIGHT * (2 if row.key == "urgent" else 1)

    # Protected without a password: it guards against slips, not against people.
    sheet.protection.sheet = True
    sheet.protection.formatRows = False      # units may make a row taller for a long answer
    sheet.protection.formatColumns = False
    sheet.freeze_panes = "A2"
    sheet.print_options.gridLines = True
    # A4 landscape, one page wide and as many tall as it takes: fitToWidth alone is ignored without fitToPage.
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape"
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    book.properties.title = f"{FORM_TITLE} {token}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
