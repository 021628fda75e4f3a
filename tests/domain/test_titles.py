"""A 诉求's one-line title (domain.titles)."""

from __future__ import annotations

import pytest

from mailbot.domain.titles import request_title


@pytest.mark.parametrize("text, subject, title", [
    # urgent mail: its subject after the marker, without reply prefixes or our numbers
    ("总部领导：\n今晨接通知……\n\n马丽\n陕西分公司", "【紧急】延长石油榆林项目供气中断风险", "延长石油榆林项目供气中断风险"),
    ("……", "回复：紧急：管线泄漏 [SQ-2026-0003]", "管线泄漏"),
    # a subject too thin to say anything: the text decides
    ("S005 客户通知可能中断供气三天，请总部协调。", "【紧急】", "S005 客户通知可能中断供气三天，请总部协调。"),
    # the first sentence, without the greeting line above or a greeting leading the line
    ("总部领导：\n今晨接陕西延长石油通知，其榆林项目可能中断供气三天。请总部尽快协调。", None,
     "今晨接陕西延长石油通知，其榆林项目可能中断供气三天。"),
    ("王处长：客户希望总部出面协调冬季保供气量。另：合同价格待定。", None, "客户希望总部出面协调冬季保供气量。"),
    ("客户希望总部出面协调2027年冬季保供气量，增加调峰量约3000万方，并请总部与上游沟通保供方案和价格联动机制", None,
     "客户希望总部出面协调2027年冬季保供气量，增加调峰量约3000万方，并请总部…"),  # 40 characters
    ("", None, "（无内容）"),
])
def test_a_request_reads_as_one_line(text: str, subject: str | None, title: str) -> None:
    assert request_title(text, subject) == title
