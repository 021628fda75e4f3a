"""The form reader: copies, values, errors and warnings (parsers.form)."""

from __future__ import annotations

import pytest

from parsers.form import FormCopy, find_copies, read_copy
from parsers.formtext import render_form
from parsers.quotes import boundaries, split_lines

HEAD = "【重点客户月报填报单】\n报告编号：KCR-202611-GD-3F9A\n填报人：李明\n联系电话：0755-1\n"


def copies(text: str) -> list[FormCopy]:
    lines = split_lines(text)
    return [read_copy(lines, s, e) for s, e in find_copies(lines, [b.line for b in boundaries(lines)])]


def read(text: str) -> FormCopy:
    return copies(text)[0]


def strategic(answers: str) -> FormCopy:
    return read(HEAD + "【战略客户】S001 国家电网有限公司\n" + answers + "\n【填报结束】")


@pytest.mark.parametrize("value", ["", "无", "暂无", "没有", "无。", "/", "-", "—", "——", "N/A", "NA",
                                   "nil", "None", "NONE.", "－", "／", "无."])
def test_nothing_to_report_values_are_null(value: str) -> None:
    # Every nothing-to-report spelling gives null (any case, optional final stop, full width).
    copy = strategic(f"1. 执行情况：{value}\n9. 其他：{value}")
    assert copy.strategic[0].items["1"] is None and copy.strategic[0].items["9"] is None


@pytest.mark.parametrize("value, expected", [("无", "无"), ("一般", "一般"), ("重大", "重大"), ("一般。", "一般"), ("", None)])
def test_risk_values(value: str, expected: str | None) -> None:
    # 风险等级 keeps 无/一般/重大 as strings (无 is a value here); empty is null.
    copy = strategic(f"风险等级（无/一般/重大）：{value}")
    assert copy.strategic[0].risk == expected and copy.errors == ()


@pytest.mark.parametrize("value", ["较大", "暂无", "低", "一般风险"])
def test_bad_risk_is_an_error_quoting_the_value(value: str) -> None:
    # Anything else is an error that quotes what was written; the field is null.
    copy = strategic(f"风险等级：{value}")
    assert copy.strategic[0].risk is None
    assert [(p.where, p.message) for p in copy.errors] == [
        ("S001/风险等级", f"风险等级只能填“无”“一般”或“重大”，填写的是“{value}”")]


@pytest.mark.parametrize("value, expected", [
    ("是", True), ("Y", True), ("yes", True), ("YES", True), ("√", True), ("Ｙ", True),
    ("否", False), ("无", False), ("不需要", False), ("N", False), ("no", False), ("×", False), ("否。", False),
    ("", None),
])
def test_needs_hq_values(value: str, expected: bool | None) -> None:
    # 需总部协调 truthy and falsy spellings; empty is null.
    copy = strategic(f"需总部协调（是/否）：{value}")
    assert copy.strategic[0].needs_hq is expected and copy.errors == ()


def test_bad_needs_hq_is_an_error() -> None:
    # 需总部协调 with another answer is an error in the VIP block too.
    copy = read(HEAD + "【VIP客户】V012\n问题或诉求：无\n本单位处理情况：无\n需总部协调（是/否）：再议\n【填报结束】")
    assert copy.vip[0].needs_hq is None
    assert [(p.where, p.message) for p in copy.errors] == [("V012/需总部协调", "需总部协调只能填“是”或“否”，填写的是“再议”")]


def test_answer_on_following_lines_and_inner_breaks() -> None:
    # An answer may start on the line after the label and span lines; blank lines are dropped.
    copy = strategic("1. 执行情况：\n第一行\n\n第二行\n2. 反馈：无")
    assert copy.strategic[0].items["1"] == "第一行\n第二行"


def test_hint_line_is_never_an_answer() -> None:
    # The bot's hint in the urgent block is ignored, even with half-width brackets or text after it.
    assert read(HEAD + "【紧急事项】\n(如有需立即上报的紧急事项请在此填写)\n【填报结束】").urgent_text is None
    after = read(HEAD + "【紧急事项】\n（如有需立即上报的紧急事项请在此填写）门站泄漏\n【填报结束】")
    assert after.urgent_text == "门站泄漏"


def test_urgent_answer_on_marker_line() -> None:
    # Text written on the 【紧急事项】 line itself is the urgent answer.
    assert read(HEAD + "【紧急事项】客户停气\n【填报结束】").urgent_text == "客户停气"


