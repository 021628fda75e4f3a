"""The words of the monthly report form (FORM.md), and the blank form itself.

This is the one place that spells the form's markers, labels and hint lines:
`form_rows` lays the form out once; `render_form` writes those rows as the
text in the request mail and `mailbot/xlsxform.py` as the attached
workbook, and `form.py` reads replies by the same constants, so writers
and reader cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

FORM_TITLE = "重点客户月报填报单"
MARK_STRATEGIC = "战略客户"
MARK_VIP = "VIP客户"
MARK_URGENT = "紧急事项"
MARK_END = "填报结束"

LABEL_TOKEN = "报告编号"
LABEL_UNIT = "所属单位"
LABEL_PERIOD = "报告期"
LABEL_NAME = "填报人"
LABEL_PHONE = "联系电话"
LABEL_NOTE = "说明"

INSTRUCTIONS = (
    "请在各项冒号后或下一行直接填写，可在回复的引用原文中直接填写；"
    "无事项请填“无”；请勿删除【】标记行和报告编号。"
)

# §8.1.1: the nine matters a unit reports for each strategic customer.
CATEGORY_LABELS: dict[int, str] = {
    1: "全国性天然气产品及服务方案执行情况",
    2: "对全国性产品或服务的反馈意见与建议",
    3: "来访或拜访协商事项的跟踪进展",
    4: "需总部支持的合作诉求或需总部出面的合作机会",
    5: "合同签订、执行方面出现的重大问题、风险或隐患",
    6: "与我方购销合作中存在的重大纠纷或隐患",
    7: "面临的重大经营或财务风险",
    8: "地方政府层面可能造成影响的重要情况",
    9: "其他重要事项",
}

LABEL_RISK = "风险等级"
RISK_OPTIONS = "（无/一般/重大）"
LABEL_HQ = "需总部协调"
HQ_OPTIONS = "（是/否）"
LABEL_ISSUE = "问题或诉求"
LABEL_HANDLING = "本单位处理情况"

URGENT_HINT = "（如有需立即上报的紧急事项请在此填写）"

# Lines the bot itself writes inside the form that are never answers.
HINT_LINES: tuple[str, ...] = (URGENT_HINT,)

# The workbook's instruction row, above the form's title (so it is never read as part of the form).
WORKBOOK_INSTRUCTIONS = (
    "填写说明：请在右侧白色单元格中填写（单元格内换行：Alt+Enter）；风险等级、需总部协调请从下拉列表选择；"
    "无事项请填“无”；填好后保存，作为附件回复月报邮件即可，无需再在邮件正文中填写。"
)

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


def marker(name: str) -> str:
    """A marker line as the bot writes it, e.g. 【填报结束】."""
    return f"【{name}】"


def period_words(period: str) -> str:
    """"2026-11" → "2026年11月" (the 报告期 line)."""
    match = _PERIOD.match(period)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"period must be yyyy-mm, got {period!r}")
    return f"{match.group(1)}年{int(match.group(2))}月"


def options(parenthesised: str) -> tuple[str, ...]:
    """"（无/一般/重大）" → ("无", "一般", "重大"): the choices a workbook offers in a list."""
    return tuple(parenthesised.strip("（）()").split("/"))


def _block_head(mark: str, code: str, name: str) -> str:
    return f"{marker(mark)}{code} {name}".rstrip()


@dataclass(frozen=True)
class FormRow:
    """One line of the blank form.

    `kind` is "marker" (a 【…】 line), "prefilled" (a label with the bot's
    value), "answer" (a label the unit answers after), "note" (the 说明
    line), "hint" (a bot hint line; in the urgent block the answer follows
    it) or "blank".  `key` names the field as `form.py` does ("token",
    "name", "1"…"9", "risk", "hq", "issue", "handling", "urgent"…).
    """

    kind: str
    text: str
    value: str = ""
    key: str = ""


def form_rows(
    *,
    token: str,
    unit_code: str,
    unit_name: str,
    period: str,
    strategic: Sequence[tuple[str, str]],
    vip: Sequence[tuple[str, str]],
) -> list[FormRow]:
    """The blank form as rows, in order; `strategic`/`vip` are (code, name) pairs."""
    rows = [
        FormRow("marker", marker(FORM_TITLE)),
        FormRow("prefilled", LABEL_TOKEN, token, "token"),
        FormRow("prefilled", LABEL_UNIT, f"{unit_name}（{unit_code}）", "unit"),
        FormRow("prefilled", LABEL_PERIOD, period_words(period), "period"),
        FormRow("answer", LABEL_NAME, key="name"),
        FormRow("answer", LABEL_PHONE, key="phone"),
        FormRow("blank", ""),
        FormRow("note", LABEL_NOTE, INSTRUCTIONS, "note"),
        FormRow("blank", ""),
    ]
    for code, name in strategic:
        rows.append(FormRow("marker", _block_head(MARK_STRATEGIC, code, name), key=code))
        rows.extend(FormRow("answer", f"{n}. {label}", key=str(n)) for n, label in CATEGORY_LABELS.items())
        rows.append(FormRow("answer", f"{LABEL_RISK}{RISK_OPTIONS}", key="risk"))
        rows.append(FormRow("answer", f"{LABEL_HQ}{HQ_OPTIONS}", key="hq"))
        rows.append(FormRow("blank", ""))
    for code, name in vip:
        rows.append(FormRow("marker", _block_head(MARK_VIP, code, name), key=code))
        rows.append(FormRow("answer", LABEL_ISSUE, key="issue"))
        rows.append(FormRow("answer", LABEL_HANDLING, key="handling"))
        rows.append(FormRow("answer", f"{LABEL_HQ}{HQ_OPTIONS}", key="hq"))
        rows.append(FormRow("blank", ""))
    rows.extend([FormRow("marker", marker(MARK_URGENT)), FormRow("hint", URGENT_HINT, key="urgent"),
                 FormRow("blank", ""), FormRow("marker", marker(MARK_END))])
    return rows


def render_form(
    *,
    token: str,
    unit_code: str,
    unit_name: str,
    period: str,
    strategic: Sequence[tuple[str, str]],
    vip: Sequence[tuple[str, str]],
) -> str:
    """The blank form exactly as FORM.md shows it; no answer is ever filled in.

    `strategic` and `vip` are (customer code, customer name) pairs in the
    order the blocks should appear.
    """
    lines = []
    for row in form_rows(token=token, unit_code=unit_code, unit_name=unit_name, period=period,
                         strategic=strategic, vip=vip):
        lines.append(f"{row.text}：{row.value}" if row.kind in ("prefilled", "answer", "note") else row.text)
    return "\n".join(lines) + "\n"
