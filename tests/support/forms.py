"""The form filled the way a unit fills it, in the workbook the request carries."""

from __future__ import annotations

import io
from collections.abc import Mapping

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from parsers.formtext import form_rows


def fill_workbook(data: bytes, answers: Mapping[str, Mapping[str, object]], form: Mapping[str, object]) -> bytes:
    """Type answers into column B the way a person would: find the block, then the label.

    `answers` maps a block ("head", a customer code, "urgent") to {field key: answer}; `form` is what the
    workbook was built from (token, unit, period, strategic and VIP customers).
    """
    book = load_workbook(io.BytesIO(data))
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    labels = {row.text: row.key for row in form_rows(**form) if row.key}  # type: ignore[arg-type]
    block = "head"
    for a, b in sheet.iter_rows(min_row=1, max_col=2):
        text = str(a.value or "")
        if text.startswith(("【战略客户】", "【VIP客户】")):
            block = text.split("】", 1)[1].split(" ", 1)[0]
        elif text.startswith("【紧急事项】"):
            block = "urgent"
        key = labels.get(text)
        if key is not None and key in answers.get(block, {}):
            b.value = answers[block][key]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
