"""Word documents built the way Word and WPS save them, byte for byte the same on every run.

A .docx is a zip of XML parts: `[Content_Types].xml`, `_rels/.rels`, `docProps/{core,app}.xml`,
`word/document.xml` with its `_rels`, `styles.xml` and `settings.xml`. Word splits a line's text into several
runs (`w:r`, each its own `w:rPr` with the East Asian font) wherever editing history or proofing marks fall, keeps
tracked changes as `w:ins` / `w:del` (deleted text as `w:delText`), writes a table as `w:tbl/w:tr/w:tc`, each
cell's lines as paragraphs, and stamps `rsid` attributes; WPS writes the same parts with its own `app.xml`.
Timestamps are fixed so the fixtures do not change when regenerated.
"""

from __future__ import annotations

import io
import re
import zipfile
from xml.sax.saxutils import escape

STAMP = (2026, 11, 20, 9, 30, 0)
W = ("xmlns:wpc=\"http://schemas.microsoft.com/office/word/2010/wordprocessingCanvas\" "
     "xmlns:mc=\"http://schemas.openxmlformats.org/markup-compatibility/2006\" "
     "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\" "
     "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" "
     "xmlns:w14=\"http://schemas.microsoft.com/office/word/2010/wordml\" mc:Ignorable=\"w14\"")
RPR = '<w:rPr><w:rFonts w:hint="eastAsia" w:ascii="宋体" w:hAnsi="宋体" w:eastAsia="宋体"/><w:sz w:val="21"/></w:rPr>'
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    '<Override PartName="/word/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>'
    '<Override PartName="/word/settings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    '<Override PartName="/docProps/app.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>')
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'extended-properties" Target="docProps/app.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
    'core-properties" Target="docProps/core.xml"/>'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="word/document.xml"/></Relationships>')
DOCUMENT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/settings" '
    'Target="settings.xml"/><Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    '</Relationships>')
CORE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>李明</dc:creator>'
    '<cp:lastModifiedBy>李明</cp:lastModifiedBy>'
    '<dcterms:created xsi:type="dcterms:W3CDTF">2026-11-20T01:30:00Z</dcterms:created>'
    '<dcterms:modified xsi:type="dcterms:W3CDTF">2026-11-20T01:30:00Z</dcterms:modified></cp:coreProperties>')
APPS = {"word": "Microsoft Office Word", "wps": "WPS Office_12.1.0.18608_F1E327BC-269C-435d-A152-05C5408002CA"}
STYLES = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<w:styles ' + W + '><w:docDefaults>'
          '<w:rPrDefault><w:rPr><w:rFonts w:eastAsia="宋体"/><w:lang w:eastAsia="zh-CN"/></w:rPr></w:rPrDefault>'
          '</w:docDefaults><w:style w:type="paragraph" w:default="1" w:styleId="a"><w:name w:val="Normal"/>'
          '</w:style><w:style w:type="table" w:styleId="a3"><w:name w:val="Table Grid"/></w:style></w:styles>')
SETTINGS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<w:settings ' + W + '>'
            '<w:trackRevisions/><w:defaultTabStop w:val="420"/><w:rsids><w:rsidRoot w:val="00A4137B"/></w:rsids>'
            '</w:settings>')
LABEL = re.compile(r"^(.*?[：:])(.*)$")


def run(text: str) -> str:
    """One run of text (tabs as w:tab, as Word writes them)."""
    pieces = text.split("\t")
    inner = '<w:tab/>'.join(f'<w:t xml:space="preserve">{escape(p)}</w:t>' for p in pieces)
    return f"<w:r>{RPR}{inner}</w:r>"


def inserted(text: str) -> str:
    return f'<w:ins w:id="11" w:author="李明" w:date="2026-11-20T09:20:00Z">{run(text)}</w:ins>'


def deleted(text: str) -> str:
    return (f'<w:del w:id="12" w:author="李明" w:date="2026-11-20T09:21:00Z"><w:r>{RPR}'
            f'<w:delText xml:space="preserve">{escape(text)}</w:delText></w:r></w:del>')


def paragraph(*runs: str) -> str:
    """A paragraph of ready-made runs (see `run`, `inserted`, `deleted`), with Word's properties and a tab stop."""
    return ('<w:p w:rsidR="00A4137B" w:rsidRDefault="00A4137B"><w:pPr><w:tabs><w:tab w:val="left" w:pos="2520"/>'
            '</w:tabs><w:spacing w:line="360" w:lineRule="auto"/></w:pPr>' + "".join(runs) + "</w:p>")


