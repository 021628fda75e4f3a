"""The first rows of an .xlsx workbook's sheets, read with bounded work.

A returned form is a few kB of XML; a hostile attachment can be a 150 kB zip
holding 12 MB of sheet XML.  openpyxl cannot read such a sheet cheaply: a
sheet without a `<dimension>` element is parsed whole just to size it, every
cell of a row is parsed before columns are cut, and the shared strings are
read in full.  So the parts are read here directly: a zip member is inflated
in chunks and fed to expat, only the first `MAX_ROWS` rows and `MAX_COLUMNS`
columns are kept, and only the shared strings those cells use are looked up.
Every byte inflated and every cell met is charged to a `Budget` that all the
workbooks of one message share; when it runs out `LimitReached` is raised
and the caller reports the attachment instead of reading part of a form.

A cell's value is what openpyxl's `data_only` reading gives (`xlsxvalues.py`);
strings leave out phonetic runs, as openpyxl does.  Empty rows are left out
(the form reader skips them anyway).  A DOCTYPE is refused: no workbook has
one, and entity declarations are how XML bombs work.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from xml.parsers import expat

from parsers.xlsxvalues import MAC_EPOCH, WINDOWS_EPOCH, Context, Styles, styles, unescape, value

MAX_ROWS = 2000
MAX_COLUMNS = 8
MAX_BYTES = 4 * 1024 * 1024   # inflated XML per message: a form's workbook is tens of kB
MAX_CELLS = 50_000            # cells met per message: a form has a few hundred
_CHUNK = 64 * 1024
_COLUMN = re.compile(r"[A-Za-z]{1,3}")
_OFFICE_DOCUMENT = "/officeDocument"

Row = tuple[object, ...]


class LimitReached(Exception):
    """The message's budget for reading workbooks ran out."""


class NotAWorkbook(Exception):
    """A zip without the parts of a workbook."""


class _Done(Exception):
    """Raised from an expat handler: the rest of the part is not needed."""


class Budget:
    """What may still be inflated and parsed for the workbooks of one message."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_cells: int = MAX_CELLS) -> None:
        self.bytes_left, self.cells_left = max_bytes, max_cells

    def charge_bytes(self, n: int) -> None:
        self.bytes_left -= n
        if self.bytes_left < 0:
            raise LimitReached("bytes")

    def charge_cell(self) -> None:
        self.cells_left -= 1
        if self.cells_left < 0:
            raise LimitReached("cells")


@dataclass(frozen=True)
class _Cell:
    kind: str          # the `t` attribute: n, s, str, inlineStr, b, e, d
    text: str | None   # <v>, or the inline string
    style: int


def declared_size(data: bytes) -> int:
    """What the archive says it inflates to (0 if it is no zip); zipfile never inflates a member past it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return sum(m.file_size for m in archive.infolist())
    except Exception:  # noqa: BLE001 - zipfile on untrusted bytes raises far more than BadZipFile
        return 0


def _local(name: str) -> str:
    """An element's name without its prefix (parts are read without namespace processing: it is faster)."""
    return name.rpartition(":")[2] if ":" in name else name


def _refuse_doctype(*_args: object) -> None:
    raise ValueError("DOCTYPE in a workbook part")


def _column(ref: str | None, previous: int) -> int:
    match = _COLUMN.match(ref or "")
    if match is None:
        return previous + 1
    number = 0
    for letter in match.group(0).upper():
        number = number * 26 + ord(letter) - 64
    return number


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


class _Handler:
    """expat callbacks for one kind of part; each raises `_Done` once it has what it needs."""

    def start(self, name: str, attrs: dict[str, str]) -> None:
        pass

    def end(self, name: str) -> None:
        pass

    def text(self, data: str) -> None:
        pass


