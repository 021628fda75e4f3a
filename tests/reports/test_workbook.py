"""The request's .xlsx form (mailbot.xlsxform) and its way back through parse_message.

The round trip is the contract: a unit that fills the attached workbook
gets exactly the JSON it would get by typing the same answers into the
mail body.  The body-vs-workbook precedence (body wins when both have
answers, with a warning) is pinned here too.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from collections.abc import Mapping
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from parsers import parse_message, render_form
from parsers.formtext import CATEGORY_LABELS, FORM_TITLE, form_rows

from mailbot.reports.workbook import CONTENT_TYPE, build_workbook, workbook_filename
from tests.support import forms
from tests.support.mailflow import PROJECT

TOKEN = "KCR-202611-GD-3F9A"
FORM_ARGS: dict[str, object] = dict(
    token=TOKEN, unit_code="GD", unit_name="广东分公司", period="2026-11",
    strategic=[("S001", "国家电网有限公司"), ("S007", "华润燃气控股有限公司")],
    vip=[("V012", "深圳市燃气集团股份有限公司")],
)
# Answers by block ("head", a customer code, "urgent") and field key, as a unit would give them.
ANSWERS: dict[str, dict[str, str]] = {
    "head": {"name": "李明", "phone": "0755-88886666"},
    "S001": {"1": "已按方案执行，11月供气量同比增长8%。\n冬季保供方案已报总部备案。", "2": "无", "3": "暂无",
             "4": "希望总部协调上游资源：增加12月LNG配额。", "5": "无", "6": "无", "7": "无", "8": "无",
             "9": "无", "risk": "一般", "hq": "是"},
    "S007": {"risk": "无", "hq": "否"},
    "V012": {"issue": "要求将结算周期由月结改为半月结", "handling": "已与客户沟通，拟于12月签订补充协议",
             "hq": "否"},
}
XLSX_MIME = "/".join(CONTENT_TYPE)


def _blank() -> bytes:
    return build_workbook(**FORM_ARGS)  # type: ignore[arg-type]


def _sheet(data: bytes) -> Worksheet:
    sheet = load_workbook(io.BytesIO(data)).active
    assert isinstance(sheet, Worksheet)
    return sheet


def fill_workbook(data: bytes, answers: Mapping[str, Mapping[str, object]]) -> bytes:
    return forms.fill_workbook(data, answers, FORM_ARGS)


def fill_text(answers: Mapping[str, Mapping[str, str]]) -> str:
    """The same answers typed into the mail body's form, after each label's colon."""
    lines, block = [], "head"
    for row in form_rows(**FORM_ARGS):  # type: ignore[arg-type]
        if row.kind == "marker" and row.key:
            block = row.key
        elif row.kind == "marker" and "紧急事项" in row.text:
            block = "urgent"
        answer = answers.get(block, {}).get(row.key, "")
        if row.kind == "hint":
            lines.extend([row.text, *([answer] if answer else [])])
        elif row.kind in ("prefilled", "answer", "note"):
            lines.append(f"{row.text}：{row.value or answer}")
        else:
            lines.append(row.text)
    return "\n".join(lines) + "\n"


def reply(body: str, *attachments: tuple[str, str, bytes]) -> bytes:
    """A reply as Outlook zh-CN sends it: multipart/mixed, RFC 2231 names, base64 parts."""
    head = (f"From: =?utf-8?B?5p2O5piO?= <liming@gd.example.cn>\r\nTo: kcr@hq.example.cn\r\n"
            f"Subject: =?utf-8?B?562U5aSNOg==?= [重点客户月报] 2026年11月 [{TOKEN}]\r\n"
            "Message-ID: <r1@gd.example.cn>\r\nMIME-Version: 1.0\r\n")
    text = base64.encodebytes(body.replace("\n", "\r\n").encode("utf-8")).decode()
    if not attachments:
        return (head + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                + text).encode()
    parts = ["Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + text]
    for name, ctype, data in attachments:
        parts.append(f"Content-Type: {ctype}\r\nContent-Disposition: attachment; filename*=utf-8''{quote(name)}\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(data).decode())
    boundary = "----=_NextPart_000_0001_01DB3F"
    body_parts = "".join(f"--{boundary}\r\n{p}\r\n" for p in parts)
    return (head + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            + body_parts + f"--{boundary}--\r\n").encode()


def quoted_request() -> str:
    form = render_form(**FORM_ARGS)  # type: ignore[arg-type]
    return "\n-----邮件原件-----\n发件人: 重点客户月报 <kcr@hq.example.cn>\n主题: 月报\n\n" + form


def test_workbook_lays_out_the_form_rows_with_the_token_in_a_locked_cell() -> None:
    # Every label of the text form is in column A, in order, and 报告编号 stands locked in B.
    sheet = _sheet(_blank())
    labels = [str(c.value) for c in sheet["A"] if c.value][1:]   # row 1 is the instruction row
    expected = [r.text for r in form_rows(**FORM_ARGS) if r.kind not in ("blank", "note")]  # type: ignore[arg-type]
    assert labels == expected
    token_row = labels.index("报告编号") + 2
    assert sheet.cell(token_row, 2).value == TOKEN and sheet.cell(token_row, 2).protection.locked
    assert sheet.title == FORM_TITLE and sheet.protection.sheet


def test_only_answer_cells_are_unlocked() -> None:
    # Labels, markers and prefilled values are locked; each answer cell, and only those, is unlocked.
    sheet = _sheet(_blank())
    kinds = {r.text: r.kind for r in form_rows(**FORM_ARGS)}  # type: ignore[arg-type]
    answer_rows = 0
    for a, b in sheet.iter_rows(min_row=2, max_col=2):
        assert a.protection.locked
        kind = kinds[str(a.value)]
        assert b.protection.locked == (kind not in ("answer", "hint")), a.value
        answer_rows += kind in ("answer", "hint")
    assert answer_rows == 2 + 2 * 11 + 3 + 1


def test_choice_fields_have_list_validation() -> None:
    # 风险等级 offers 无/一般/重大 and 需总部协调 是/否, as drop-down lists on exactly their cells.
    sheet = _sheet(_blank())
    rules = {dv.formula1: {str(r) for r in dv.sqref.ranges} for dv in sheet.data_validations.dataValidation}
    risk_cells = {f"B{c.row}" for c in sheet["A"] if str(c.value).startswith("风险等级")}
    hq_cells = {f"B{c.row}" for c in sheet["A"] if str(c.value).startswith("需总部协调")}
    assert rules == {'"无,一般,重大"': risk_cells, '"是,否"': hq_cells}
    assert len(risk_cells) == 2 and len(hq_cells) == 3
    assert all(dv.type == "list" and dv.showErrorMessage for dv in sheet.data_validations.dataValidation)


def test_columns_are_wide_enough_for_chinese_labels() -> None:
    # Column A fits the longest label (a CJK character is two width units), column B is wider still.
    sheet = _sheet(_blank())
    longest = max(sum(2 if ord(ch) > 0x2E80 else 1 for ch in f"{n}. {label}") for n, label in CATEGORY_LABELS.items())
    width_a = sheet.column_dimensions["A"].width
    width_b = sheet.column_dimensions["B"].width
    assert width_a is not None and width_b is not None
    assert width_a >= longest and width_b > width_a


def test_phone_cells_are_text_formatted() -> None:
    # Answer cells use the text format, so a typed 0755-… or 13800138000 keeps its digits.
    sheet = _sheet(_blank())
    phone = next(c for c in sheet["A"] if c.value == "联系电话")
    assert sheet.cell(phone.row, 2).number_format == "@"


def test_filename_names_form_period_and_unit() -> None:
    # The attachment's name says what it is, for which month and which unit.
    assert workbook_filename("GD", "2026-11") == "重点客户月报填报单_2026-11_GD.xlsx"


def test_round_trip_workbook_equals_body_filled_reply() -> None:
    # build → fill with openpyxl → attach to a "见附件" reply → the same JSON as the body-filled reply.
    filled = fill_workbook(_blank(), ANSWERS)
    by_workbook = parse_message(reply("李主任，月报已填写在附件中，请查收。\n\n李明" + quoted_request(),
                                      (workbook_filename("GD", "2026-11"), XLSX_MIME, filled)))
    by_body = parse_message(reply("月报如下。\n\n" + fill_text(ANSWERS)))
    assert by_workbook.as_json() == by_body.as_json()
    assert by_workbook.kind == "monthly_report" and by_workbook.as_json()["warnings"] == []
    assert by_workbook.form_source == workbook_filename("GD", "2026-11") and by_body.form_source == "body"
    s001 = by_workbook.strategic[0]
    assert (s001.risk, s001.needs_hq, s001.items["4"]) == ("一般", True, "希望总部协调上游资源：增加12月LNG配额。")
    json.dumps(by_workbook.as_json(), ensure_ascii=False)


def test_round_trip_with_urgent_matter_and_numeric_phone() -> None:
    # A phone typed as a number and an urgent matter in the workbook read as text, and make it urgent.
    answers: dict[str, dict[str, object]] = {"head": {"name": "王芳", "phone": 13800138000},
                                             "urgent": {"urgent": "S001 管线第三方施工受损，已停气抢修。"}}
    parsed = parse_message(reply("见附件。", ("月报.xlsx", "application/octet-stream",
                                             fill_workbook(_blank(), answers))))
    assert parsed.reporter_phone == "13800138000"
    assert parsed.urgent and parsed.urgent_text == "S001 管线第三方施工受损，已停气抢修。"
    assert "【紧急事项】栏已填写" in parsed.urgent_reasons


def test_body_wins_over_a_different_workbook_with_a_warning() -> None:
    # Both filled and different: the body's answers are used and the workbook is named as not used.
    other = fill_workbook(_blank(), {"S001": {"1": "另一个版本", "risk": "重大"}})
    parsed = parse_message(reply(fill_text(ANSWERS), ("月报-旧.xlsx", XLSX_MIME, other)))
    assert parsed.form_source == "body" and parsed.strategic[0].risk == "一般"
    assert [w.message for w in parsed.warnings] == [
        "邮件正文和附件“月报-旧.xlsx”中都填写了填报单，已采用邮件正文中的内容，附件中的内容未采用"]


def test_body_and_identical_workbook_say_they_agree() -> None:
    # Both filled with the same answers: the body is used and the warning says the two agree.
    parsed = parse_message(reply(fill_text(ANSWERS), ("月报.xlsx", XLSX_MIME, fill_workbook(_blank(), ANSWERS))))
    assert parsed.form_source == "body"
    assert [w.message for w in parsed.warnings] == [
        "邮件正文和附件“月报.xlsx”中都填写了填报单，已采用邮件正文中的内容（两者内容一致）"]


def test_blank_workbook_and_blank_body_is_an_empty_report() -> None:
    # Nothing filled anywhere: still a monthly report, read from the body, with the empty-form warning.
    parsed = parse_message(reply("收到" + quoted_request(), ("月报.xlsx", XLSX_MIME, _blank())))
    assert parsed.kind == "monthly_report" and parsed.form_source == "body" and not parsed.has_answers
    assert [w.message for w in parsed.warnings] == ["填报单为空：各栏均未填写"]


def test_workbook_alone_without_any_form_in_the_body() -> None:
    # A bare "见附件" reply with a filled workbook is a monthly report from the workbook.
    parsed = parse_message(reply("见附件", ("a.xlsx", XLSX_MIME, fill_workbook(_blank(), ANSWERS))))
    assert parsed.kind == "monthly_report" and parsed.token == TOKEN and parsed.has_answers


def test_invalid_choice_typed_past_the_validation_is_an_error() -> None:
    # A value the drop-down would refuse (written by another program) is an error quoting it, as in a body.
    filled = fill_workbook(_blank(), {"S001": {"risk": "较高", "hq": "需要"}})
    parsed = parse_message(reply("见附件", ("a.xlsx", XLSX_MIME, filled)))
    assert [(e.where, e.message) for e in parsed.errors] == [
        ("S001/风险等级", "风险等级只能填“无”“一般”或“重大”，填写的是“较高”"),
        ("S001/需总部协调", "需总部协调只能填“是”或“否”，填写的是“需要”"),
    ]
    assert parsed.strategic[0].risk is None and parsed.strategic[0].needs_hq is None


@pytest.mark.parametrize("module", ["mailbot.reports.workbook", "parsers"])
def test_import_does_not_load_openpyxl(module: str) -> None:
    # openpyxl (~0.15 s) loads only when a workbook is built or read, never on import.
    code = f"import sys, {module}; print('openpyxl' in sys.modules, 'tnefparse' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PROJECT)
    assert out.stdout.split() == ["False", "False"]


def test_the_workbook_prints_on_a4_landscape_one_page_wide() -> None:
    sheet = _sheet(_blank())
    setup = sheet.page_setup
    assert (setup.paperSize, setup.orientation, setup.fitToWidth, setup.fitToHeight) == (9, "landscape", 1, 0)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
