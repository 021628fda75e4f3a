"""parsers.xlsxform.read_workbook on workbooks made by other hands, and broken ones.

The bot's own workbook and its round trip are in tests/test_xlsxform.py;
here the workbooks are built directly with openpyxl, the way a unit that
re-created the sheet (or another program) would.
"""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Sequence

import pytest
from openpyxl import Workbook

from parsers import parse_message, xlsxform
from parsers.xlsxform import read_workbook

TOKEN = "KCR-202611-GD-3F9A"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(rows: Sequence[Sequence[object]], *, sheets_before: int = 0) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    for n in range(sheets_before):
        book.create_sheet(f"说明{n}", 0).append(["这是另一张表", "与填报无关"])
    for row in rows:
        first.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def mail(*attachments: tuple[str, str, bytes], body: str = "见附件") -> bytes:
    parts = [f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"]
    parts += [f'Content-Type: {ctype}; name="{name}"\r\nContent-Disposition: attachment; filename="{name}"\r\n'
              f"Content-Transfer-Encoding: base64\r\n\r\n{base64.encodebytes(data).decode()}"
              for name, ctype, data in attachments]
    joined = "".join(f"--b1\r\n{p}\r\n" for p in parts)
    return (f"From: a@gd.example.cn\r\nSubject: Re: 月报 [{TOKEN}]\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n{joined}--b1--\r\n').encode()


HAND_MADE = [
    ["广东分公司 11月月报（自制表格）"],
    ["[重点客户月报填报单]"],
    ["报告编号：", TOKEN],
    ["填报人：张三"],                                  # the answer typed into the label cell
    ["联系电话", 13800138000],
    ["【战略客户】S001 国家电网"],
    ["1、执行情况", "按方案执行"],
    [None, "冬季保供已落实"],                           # an answer continued on the next row
    ["4. 总部支持", "请协调LNG配额", "（补充）12月前"],  # an answer spread over two cells
    ["风险等级", "重大"],
    ["需总部协调", "√"],
    ["[VIP客户] V012"],
    ["问题或诉求", "无"],
    ["[紧急事项]"],
    ["（如有需立即上报的紧急事项请在此填写）", None],
    ["[填报结束]"],
    ["表格下方的备注", "不属于填报单"],
]


def test_hand_made_sheet_reads_like_a_mail_body() -> None:
    # A re-created sheet: answers in label cells, continuation rows, extra cells, half-width brackets.
    result = read_workbook(workbook(HAND_MADE))
    assert result.problem is None and result.copy is not None
    copy = result.copy
    assert (copy.token_text, copy.reporter_name, copy.reporter_phone) == (TOKEN, "张三", "13800138000")
    s001 = copy.strategic[0]
    assert s001.items["1"] == "按方案执行\n冬季保供已落实"
    assert s001.items["4"] == "请协调LNG配额\n（补充）12月前"
    assert (s001.risk, s001.needs_hq) == ("重大", True)
    assert copy.vip[0].customer == "V012" and copy.vip[0].issue is None
    assert copy.urgent_text is None and copy.has_answers and copy.errors == ()


def test_missing_labels_warn_as_in_a_body() -> None:
    # Labels the unit deleted are reported field by field, exactly as for a mail body.
    copy = read_workbook(workbook(HAND_MADE)).copy
    assert copy is not None
    missing = [w.message for w in copy.warnings if w.where == "S001"]
    assert "未找到第2项“对全国性产品或服务的反馈意见与建议”一栏，按未填写处理" in missing
    assert len(missing) == 7   # items 2, 3, 5, 6, 7, 8, 9


def test_form_on_a_later_sheet_is_found() -> None:
    # The first sheet that has the title row is read; other sheets are ignored.
    result = read_workbook(workbook(HAND_MADE, sheets_before=2))
    assert result.copy is not None and result.copy.strategic[0].risk == "重大"


def test_workbook_without_the_form_is_silently_not_a_form() -> None:
    # A spreadsheet of supporting figures is no form and no problem.
    result = read_workbook(workbook([["客户", "11月用气量"], ["S001", 1200]]))
    assert result.copy is None and result.problem is None
    parsed = parse_message(mail(("用气量.xlsx", XLSX, workbook([["客户", "用气量"]]))))
    assert parsed.kind == "unknown" and parsed.warnings == ()


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04broken", b"not a zip at all", b"\x00" * 100])
def test_broken_file_gives_a_problem_not_an_exception(data: bytes) -> None:
    # Bytes that are no .xlsx give a reason; parse_message turns it into a warning naming the file.
    result = read_workbook(data)
    assert result.copy is None and result.problem
    parsed = parse_message(mail(("月报.xlsx", XLSX, data)))
    assert [w.message for w in parsed.warnings] == [f"附件“月报.xlsx”{result.problem}，未读取其中的内容"]


def test_zip_that_is_not_a_workbook_gives_a_problem() -> None:
    # A valid zip without workbook parts fails inside openpyxl; the failure is caught and named.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    result = read_workbook(out.getvalue())
    assert result.copy is None and result.problem is not None and result.problem.startswith("无法读取")


def test_oversized_archive_is_refused_before_inflating(monkeypatch: pytest.MonkeyPatch) -> None:
    # A zip bomb is refused by its declared sizes, before openpyxl inflates anything.
    monkeypatch.setattr(xlsxform, "_MAX_UNPACKED", 1000)
    result = read_workbook(workbook(HAND_MADE))
    assert result.copy is None and result.problem == "文件解压后过大，不像是填报单"


def test_two_filled_workbooks_use_the_first() -> None:
    # Two filled workbooks and no filled body: the first is used and the warning says so.
    second = [list(r) for r in HAND_MADE]
    second[9] = ["风险等级", "一般"]
    parsed = parse_message(mail(("甲.xlsx", XLSX, workbook(HAND_MADE)), ("乙.xlsx", XLSX, workbook(second))))
    assert parsed.form_source == "甲.xlsx" and parsed.strategic[0].risk == "重大"
    assert "有2个附件填写了填报单，已采用“甲.xlsx”，其余未采用" in [w.message for w in parsed.warnings]


def test_old_excel_attachment_is_named_in_a_warning() -> None:
    # An .xls cannot be read; the unit is told to save it as .xlsx if the form is in it.
    parsed = parse_message(mail(("月报.xls", "application/vnd.ms-excel", b"\xd0\xcf\x11\xe0" + b"\x00" * 64)))
    assert [w.message for w in parsed.warnings] == [
        "附件“月报.xls”是旧版 Excel/WPS 格式，系统无法读取；如填报单填写在其中，请另存为 .xlsx 格式后重新发送"]


def test_bounce_with_workbook_stays_a_bounce() -> None:
    # A bounce keeps its kind even when a filled workbook rides along.
    raw = mail(("月报.xlsx", XLSX, workbook(HAND_MADE)), body="退信：无法投递").replace(
        b"From: a@gd.example.cn", b"From: MAILER-DAEMON@gd.example.cn")
    parsed = parse_message(raw)
    assert parsed.kind == "bounce" and parsed.strategic == ()