def _parse(archive: zipfile.ZipFile, name: str, budget: Budget, handler: _Handler) -> None:
    """Stream one part through `handler`, charging what is inflated; stops early on `_Done`."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.text
    try:
        with archive.open(name) as member:
            while chunk := member.read(_CHUNK):
                budget.charge_bytes(len(chunk))
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _Done:
        pass


class _Relationships(_Handler):
    """Id → (type, target part) of one .rels part."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.found: dict[str, tuple[str, str]] = {}

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if _local(name) != "Relationship" or attrs.get("TargetMode") == "External":
            return
        target = attrs.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join(posixpath.dirname(self.base), target))
        self.found[attrs.get("Id", "")] = (attrs.get("Type", ""), path)


class _Book(_Handler):
    """The sheets' relationship ids in tab order, and the date system."""

    def __init__(self) -> None:
        self.sheet_ids: list[str] = []
        self.epoch = WINDOWS_EPOCH

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "sheet":
            self.sheet_ids.append(next((v for k, v in attrs.items() if k.endswith(":id")), ""))
        elif local == "workbookPr" and attrs.get("date1904", "").lower() in ("1", "true"):
            self.epoch = MAC_EPOCH

    def end(self, name: str) -> None:
        if _local(name) == "sheets":
            raise _Done


class _Sheet(_Handler):
    """The kept cells of the first `MAX_ROWS` rows, in document order."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.rows: list[dict[int, _Cell]] = []
        self.row = 0
        self.column = 0
        self.skip_row = False
        self.cell: tuple[int, str, int] | None = None   # column, type, style of a kept cell
        self.value: list[str] | None = None            # its <v> text, or its inline string's <t> texts
        self.into = False                              # whether character data belongs to `value` now
        self.phonetic = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(":")[2] if ":" in name else name   # _local, inlined: called per element
        if local == "c":
            self.budget.charge_cell()
            self.column = _column(attrs.get("r"), self.column)
            if self.rows and not self.skip_row and 1 <= self.column <= MAX_COLUMNS:
                self.cell = (self.column, attrs.get("t", "n"), max(_int(attrs.get("s"), 0), 0))
        elif self.cell is not None:
            inline = self.cell[1] == "inlineStr"
            if local == "v" and not inline:
                self.value, self.into = [], True
            elif local == "t" and inline and not self.phonetic:
                self.value, self.into = self.value or [], True
            elif local == "rPh":
                self.phonetic += 1
        elif local == "row":
            number = _int(attrs.get("r"), self.row + 1)
            if number > MAX_ROWS:
                raise _Done
            # openpyxl drops a row numbered at or below the one before it; so do we.
            self.skip_row = number <= self.row
            self.row, self.column = max(number, self.row), 0
            if not self.skip_row:
                self.rows.append({})

    def end(self, name: str) -> None:
        local = name.rpartition(":")[2] if ":" in name else name
        if self.cell is not None:
            if local == "c":
                column, kind, style = self.cell
                self.rows[-1][column] = _Cell(kind, None if self.value is None else "".join(self.value), style)
                self.cell, self.value, self.into, self.phonetic = None, None, False, 0
            elif local in ("v", "t"):
                self.into = False
            elif local == "rPh":
                self.phonetic -= 1
        elif local == "sheetData":
            raise _Done

    def text(self, data: str) -> None:
        if self.into and self.value is not None:
            self.value.append(data)


class _SharedStrings(_Handler):
    """The shared strings at the wanted indices; stops after the last one."""

    def __init__(self, wanted: set[int]) -> None:
        self.wanted, self.last = wanted, max(wanted)
        self.found: dict[int, str] = {}
        self.index = -1
        self.parts: list[str] | None = None
        self.collect = False
        self.phonetic = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "si":
            self.index += 1
            self.parts = [] if self.index in self.wanted else None
        elif local == "rPh":
            self.phonetic += 1
        elif local == "t" and self.parts is not None and not self.phonetic:
            self.collect = True

    def end(self, name: str) -> None:
        local = _local(name)
        if local == "t":
            self.collect = False
        elif local == "rPh":
            self.phonetic -= 1
        elif local == "si":
            if self.parts is not None:
                self.found[self.index] = unescape("".join(self.parts))
            if self.index >= self.last:
                raise _Done

    def text(self, data: str) -> None:
        if self.collect and self.parts is not None:
            self.parts.append(data)


class _Styles(_Handler):
    """cellXfs' number format ids in order, and the custom format codes."""

    def __init__(self) -> None:
        self.codes: dict[int, str] = {}
        self.formats: list[int] = []
        self.in_xfs = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "numFmt":
            self.codes[_int(attrs.get("numFmtId"), -1)] = attrs.get("formatCode", "")
        elif local == "cellXfs":
            self.in_xfs = True
        elif local == "xf" and self.in_xfs:
            self.formats.append(_int(attrs.get("numFmtId"), 0))

    def end(self, name: str) -> None:
        if _local(name) == "cellXfs":
            raise _Done

    def styles(self) -> Styles:
        return styles(self.formats, self.codes)


