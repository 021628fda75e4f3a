"""A reply form as an .xlsx workbook: one protected sheet, labels and 【…】 rows in column A, answers in column B.

Some people would rather fill a spreadsheet than a mail body. Every form the bot sends (the monthly report, the
survey) is laid out once as `parsers.formtext.FormRow`s and written here; only the answer cells are unlocked, so
a label or the form's number cannot be edited by accident, and the number identifies the form when the
workbook comes back (`parsers.xlsxform` reads it by its label cells). openpyxl is imported inside
`build_form_workbook`: the CLI imports this module's callers on every command and should not pay for it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from parsers.formtext import FormRow

CONTENT_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")

# Column widths in Excel's units (about one Latin digit; a CJK character takes two).
_LABEL_WIDTH = 52     # the longest label, "4. 需总部支持的合作诉求或需总部出面的合作机会", is ~45
_ANSWER_WIDTH = 80
_ANSWER_HEIGHT = 42   # points: room for two or three lines of answer
_FONT = "宋体"
_MARKER_FILL = "DDEBF7"
_ANSWER_FILL = "FFFFFF"
_LOCKED_FILL = "F2F2F2"


@dataclass(frozen=True)
class Choice:
    """A field answered from a drop-down list; `message` opens the error shown for anything else."""

    options: tuple[str, ...]
    message: str


def build_form_workbook(rows: Sequence[FormRow], *, sheet_title: str, instructions: str, doc_title: str,
                        choices: Mapping[str, Choice] = {}, short_keys: frozenset[str] = frozenset(),
                        tall_keys: frozenset[str] = frozenset()) -> bytes:
    """A form's rows as .xlsx bytes: `choices` give a field a drop-down list; `short_keys` keep one line's height,
    `tall_keys` get twice the answer height."""
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
    sheet.title = sheet_title
    sheet.column_dimensions["A"].width = _LABEL_WIDTH
    sheet.column_dimensions["B"].width = _ANSWER_WIDTH
    thin = Side(style="thin", color="BFBFBF")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="top")
    plain, bold = Font(name=_FONT, size=11), Font(name=_FONT, size=11, bold=True)

    def choice_list(allowed: Sequence[str], message: str) -> DataValidation:
        rule = DataValidation(type="list", formula1='"' + ",".join(allowed) + '"', allow_blank=True,
                              showErrorMessage=True, errorTitle="请从列表中选择",
                              error=message + "：" + "、".join(allowed))
        sheet.add_data_validation(rule)
        return rule

    rules = {key: choice_list(choice.options, choice.message) for key, choice in choices.items()}

    # Above the title, outside the form: the reader starts at the title row.
    sheet.append([instructions])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=2)
    sheet["A1"].alignment = Alignment(wrap_text=True, vertical="center")
    sheet["A1"].font = Font(name=_FONT, size=10, color="C00000")
    sheet.row_dimensions[1].height = 34

    for row in rows:
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
        if row.key in rules:
            rules[row.key].add(answer)
        elif row.key not in short_keys:
            sheet.row_dimensions[r].height = _ANSWER_HEIGHT * (2 if row.key in tall_keys else 1)

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
    book.properties.title = doc_title
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
