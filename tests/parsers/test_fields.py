"""Label recognition and the label chain (parsers.fields)."""

from __future__ import annotations

import pytest

from parsers.fields import candidates, choose_labels, dice, read_fields, split_label, split_number
from parsers.form import STRATEGIC_SPECS


@pytest.mark.parametrize("line, expected", [
    ("1. 执行情况：已执行", ("1. 执行情况", "已执行")),
    ("风险等级（无/一般/重大）: 一般", ("风险等级（无/一般/重大）", "一般")),
    ("备注：时间：11月5日", ("备注", "时间：11月5日")),
    ("需总部协调（是/否）\t是", ("需总部协调（是/否）", "是")),
    ("1.\t执行情况：已执行", ("1. 执行情况", "已执行")),
    ("没有冒号的一行", None),
    ("这是一句很长很长很长的说明文字，长到不可能是任何一个栏目的标签，写了四十多个字以后才出现冒号：内容", None),
])
def test_split_label_at_first_colon_or_cell_tab(line: str, expected: tuple[str, str] | None) -> None:
    # A label ends at its first colon (full or half width) or at a table-cell tab.
    assert split_label(line) == expected


@pytest.mark.parametrize("label, number, rest", [
    ("1. 执行情况", 1, "执行情况"),
    ("1．执行情况", 1, "执行情况"),
    ("1、执行情况", 1, "执行情况"),
    ("(1) 执行情况", 1, "执行情况"),
    ("（1）执行情况", 1, "执行情况"),
    ("①执行情况", 1, "执行情况"),
    ("⑨其他", 9, "其他"),
    ("1) 执行情况", 1, "执行情况"),
    ("１．执行情况", 1, "执行情况"),
    ("1.5万方", None, "1.5万方"),
    ("2026年计划", None, "2026年计划"),
    ("10月情况", None, "10月情况"),
])
def test_item_numbering_styles(label: str, number: int | None, rest: str) -> None:
    # Every FORM.md numbering style is read; decimals and years are not numbering.
    assert split_number(label) == (number, rest)


def test_dice_similarity() -> None:
    # Shared character bigrams measure how close an edited label is to the official one.
    assert dice("跟踪进展", "来访或拜访协商事项的跟踪进展") > 0
    assert dice("方案B", "对全国性产品或服务的反馈意见与建议") == 0
    assert dice("其他重要事项", "其他重要事项") == 1.0


def _answers(text: str) -> dict[str, list[str]]:
    return read_fields(text.split("\n"), STRATEGIC_SPECS, frozenset())[0]


def test_numbered_list_restarting_inside_an_answer_stays_text() -> None:
    # "1. …：" after field 4 cannot be field 1 again; it is field 4's text.
    got = _answers("4. 合作诉求：\n1. 协调气量：200万方\n2. 出面商谈：长协价格\n5. 合同：无")
    assert got["4"] == ["1. 协调气量：200万方", "2. 出面商谈：长协价格"]
    assert got["5"] == ["无"]


def test_list_number_matching_next_field_loses_to_the_real_label() -> None:
    # "2. 方案B：…" inside item 1 loses to the real "2. …反馈意见…：" label further down.
    got = _answers("1. 执行情况：\n1. 方案A：完成\n2. 方案B：推进中\n2. 对全国性产品或服务的反馈意见与建议：无")
    assert got["1"] == ["1. 方案A：完成", "2. 方案B：推进中"]
    assert got["2"] == ["无"]


def test_similar_list_item_loses_to_the_better_matching_label() -> None:
    # "5. 合同续签：…" resembles label 5 a little; the official label 5 resembles it fully and wins.
    got = _answers("4. 诉求：\n5. 合同续签：请支持\n5. 合同签订、执行方面出现的重大问题、风险或隐患：无")
    assert got["4"] == ["5. 合同续签：请支持"]
    assert got["5"] == ["无"]


def test_weak_label_is_used_when_nothing_better_exists() -> None:
    # A label reworded beyond recognition still counts by its number when no rival exists.
    got = _answers("1. 执行：好\n2. 本月其他：无\n3. 拜访：无")
    assert got == {"1": ["好"], "2": ["无"], "3": ["无"]}


def test_keyword_fields_and_unnumbered_official_labels() -> None:
    # 风险等级/需总部协调 are found by their words; an un-numbered official label still counts.
    got = _answers("面临的重大经营或财务风险：无\n风险：一般\n是否需要总部协调：否")
    assert got == {"7": ["无"], "risk": ["一般"], "hq": ["否"]}


def test_one_line_never_gives_two_labels() -> None:
    # A line that could be label 4 and the HQ field is used for one of them only.
    found = candidates(["4. 需总部协调的合作诉求：x"], STRATEGIC_SPECS)
    assert len({c.order for c in found}) == 2
    assert len(choose_labels(found, len(STRATEGIC_SPECS))) == 1
