"""What one message's workbooks may cost: cells and inflated bytes are capped per message, not per file.

A 150 kB attachment can hold 12 MB of sheet XML; four of them took ~50 s
to read, and the pipeline (urgent alerts included) waited.  Now the
workbooks of one message share one budget (`xlsxcells.MAX_CELLS` cells
met, `MAX_BYTES` bytes inflated), smallest first; a workbook the budget
cannot cover is named in a warning, never read in part, and a real form
beside hostile attachments is still read.  The workbooks are built here
from raw XML — many rows and columns, no `<dimension>` — the way a hostile
sender would, not with openpyxl.  Time is not asserted; behaviour is.
"""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Sequence
from datetime import datetime

from parsers import parse_message
from parsers.xlsxcells import MAX_CELLS, Budget, Workbook
from parsers.xlsxform import read_workbook

TOKEN = "KCR-202611-GD-3F9A"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
FORM_ROWS = [["【重点客户月报填报单】"], ["报告编号：", TOKEN], ["填报人：", "李明"], ["【战略客户】S001 国家电网"],
             ["1. 全国性天然气产品及服务方案执行情况：", "按方案执行"], ["风险等级：", "一般"], ["【填报结束】"]]
OVER_BUDGET = "内容过多（每封邮件的表格附件合计最多读取50000个单元格、解压后4 MB），未读取其中的内容"


