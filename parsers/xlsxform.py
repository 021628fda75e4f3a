"""A returned .xlsx copy of the form → the same `FormCopy` a mail body gives.

The monthly request carries the form as a workbook too (written by
`mailbot/xlsxform.py`: one sheet, column A the locked labels and 【…】
marker rows, column B the answer cells).  A unit may fill that workbook
and send it back instead of filling the mail body.  `read_workbook` turns
its rows into `form.Section`s — the field of a row is found from its label
cell alone, so an answer can never be mistaken for a label — and
`form.build_copy` applies the rules of FORM.md, exactly as for a body.

Workbooks built by other hands are read too, as long as they keep the
shape "label in one cell, answer to its right": a label cell may carry
its answer after a colon, and rows with an empty label continue the
answer above.  Which of body and workbook wins is `message.py`'s call.

The cells come from `xlsxcells.py`, which reads only the first rows and
columns and charges what it reads to a per-message `Budget`; openpyxl is
not used here (it parses a sheet without a `<dimension>` whole: one mail
with four hostile 145 kB attachments took it 30–50 s).  The reader is pure: the bytes are opened in
memory, the archive's declared size is checked before anything is
inflated, and nothing here raises on a broken file —
`WorkbookForm.problem` says what went wrong instead, and a workbook the
budget cannot cover is reported rather than read in part.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from parsers.fields import candidates, normalise_hint, split_label, without_hints
from parsers.form import SPECS, FormCopy, Section, build_copy, marker_of
from parsers.formtext import HINT_LINES
from parsers.xlsxcells import MAX_BYTES, MAX_CELLS, Budget, LimitReached, NotAWorkbook, Workbook

_MAX_UNPACKED = 50 * 1024 * 1024   # declared size; an .xlsx form is a few kB, more is not a form
_MAX_MEMBERS = 500
_OVER_BUDGET = (f"内容过多（每封邮件的表格附件合计最多读取{MAX_CELLS}个单元格、"
                f"解压后{MAX_BYTES // 2**20} MB）")
_OPENERS = "【[［〔"
_HINTS = frozenset(normalise_hint(h) for h in HINT_LINES)


@dataclass(frozen=True)
class WorkbookForm:
    """What an attached workbook held: its form (None if it holds none) or why it could not be read."""

    copy: FormCopy | None
    problem: str | None = None
    text: str | None = None   # another form's rows (a survey, campaign feedback) as body lines, for its own reader


def _cell_text(value: object) -> str:
    """A cell's value as the text a person typed (phone numbers stored as numbers included)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n")] if text.strip() else []


class _SectionBuilder:
    """Accumulates one section's answers row by row."""

    def __init__(self, kind: str, rest: str) -> None:
        self.kind, self.rest = kind, rest
        self.answers: dict[str, list[str]] = {}
        self.preamble: list[str] = []
        self.current: str | None = None

    def add(self, label: str, answer: list[str]) -> None:
        if self.kind == "urgent":
            self.answers.setdefault("urgent", []).extend([label, *answer] if label else answer)
            return
        key, rest = self._field(label) if label else (None, "")
        if key is not None:
            self.current = key
            self.answers.setdefault(key, []).extend([rest, *answer] if rest else answer)
            return
        lines = [label, *answer] if label else answer
        if self.current is None:
            self.preamble.extend(lines)
        else:
            self.answers[self.current].extend(lines)

    def _field(self, label: str) -> tuple[str | None, str]:
        """The field a label cell names (best-scoring spec) and any answer typed after its colon."""
        specs = SPECS[self.kind]
        text = label if split_label(label) is not None else label + "："
        found = candidates([text], specs)
        if not found:
            return None, ""
        best = max(found, key=lambda c: c.score)
        return specs[best.order].key, best.rest

    def section(self) -> Section:
        answers = {key: without_hints(lines, _HINTS) for key, lines in self.answers.items()}
        return Section(self.kind, self.rest, answers, tuple(without_hints(self.preamble, _HINTS)))


