"""HTML mail → plain text that keeps the lines a person saw.

Only used when a message has no usable text/plain part.  Block elements
(`<p>`, `<div>`, `<br>`, list items) become line breaks, `&nbsp;` runs become
spaces, `<blockquote>` content gets `> ` prefixes (so quote detection works
the same as for plain text), `<hr>` becomes Outlook's underscore line, and a
table row becomes one line: a cell ending in a colon runs straight into the
next cell ("label：answer"), other cells are separated by a tab, which the
form reader takes as the end of a label cell.
"""

from __future__ import annotations

import re
from html import unescape

_BLOCK = frozenset({
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "dt", "dd",
    "address", "article", "aside", "section", "header", "footer", "center",
    "form", "fieldset", "pre", "figure", "main", "nav", "caption", "tbody",
    "thead", "tfoot", "body", "html", "table",
})
_SKIP = frozenset({"style", "script", "title", "xml", "template", "noscript"})
# One token: a comment, a declaration / processing instruction, or a tag.
# Quoted attribute values may contain ">" but not "<", so an unclosed quote
# cannot make a search run to the end of the document at every tag.
_TOKEN = re.compile(
    r"<!--.*?(?:-->|\Z)|<![^>]*>|<\?[^>]*>"
    r"|<(/?)([A-Za-z][A-Za-z0-9:_.-]*)((?:\"[^\"<]*\"|'[^'<]*'|[^'\">])*)>",
    re.S,
)
_START_ATTR = re.compile(r"\bstart\s*=\s*[\"']?(\d+)", re.I)
_COLLAPSE = re.compile(r"[ \t\r\n\f]+")
_MANY_BLANKS = re.compile(r"\n{3,}")
_TRAILING = re.compile(r"[ \t]+\n")
_INVISIBLE = str.maketrans({"\xa0": " ", "\u200b": None, "\ufeff": None, "\r": None})
_HR_LINE = "_" * 32


class _Buf:
    __slots__ = ("parts", "at_start")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.at_start = True


class _Table:
    __slots__ = ("level", "row", "cell_open")

    def __init__(self, level: int) -> None:
        self.level = level          # index of the buffer the table writes rows into
        self.row: list[str] | None = None
        self.cell_open = False


class _TextMaker:
    def __init__(self) -> None:
        self.bufs: list[_Buf] = [_Buf()]
        self.tables: list[_Table] = []
        self.pre = 0
        self.quote = 0
        self.lists: list[int | None] = []   # None for <ul>, next number for <ol>

    # --- writing -------------------------------------------------------
    def _write(self, text: str) -> None:
        buf = self.bufs[-1]
        top = len(self.bufs) == 1
        for i, piece in enumerate(text.split("\n")):
            if i:
                buf.parts.append("\n")
                buf.at_start = True
            if not piece:
                continue
            if buf.at_start:
                if not self.pre:
                    piece = piece.lstrip(" ")
                    if not piece:
                        continue
                if top and self.quote:
                    buf.parts.append("> " * self.quote)
            buf.parts.append(piece)
            buf.at_start = False

    def _break(self) -> None:
        """End the current line unless it is already ended."""
        buf = self.bufs[-1]
        if not buf.at_start:
            buf.parts.append("\n")
            buf.at_start = True

    # --- tables --------------------------------------------------------
    def _close_cell(self, table: _Table) -> None:
        if table.cell_open:
            # Tables left open inside this cell end with it.
            while self.tables and self.tables[-1] is not table:
                self._close_inner_table()
            cell = self.bufs.pop()
            text = "".join(cell.parts).strip()
            if table.row is None:
                table.row = []
            table.row.append(text)
            table.cell_open = False

    def _close_inner_table(self) -> None:
        table = self.tables.pop()
        self._close_row(table)

    def _close_row(self, table: _Table) -> None:
        self._close_cell(table)
        if table.row is None:
            return
        cells = [c for c in table.row if c]
        table.row = None
        if not cells:
            return
        line = cells[0]
        for cell in cells[1:]:
            line += cell if line.endswith(("：", ":")) else "\t" + cell
        self._break()
        self._write(line)
        self._break()

    # --- parser callbacks ----------------------------------------------
    def handle_starttag(self, tag: str, attrs: str) -> None:
        if tag == "br":
            self._write("\n")
        elif tag in ("td", "th"):
            if not self.tables:
                self._break()
                return
            table = self.tables[-1]
            self._close_cell(table)
            if table.row is None:
                table.row = []
            self.bufs.append(_Buf())
            table.cell_open = True
        elif tag == "tr":
            if self.tables:
                self._close_row(self.tables[-1])
                self.tables[-1].row = []
            else:
                self._break()
        elif tag == "table":
            self._break()
            self.tables.append(_Table(len(self.bufs) - 1))
        elif tag == "hr":
            self._break()
            self._write(_HR_LINE)
            self._break()
        elif tag == "blockquote":
            self._break()
            self.quote += 1
        elif tag in ("ul", "ol"):
            self._break()
            start = _START_ATTR.search(attrs) if tag == "ol" else None
            self.lists.append(int(start.group(1)) if start else (1 if tag == "ol" else None))
        elif tag == "li":
            self._break()
            if self.lists and self.lists[-1] is not None:
                number = self.lists[-1]
                self.lists[-1] = number + 1
                self._write(f"{number}. ")
        elif tag in _BLOCK:
            if tag == "pre":
                self.pre += 1
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            if self.tables:
                self._close_cell(self.tables[-1])
        elif tag == "tr":
            if self.tables:
                self._close_row(self.tables[-1])
        elif tag == "table":
            if self.tables:
                self._close_inner_table()
            self._break()
        elif tag == "blockquote":
            self._break()
            self.quote = max(0, self.quote - 1)
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._break()
        elif tag == "li" or tag in _BLOCK:
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
            self._break()

    def handle_data(self, data: str) -> None:
        if not self.pre:
            data = _COLLAPSE.sub(" ", data)
        self._write(data)

    def finish(self) -> str:
        while self.tables:
            self._close_inner_table()
        text = "".join(self.bufs[0].parts).translate(_INVISIBLE)
        text = _TRAILING.sub("\n", text + "\n")
        return _MANY_BLANKS.sub("\n\n", text).strip("\n")


def html_to_text(html: str) -> str:
    """Convert an HTML body to text lines (never raises on tag soup).

    A small regex tokenizer rather than html.parser: mail HTML needs no
    attribute parsing beyond `<ol start>`, and this is several times faster.
    """
    maker = _TextMaker()
    pos = 0
    size = len(html)
    while pos < size:
        match = _TOKEN.search(html, pos)
        if match is None:
            maker.handle_data(unescape(html[pos:]))
            break
        if match.start() > pos:
            maker.handle_data(unescape(html[pos:match.start()]))
        pos = match.end()
        name = match.group(2)
        if name is None:
            continue    # comment, <!doctype>, <![if …]> and the like
        tag = name.lower()
        if match.group(1):
            maker.handle_endtag(tag)
        elif tag in _SKIP:
            # Skip the element's content up to its end tag (or the end).
            close = re.compile(rf"</{re.escape(tag)}\s*>", re.I).search(html, pos)
            pos = close.end() if close else size
        else:
            maker.handle_starttag(tag, match.group(3) or "")
    return maker.finish()