def workbook(sheet_data: str, *, styles: str | None = None, strings: Sequence[str] = ()) -> bytes:
    """An .xlsx whose one sheet holds `sheet_data` (the <sheetData> content) and no <dimension>."""
    rels = [("rId1", "worksheet", "worksheets/sheet1.xml")]
    parts = {"xl/worksheets/sheet1.xml": f'<worksheet xmlns="{MAIN}"><sheetData>{sheet_data}</sheetData></worksheet>'}
    if styles is not None:
        rels.append(("rId2", "styles", "styles.xml"))
        parts["xl/styles.xml"] = f'<styleSheet xmlns="{MAIN}">{styles}</styleSheet>'
    if strings:
        rels.append(("rId3", "sharedStrings", "sharedStrings.xml"))
        parts["xl/sharedStrings.xml"] = f'<sst xmlns="{MAIN}">' + "".join(strings) + "</sst>"
    types = "".join(f'<Override PartName="/xl/{name[3:]}" ContentType="application/vnd.openxmlformats-officedocument.'
                    f'spreadsheetml.{kind}+xml"/>' for name, kind in (
                        ("xl/workbook.xml", "sheet.main"), ("xl/worksheets/sheet1.xml", "worksheet"),
                        ("xl/styles.xml", "styles"), ("xl/sharedStrings.xml", "sharedStrings"))
                    if name in parts or name == "xl/workbook.xml")
    parts |= {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                               '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
                               f'relationships+xml"/>{types}</Types>',
        "_rels/.rels": f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{DOC}/officeDocument" '
                       'Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{DOC}"><sheets><sheet name="表" sheetId="1" '
                           'r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{RELS}">' + "".join(
            f'<Relationship Id="{i}" Type="{DOC}/{t}" Target="{p}"/>' for i, t, p in rels) + "</Relationships>",
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return out.getvalue()


def filler(rows: int, columns: int, first_row: int = 1) -> str:
    """`rows` rows of `columns` numeric cells without coordinates, as a generated report would have."""
    row = "<c><v>7</v></c>" * columns
    return "".join(f'<row r="{r}">{row}</row>' for r in range(first_row, first_row + rows))


def text_rows(rows: Sequence[Sequence[str]], first_row: int = 1) -> str:
    """Rows of inline-string cells from column A on."""
    return "".join(f'<row r="{first_row + n}">' + "".join(
        f'<c t="inlineStr"><is><t>{text}</t></is></c>' for text in row) + "</row>" for n, row in enumerate(rows))


def mail(*attachments: tuple[str, bytes]) -> bytes:
    parts = ["Content-Type: text/plain; charset=utf-8\r\n\r\n见附件\r\n"]
    parts += [f'Content-Type: {XLSX}; name="{name}"\r\nContent-Disposition: attachment; filename="{name}"\r\n'
              f"Content-Transfer-Encoding: base64\r\n\r\n{base64.encodebytes(data).decode()}"
              for name, data in attachments]
    joined = "".join(f"--b1\r\n{p}\r\n" for p in parts)
    return (f"From: a@gd.example.cn\r\nSubject: Re: 月报 [{TOKEN}]\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n{joined}--b1--\r\n').encode()


def warnings_of(raw: bytes) -> list[str]:
    return [w.message for w in parse_message(raw).warnings]


FORM = workbook(text_rows(FORM_ROWS))
HOSTILE = workbook(filler(2000, 60))    # 120,000 cells in 148 kB of XML


def test_a_workbook_too_big_to_read_is_named_in_a_warning() -> None:
    # Cells beyond the message's cap: the sender is told which attachment was not read.
    parsed = parse_message(mail(("数据.xlsx", HOSTILE)))
    assert parsed.kind == "unknown"
    assert [w.message for w in parsed.warnings] == [f"附件“数据.xlsx”{OVER_BUDGET}"]


def test_a_real_form_beside_hostile_workbooks_is_still_read() -> None:
    # Hostile workbooks attached first cannot starve the form: the smallest is read first.
    parsed = parse_message(mail(("数据1.xlsx", HOSTILE), ("数据2.xlsx", HOSTILE), ("月报.xlsx", FORM)))
    assert parsed.kind == "monthly_report" and parsed.form_source == "月报.xlsx"
    assert parsed.strategic[0].items["1"] == "按方案执行" and parsed.strategic[0].risk == "一般"
    assert parsed.reporter_name == "李明"
    about_files = [w.message for w in parsed.warnings if w.message.startswith("附件")]
    assert about_files == [f"附件“数据{n}.xlsx”{OVER_BUDGET}" for n in (1, 2)]


def test_a_form_beyond_the_cap_is_reported_rather_than_read() -> None:
    # The form's rows come after more cells than the cap: no half-read form, a warning instead.
    rows = MAX_CELLS // 50 + 10
    data = workbook(filler(rows, 50) + text_rows(FORM_ROWS, first_row=rows + 1))
    parsed = parse_message(mail(("月报.xlsx", data)))
    assert parsed.kind == "unknown" and parsed.strategic == ()
    assert [w.message for w in parsed.warnings] == [f"附件“月报.xlsx”{OVER_BUDGET}"]


def test_the_cap_is_per_message_not_per_workbook() -> None:
    # Two workbooks each within the cap alone, over it together: the larger one is named.
    small, large = workbook(filler(30, 1000)), workbook(filler(30, 1100))
    assert read_workbook(small).problem is None and read_workbook(large).problem is None
    assert warnings_of(mail(("大.xlsx", large), ("小.xlsx", small))) == [f"附件“大.xlsx”{OVER_BUDGET}"]


def test_inflated_bytes_are_capped_whatever_the_cells() -> None:
    # One cell holding 5 MB of text: few cells, too many bytes — named, not read.
    data = workbook(text_rows([["【重点客户月报填报单】"], ["x" * (5 * 1024 * 1024)]]))
    assert len(data) < 100_000
    assert warnings_of(mail(("大.xlsx", data))) == [f"附件“大.xlsx”{OVER_BUDGET}"]


def test_excel_escapes_in_strings_are_undone_and_nul_dropped() -> None:
    # Excel writes a CR inside a cell as _x000D_; a NUL escape cannot be stored, so it is dropped.
    data = workbook(text_rows([["【重点客户月报填报单】"], ["【战略客户】S001"],
                               ["1. 执行情况：", "第一行_x000D_\n第二_x0000_行"], ["【填报结束】"]]))
    parsed = parse_message(mail(("月报.xlsx", data)))
    assert parsed.strategic[0].items["1"] == "第一行\n第二行"


def test_values_read_as_excel_shows_them() -> None:
    # Shared strings (phonetic runs left out), numbers, booleans, cached formula results, and a number
    # in a date style as a date — only the cells of columns A–H of each row.
    styles = ('<numFmts><numFmt numFmtId="164" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/>'
              '</numFmts><cellXfs><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="14"/><xf numFmtId="49"/>'
              "</cellXfs>")
    strings = ["<si><t>报告期</t></si>", "<si><r><t>重</t></r><r><t>大</t></r><rPh><t>ジュウダイ</t></rPh></si>"]
    sheet = ('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" s="1"><v>46327</v></c>'
             '<c r="C1" s="2"><v>46327.5</v></c><c r="D1" s="3"><v>13800138000</v></c></row>'
             '<row r="3"><c r="A3" t="s"><v>1</v></c><c r="B3" t="b"><v>1</v></c><c r="C3" t="str">'
             '<f>A1</f><v>公式</v></c><c r="D3"><f>1+1</f></c><c r="I3" t="inlineStr"><is><t>第九列</t></is></c></row>')
    with zipfile.ZipFile(io.BytesIO(workbook(sheet, styles=styles, strings=strings))) as archive:
        (rows,) = list(Workbook(archive, Budget()).sheets())
    assert rows == [("报告期", datetime(2026, 11, 1), datetime(2026, 11, 1, 12), 13800138000, *[None] * 4),
                    ("重大", True, "公式", None, *[None] * 4)]