def test_has_answers_definition() -> None:
    # 无 and invalid values count as answers; prefilled header lines and hints do not.
    blank = render_form(token="KCR-202611-GD-3F9A", unit_code="GD", unit_name="广东分公司", period="2026-11",
                        strategic=[("S001", "国家电网")], vip=[])
    assert not read(blank).has_answers
    assert read(blank.replace("9. 其他重要事项：", "9. 其他重要事项：无")).has_answers
    assert read(blank.replace("风险等级（无/一般/重大）：", "风险等级（无/一般/重大）：很高")).has_answers
    assert read(blank.replace("填报人：", "填报人：李明")).has_answers


def test_empty_copy_warns() -> None:
    # A copy without any answer carries the empty-form warning.
    copy = read("【重点客户月报填报单】\n报告编号：KCR-202611-GD-3F9A\n【战略客户】S001\n1. 执行：\n【填报结束】")
    assert ("", "填报单为空：各栏均未填写") in [(p.where, p.message) for p in copy.warnings]


def test_missing_customer_code_is_an_error() -> None:
    # A block marker without an S/V code is an error and the block is skipped.
    copy = read(HEAD + "【战略客户】国家电网\n1. 执行：无\n【VIP客户】S012\n问题或诉求：无\n【填报结束】")
    assert copy.strategic == () and copy.vip == ()
    assert [p.where for p in copy.errors] == ["【战略客户】", "S012"]


def test_duplicate_block_with_different_content_is_an_error() -> None:
    # The same customer twice with different answers is an error; identical copies are merged.
    twice = HEAD + "【战略客户】S001\n1. 执行：好\n【战略客户】S001\n1. 执行：差\n【填报结束】"
    assert [p.where for p in read(twice).errors] == ["S001"]
    same = HEAD + "【战略客户】S001\n1. 执行：好\n【战略客户】S001\n1. 执行：好\n【填报结束】"
    assert len(read(same).strategic) == 1 and read(same).errors == ()


def test_text_outside_any_field_is_warned() -> None:
    # Text between the block marker and the first label is not silently dropped.
    copy = strategic("以下为本月情况\n1. 执行：好")
    assert ("S001", "“以下为本月情况”不在任何栏目下，已忽略") in [(p.where, p.message) for p in copy.warnings]


def test_missing_label_is_warned() -> None:
    # A deleted item label is reported as a warning and the item is null.
    copy = strategic("1. 执行：好\n风险等级：无\n需总部协调：否")
    messages = [p.message for p in copy.warnings]
    assert "未找到第2项“对全国性产品或服务的反馈意见与建议”一栏，按未填写处理" in messages
    assert copy.strategic[0].items["2"] is None


def test_copy_without_end_marker_stops_at_quote_separator() -> None:
    # A copy whose 【填报结束】 was deleted ends at the quote separator, not in the original.
    text = HEAD + "【紧急事项】\n无\n\n发自我的iPhone\n\n-----邮件原件-----\n发件人: x\n发送时间: y\n\n正文"
    copy = read(text)
    assert copy.urgent_text is None and copy.has_answers
    assert copy.text.endswith("【紧急事项】\n无")


def test_two_copies_are_found_in_order() -> None:
    # A filled copy above and the quoted blank request below are two copies.
    blank = render_form(token="KCR-202611-GD-3F9A", unit_code="GD", unit_name="广东分公司", period="2026-11",
                        strategic=[("S001", "国家电网")], vip=[])
    filled = blank.replace("填报人：", "填报人：李明")
    found = copies(filled + "\n-----邮件原件-----\n发件人: a\n发送时间: b\n\n" + "\n".join("> " + x for x in blank.split("\n")))
    assert [c.has_answers for c in found] == [True, False]


def test_instruction_line_with_extra_text_warns() -> None:
    # Words added to the 说明 line are not an answer to anything: warned, not lost.
    text = HEAD + "说明：请在各项冒号后或下一行直接填写，可在回复的引用原文中直接填写；无事项请填“无”；请勿删除【】标记行和报告编号。\n本月无变化\n【填报结束】"
    assert any("本月无变化" in p.message for p in read(text).warnings)


def test_extra_line_after_a_choice_is_warned_not_an_error() -> None:
    # "是" followed by an added note line keeps 是 and warns about the note.
    copy = strategic("需总部协调（是/否）：是\n备注：请尽快")
    assert copy.strategic[0].needs_hq is True and copy.errors == ()
    assert ("S001/需总部协调", "“备注：请尽快”不在任何栏目下，已忽略") in [(p.where, p.message) for p in copy.warnings]
