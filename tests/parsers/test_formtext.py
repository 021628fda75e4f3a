"""The blank form writer (parsers.formtext) and its round trip through the parser."""

from __future__ import annotations

import pytest

from parsers import CATEGORY_LABELS, parse_message, render_form
from parsers.formtext import period_words

EXPECTED = """【重点客户月报填报单】
报告编号：KCR-202611-GD-3F9A
所属单位：广东分公司（GD）
报告期：2026年11月
填报人：
联系电话：

说明：请在各项冒号后或下一行直接填写，可在回复的引用原文中直接填写；无事项请填“无”；请勿删除【】标记行和报告编号。

【战略客户】S001 国家电网有限公司
1. 全国性天然气产品及服务方案执行情况：
2. 对全国性产品或服务的反馈意见与建议：
3. 来访或拜访协商事项的跟踪进展：
4. 需总部支持的合作诉求或需总部出面的合作机会：
5. 合同签订、执行方面出现的重大问题、风险或隐患：
6. 与我方购销合作中存在的重大纠纷或隐患：
7. 面临的重大经营或财务风险：
8. 地方政府层面可能造成影响的重要情况：
9. 其他重要事项：
风险等级（无/一般/重大）：
需总部协调（是/否）：

【VIP客户】V012 深圳市燃气集团股份有限公司
问题或诉求：
本单位处理情况：
需总部协调（是/否）：

【紧急事项】
（如有需立即上报的紧急事项请在此填写）

【填报结束】
"""


def _form(**kw: object) -> str:
    args: dict[str, object] = dict(token="KCR-202611-GD-3F9A", unit_code="GD", unit_name="广东分公司", period="2026-11",
                                   strategic=[("S001", "国家电网有限公司")], vip=[("V012", "深圳市燃气集团股份有限公司")])
    args.update(kw)
    return render_form(**args)  # type: ignore[arg-type]


def test_render_form_matches_form_md() -> None:
    # The blank form is exactly the FORM.md text.
    assert _form() == EXPECTED


def test_category_labels_are_the_nine_items() -> None:
    # CATEGORY_LABELS maps 1..9 to the §8.1.1 labels used in the form.
    assert list(CATEGORY_LABELS) == list(range(1, 10))
    assert all(f"{n}. {label}：" in EXPECTED for n, label in CATEGORY_LABELS.items())


def test_blocks_repeat_per_customer_and_may_be_absent() -> None:
    # One block per customer; a unit without VIP customers gets no VIP block.
    text = _form(strategic=[("S001", "甲"), ("S007", "乙")], vip=[])
    assert text.count("【战略客户】") == 2 and "【VIP客户】" not in text and text.count("9. 其他重要事项：") == 2


def test_period_words() -> None:
    # "2026-03" is written 2026年3月; malformed periods are refused.
    assert period_words("2026-03") == "2026年3月"
    for bad in ("2026-13", "202611", "2026-1"):
        with pytest.raises(ValueError):
            period_words(bad)


def test_round_trip_blank_form_is_empty_monthly_report() -> None:
    # A message whose body is the rendered form parses as an empty monthly report.
    raw = ("From: 李明 <liming@gd.example.cn>\nTo: kcr@hq.example.cn\nSubject: =?utf-8?B?5pyI5oql?=\n"
           "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + _form()).encode()
    parsed = parse_message(raw)
    assert parsed.kind == "monthly_report" and not parsed.has_answers
    assert parsed.token == "KCR-202611-GD-3F9A" and parsed.unit == "GD" and parsed.period == "2026-11"
    assert all(v is None for v in parsed.strategic[0].items.values())
    assert parsed.strategic[0].risk is None and parsed.vip[0].needs_hq is None and parsed.urgent_text is None
    assert [(w.where, w.message) for w in parsed.warnings] == [("", "填报单为空：各栏均未填写")]
    assert parsed.errors == ()
    assert parsed.form_text == EXPECTED.strip()