def line(text: str) -> str:
    """A typed line: the label and the answer in separate runs, as Word's editing history splits them."""
    found = LABEL.match(text)
    return paragraph(run(found.group(1)), run(found.group(2))) if found and found.group(2) else paragraph(run(text))


def cell(*paragraphs: str, span: int = 1) -> str:
    props = f'<w:tcW w:w="{4148 * span}" w:type="dxa"/>' + (f'<w:gridSpan w:val="{span}"/>' if span > 1 else "")
    return f"<w:tc><w:tcPr>{props}</w:tcPr>{''.join(paragraphs) or paragraph()}</w:tc>"


def table(rows: list[str]) -> str:
    return ('<w:tbl><w:tblPr><w:tblStyle w:val="a3"/><w:tblW w:w="0" w:type="auto"/><w:tblLook w:val="04A0"/>'
            '</w:tblPr><w:tblGrid><w:gridCol w:w="4148"/><w:gridCol w:w="4148"/></w:tblGrid>'
            + "".join(f"<w:tr>{r}</w:tr>" for r in rows) + "</w:tbl>")


def form_as_paragraphs(form: str) -> str:
    """A filled form pasted into Word: each line its own paragraph."""
    return "".join(line(text) for text in form.split("\n"))


def form_as_table(form: str) -> str:
    """A filled form typed into a two-column table: label | answer; section markers across both columns; a line
    that continues an answer goes into the answer's cell as another paragraph."""
    rows: list[list[str]] = []
    for text in form.split("\n"):
        found = LABEL.match(text)
        if text.startswith(("【", "［", "[")) or not text.strip():
            rows.append([cell(paragraph(run(text)), span=2)])
        elif found:
            rows.append([cell(paragraph(run(found.group(1).rstrip("：:")))), cell(paragraph(run(found.group(2))))])
        elif rows and len(rows[-1]) == 2:   # a second line of the answer above
            rows[-1][1] = rows[-1][1].replace("</w:tc>", paragraph(run(text)) + "</w:tc>")
        else:
            rows.append([cell(paragraph(run(text)), span=2)])
    return table(["".join(r) for r in rows])


def docx(body: str, app: str = "word") -> bytes:
    """The whole document around `body` (paragraphs and tables), as a zip Word or WPS would write."""
    document = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<w:document ' + W + '><w:body>' + body
                + '<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1440" w:right="1800" w:bottom="1440" '
                'w:left="1800" w:header="851" w:footer="992" w:gutter="0"/></w:sectPr></w:body></w:document>')
    application = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<Properties xmlns="http://schemas.'
                   'openxmlformats.org/officeDocument/2006/extended-properties"><Application>'
                   f'{APPS[app]}</Application></Properties>')
    return zipped([("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", RELS), ("docProps/app.xml", application),
                   ("docProps/core.xml", CORE), ("word/document.xml", document),
                   ("word/_rels/document.xml.rels", DOCUMENT_RELS), ("word/styles.xml", STYLES),
                   ("word/settings.xml", SETTINGS)])


def zipped(parts: list[tuple[str, str | bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts:
            info = zipfile.ZipInfo(name, date_time=STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data.encode("utf-8") if isinstance(data, str) else data)
    return out.getvalue()


def normalized(office_file: bytes) -> bytes:
    """An Office zip (e.g. what openpyxl saved) with every timestamp fixed, so a fixture built from it is stable."""
    with zipfile.ZipFile(io.BytesIO(office_file)) as archive:
        parts = [(i.filename, archive.read(i.filename)) for i in archive.infolist()]
    stamp = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
    return zipped([(name, stamp.sub(b"2026-11-20T01:30:00Z", data) if name.startswith("docProps/") else data)
                   for name, data in parts])


def zip_bomb(name_inside: str = "word/document.xml", megabytes: int = 16) -> bytes:
    """A small .docx whose main part inflates to `megabytes` MB of one repeated character."""
    document = ('<?xml version="1.0" encoding="UTF-8"?><w:document ' + W + '><w:body><w:p><w:r><w:t>'
                + " " * (megabytes * 1024 * 1024) + '</w:t></w:r></w:p></w:body></w:document>')
    return zipped([("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", RELS), (name_inside, document)])


def ole2(stream_name: str) -> bytes:
    """The start of an OLE2 compound file (what Word writes for a password-protected or an old binary document):
    the header, then a directory entry naming `stream_name` (EncryptionInfo, or WordDocument)."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + b"\x3e\x00\x03\x00\xfe\xff\x09\x00" + b"\x00" * 480
    entry = stream_name.encode("utf-16-le").ljust(64, b"\x00") + bytes([len(stream_name) * 2 + 2, 0, 2, 1])
    return header + entry.ljust(128, b"\x00") + b"\x00" * 1024