def _string_indices(rows: list[dict[int, _Cell]]) -> set[int]:
    return {_int(c.text.strip(), -1) for r in rows for c in r.values()
            if c.kind == "s" and c.text is not None} - {-1}


def _styled_numbers(rows: list[dict[int, _Cell]]) -> bool:
    return any(c.style and c.kind == "n" for r in rows for c in r.values())


class Workbook:
    """An open .xlsx archive; `sheets` yields each worksheet's rows lazily, in tab order."""

    def __init__(self, archive: zipfile.ZipFile, budget: Budget) -> None:
        self.archive, self.budget = archive, budget
        self.names = names = set(archive.namelist())
        root = self._relationships("_rels/.rels", "") if "_rels/.rels" in names else {}
        self.book = next((path for kind, path in root.values() if kind.endswith(_OFFICE_DOCUMENT)),
                         "xl/workbook.xml")
        if self.book not in names:
            raise NotAWorkbook(self.book)
        rels = posixpath.join(posixpath.dirname(self.book), "_rels", posixpath.basename(self.book) + ".rels")
        self.parts = self._relationships(rels, self.book) if rels in names else {}
        book = _Book()
        _parse(archive, self.book, budget, book)
        self.epoch = book.epoch
        self.sheet_parts = [self.parts[i][1] for i in book.sheet_ids
                            if i in self.parts and self.parts[i][0].endswith("/worksheet")
                            and self.parts[i][1] in names]
        self._read_styles: Styles | None = None

    def _relationships(self, rels: str, base: str) -> dict[str, tuple[str, str]]:
        handler = _Relationships(base)
        _parse(self.archive, rels, self.budget, handler)
        return handler.found

    def _part(self, kind: str) -> str | None:
        return next((path for k, path in self.parts.values() if k.endswith(kind) and path in self.names), None)

    def _strings(self, wanted: set[int]) -> dict[int, str]:
        part = self._part("/sharedStrings")
        if not wanted or part is None:
            return {}
        handler = _SharedStrings(wanted)
        _parse(self.archive, part, self.budget, handler)
        return handler.found

    def _styles(self) -> Styles:
        if self._read_styles is None:
            handler = _Styles()
            part = self._part("/styles")
            if part is not None:
                _parse(self.archive, part, self.budget, handler)
            self._read_styles = handler.styles()
        return self._read_styles

    def sheets(self) -> Iterator[list[Row]]:
        for part in self.sheet_parts:
            sheet = _Sheet(self.budget)
            _parse(self.archive, part, self.budget, sheet)
            context = Context(self._strings(_string_indices(sheet.rows)),
                              self._styles() if _styled_numbers(sheet.rows) else Styles(), self.epoch)
            yield [tuple(value(c.kind, c.text, c.style, context) if (c := cells.get(n)) else None
                         for n in range(1, MAX_COLUMNS + 1)) for cells in sheet.rows]
