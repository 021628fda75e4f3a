"""What a file is, from its name, its declared type or its first bytes.

`mime.py` asks this when it meets an attachment: is it Outlook's
winmail.dat (opened by `tnef.py`), an .xlsx workbook that may hold the
form (read by `xlsxform.py`), or an old binary spreadsheet we cannot read
(the sender is told)?  And when a whole "message" has no headers, its
magic number names what it really is, so the refusal has a precise reason.
Files from inside a winmail.dat carry only a name; `content_type_for`
gives them a content type by suffix (never via `mimetypes`, which reads
system files).
"""

from __future__ import annotations

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
_DOCUMENT_SUFFIXES = (".docx", ".docm")
_OLD_DOCUMENT_SUFFIXES = (".doc", ".wps")     # binary Word and WPS formats
_OLD_SPREADSHEET_SUFFIXES = (".xls", ".et")   # binary Excel and WPS formats: openpyxl cannot read them
_SUFFIX_TYPES = {
    ".xlsx": XLSX_TYPE, ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    ".xls": "application/vnd.ms-excel", ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pdf": "application/pdf", ".txt": "text/plain", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".png": "image/png", ".gif": "image/gif", ".zip": "application/zip", ".rar": "application/x-rar",
}
# Magic numbers of files people mistake for mail.
_NOT_MAIL = (
    (b"\x78\x9f\x3e\x22", "不是邮件：这是 winmail.dat（TNEF）数据本身，它只能作为邮件的附件读取"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "不是邮件：这是 Outlook .msg（OLE2）文件，请另存为 .eml 或直接转发该邮件"),
    (b"PK\x03\x04", "不是邮件：这是 ZIP 或 Office 文档（如 .xlsx），不是 .eml 邮件"),
    (b"%PDF", "不是邮件：这是 PDF 文件"),
)


def _lower(name: str | None) -> str:
    return (name or "").strip().lower()


def is_tnef(name: str | None, content_type: str) -> bool:
    """Outlook's winmail.dat, by type or (when mislabelled) by name."""
    return content_type in _TNEF_TYPES or _lower(name) == "winmail.dat"


def is_workbook(name: str | None, content_type: str) -> bool:
    """An .xlsx/.xlsm attachment, which may be a returned form."""
    return _lower(name).endswith(_WORKBOOK_SUFFIXES) or content_type == XLSX_TYPE


def is_document(name: str | None, content_type: str) -> bool:
    """A .docx/.docm attachment, which may hold the form pasted into Word or WPS."""
    return _lower(name).endswith(_DOCUMENT_SUFFIXES) or content_type == DOCX_TYPE


def is_old_document(name: str | None) -> bool:
    """A .doc/.wps attachment: a document we cannot read."""
    return _lower(name).endswith(_OLD_DOCUMENT_SUFFIXES)


def is_old_spreadsheet(name: str | None) -> bool:
    """An .xls/.et attachment: a spreadsheet we cannot read."""
    return _lower(name).endswith(_OLD_SPREADSHEET_SUFFIXES)


def content_type_for(name: str) -> str:
    """A content type for a bare file name (from inside winmail.dat)."""
    lower = _lower(name)
    suffix = lower[lower.rfind("."):] if "." in lower else ""
    return _SUFFIX_TYPES.get(suffix, "application/octet-stream")


def not_mail_reason(data: bytes) -> str | None:
    """Why headerless bytes are no mail, when their magic number says what they are."""
    return next((reason for magic, reason in _NOT_MAIL if data.startswith(magic)), None)
