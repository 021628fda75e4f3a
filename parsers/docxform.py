"""The text of a Word document (.docx) as a person reads it, with bounded work, for the form reader.

Units paste the form into Word or WPS: the form's lines as paragraphs, or label | answer as a two-column table.
The document's main part (`word/document.xml`) is inflated in chunks and fed to expat, charged to the same
per-message `Budget` as the workbooks (`xlsxcells`): paragraphs and tables in document order, a table row as
`label<TAB>answer` the way the body's tables read, a cell's paragraphs and line breaks kept as line breaks.
What the author deleted with tracked changes on (`w:del`, `w:moveFrom`) is not text; what they inserted is.

Not python-docx: it parses the whole part into memory with no budget (a 150 kB zip can inflate to hundreds of
MB), and its `Paragraph.text` leaves out runs inside `w:ins`, i.e. every answer typed with tracking on.

An encrypted document (Word's "password to open" makes it an OLE2 file holding `EncryptionInfo`), an old binary
.doc, a broken zip or a zip bomb is a `problem` naming why, never an exception.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from parsers.xlsxcells import Budget, LimitReached, _Handler, _local, _parse

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptionInfo".encode("utf-16-le")
_OLD_WORD = "WordDocument".encode("utf-16-le")
_MAIN = "word/document.xml"
_MAX_MEMBERS, _MAX_UNPACKED = 2000, 200 * 1024 * 1024   # refused before anything is inflated
_DELETED = frozenset({"del", "moveFrom"})
_BREAKS = frozenset({"br", "cr"})


@dataclass(frozen=True)
class DocumentText:
    """What an attached .docx held: its text (None if unreadable) or why it could not be read."""

    text: str | None
    problem: str | None = None


def read_document(data: bytes, budget: Budget | None = None) -> DocumentText:
    """The text of a .docx, or why it cannot be read (`budget`: shared by the attachments of one message)."""
    if data.startswith(_OLE2):
        if _ENCRYPTED in data:
            return DocumentText(None, "已加密（设有打开密码）")
        if _OLD_WORD in data:
            return DocumentText(None, "是旧版 Word（.doc）格式，请另存为 .docx 后重新发送")
        return DocumentText(None, "不是 .docx 文件")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except Exception:  # noqa: BLE001 - zipfile on untrusted bytes raises far more than BadZipFile
        return DocumentText(None, "已损坏（无法解压）")
    with archive:
        if len(members) > _MAX_MEMBERS or sum(m.file_size for m in members) > _MAX_UNPACKED:
            return DocumentText(None, "解压后过大，不像是填报单")
        if _MAIN not in archive.namelist():
            return DocumentText(None, "中没有 Word 正文")
        handler = _Document()
        try:
            _parse(archive, _MAIN, budget if budget is not None else Budget(), handler)
        except LimitReached:
            return DocumentText(None, "内容过多，超出每封邮件附件的读取上限")
        except Exception as exc:  # noqa: BLE001 - zip and XML on untrusted bytes raise many kinds of errors
            return DocumentText(None, f"已损坏（{type(exc).__name__}）")
    return DocumentText("\n".join(handler.lines))


class _Document(_Handler):
    """expat callbacks for word/document.xml: paragraphs and table rows as lines, in document order."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.paragraphs: list[list[str]] = []   # open paragraphs (a text box nests one in another)
        self.cells: list[list[str]] = []        # open table cells: their paragraphs
        self.rows: list[list[str]] = []         # open table rows: their cells
        self.deleted = 0                        # depth inside tracked deletions
        self.tab_stops = 0                      # inside w:tabs, where w:tab is a tab stop, not a character
        self.in_text = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        tag = _local(name)
        if tag in _DELETED:
            self.deleted += 1
        elif tag == "p":
            self.paragraphs.append([])
        elif tag == "t":
            self.in_text = not self.deleted
        elif tag == "tabs":
            self.tab_stops += 1
        elif tag == "tab" and self.paragraphs and not self.deleted and not self.tab_stops:
            self.paragraphs[-1].append("\t")
        elif self.paragraphs and not self.deleted and tag in _BREAKS:
            self.paragraphs[-1].append("\n")
        elif tag == "tr":
            self.rows.append([])
        elif tag == "tc":
            self.cells.append([])

    def end(self, name: str) -> None:
        tag = _local(name)
        if tag in _DELETED:
            self.deleted -= 1
        elif tag == "t":
            self.in_text = False
        elif tag == "tabs":
            self.tab_stops -= 1
        elif tag == "p" and self.paragraphs:
            self._emit("".join(self.paragraphs.pop()))
        elif tag == "tc" and self.cells:
            cell = "\n".join(self.cells.pop()).strip("\n")
            if self.rows:
                self.rows[-1].append(cell)
        elif tag == "tr" and self.rows:
            self._emit("\t".join(self.rows.pop()))

    def text(self, data: str) -> None:
        if self.in_text and self.paragraphs:
            self.paragraphs[-1].append(data)

    def _emit(self, line: str) -> None:
        """A finished paragraph or row: into the cell it sits in, else the document."""
        if self.paragraphs:       # a text box's paragraph: part of the paragraph around it
            self.paragraphs[-1].append(line)
        elif self.cells:
            self.cells[-1].append(line)
        else:
            self.lines.append(line)