def _form_rows(rows: Iterable[Sequence[object]]) -> list[tuple[str, list[str]]] | None:
    """(label, answer lines) from the title row to 【填报结束】, or None without a title row."""
    found: list[tuple[str, list[str]]] | None = None
    for row in rows:
        cells = [_cell_text(v) for v in row]
        label = cells[0].strip() if cells else ""
        answer = [line for c in cells[1:] for line in _lines(c)]
        mark = marker_of(label) if label[:1] in _OPENERS else None
        if found is None:
            if mark is not None and mark[0] == "form":
                found = [(label, [])]
            continue
        if mark is not None and mark[0] == "end":
            break
        if label or answer:
            found.append((label, answer))
    return found


def _other_form_text(rows: Iterable[Sequence[object]]) -> str | None:
    """A survey's or campaign's form in a sheet, as the lines its body would hold ("label：answer"), from its
    title row to 【填报结束】; None when the sheet has no such title."""
    lines: list[str] | None = None
    for row in rows:
        cells = [_cell_text(v) for v in row]
        label = cells[0].strip() if cells else ""
        answer = [line for c in cells[1:] for line in _lines(c)]
        mark = marker_of(label) if label[:1] in _OPENERS else None
        if lines is None:
            if mark is not None and mark[0] == "other":
                lines = [label]
            continue
        if label[:1] in _OPENERS or not label or split_label(label) is not None:
            lines.extend([label, *answer] if label else answer)
        else:
            lines.append(f"{label}：{answer[0] if answer else ''}")
            lines.extend(answer[1:])
        if mark is not None and mark[0] == "end":
            break
    return "\n".join(lines) if lines else None


def _sections(rows: list[tuple[str, list[str]]]) -> tuple[list[Section], str]:
    """Sections and the form as text lines (what `FormCopy.text` shows a person)."""
    builders = [_SectionBuilder("header", "")]
    text = [rows[0][0]]
    for label, answer in rows[1:]:
        mark = marker_of(label) if label[:1] in _OPENERS else None
        if mark is not None and mark[0] in ("S", "V", "urgent"):
            builders.append(_SectionBuilder(mark[0], mark[1]))
            text.append(label)
            continue
        builders[-1].add(label, answer)
        if label and builders[-1].kind != "urgent" and split_label(label) is None:
            # A label cell and its answer cell read as one "label：answer" line.
            text.append(f"{label}：{answer[0] if answer else ''}")
            text.extend(answer[1:])
        else:
            text.extend([label, *answer] if label else answer)
    return [b.section() for b in builders], "\n".join(text)


def _opened(data: bytes) -> zipfile.ZipFile | str:
    """The archive, or why it is refused before anything is inflated."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except Exception:  # noqa: BLE001 - zipfile on untrusted bytes raises far more than BadZipFile
        return "不是有效的 .xlsx 文件（无法解压）"
    if len(members) > _MAX_MEMBERS or sum(m.file_size for m in members) > _MAX_UNPACKED:
        archive.close()
        return "文件解压后过大，不像是填报单"
    return archive


def read_workbook(data: bytes, budget: Budget | None = None) -> WorkbookForm:
    """The form in an .xlsx workbook: the first sheet that has the form's title row — or, failing one, the
    first survey or campaign form found, as text (`WorkbookForm.text`).

    `budget` is shared by all the workbooks of one message (a fresh one if
    not given); when it runs out the workbook is reported, never half read.
    """
    archive = _opened(data)
    if isinstance(archive, str):
        return WorkbookForm(None, archive)
    other: str | None = None
    try:
        with archive:
            for sheet in Workbook(archive, budget if budget is not None else Budget()).sheets():
                rows = sheet
                found = _form_rows(rows)
                if found is not None:
                    sections, text = _sections(found)
                    return WorkbookForm(build_copy(sections, start=0, end=0, text=text))
                other = other or _other_form_text(rows)
    except LimitReached:
        return WorkbookForm(None, _OVER_BUDGET)
    except NotAWorkbook:
        return WorkbookForm(None, "无法读取（压缩包中没有 Excel 工作簿）")
    except Exception as exc:  # noqa: BLE001 - zip and XML on untrusted bytes raise many kinds of errors
        return WorkbookForm(None, f"无法读取（{type(exc).__name__}）")
    return WorkbookForm(None, text=other)
