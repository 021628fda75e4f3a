"""One Chinese term for one thing (../shared/GLOSSARY.md): no template writes a listed wrong synonym.

The list is GLOSSARY.md's "do not write" column, kept here because the shared folder is not part of a clone.
What only the operator reads (operator_*) may name mailbot; nothing a user reads may.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.mailflow import PROJECT

TEMPLATES = sorted(p for p in (PROJECT / "templates").rglob("*") if p.suffix in (".j2", ".css", ".html"))
WRONG = [
    "公司总部", "集团公司", "子公司", "服务单位", "相关单位", "大客户", "VIP 客户", "重要客户", "填报员", "单位领导",
    "总部负责人", "客户经理", "处理人", "月报通知", "表单", "催报", "月度报告", "简报", "工单", "问题单", "急件",
    "需协调", "上报审批", "走访", "行动项", "客户资料", "问卷",
]
PATTERNS = [
    (re.compile(r"(?<!单位|部门)负责人"), "负责人 alone (单位负责人 / 部门负责人)"),
    (re.compile(r"(?<!度)报送通知"), "报送通知 (月度报送通知)"),
    (re.compile(r"\bmailbot\b", re.I), "mailbot in what users read"),
]


def _visible(path: Path) -> str:
    """The template without Jinja comments (notes for us, not text for readers)."""
    return re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(PROJECT)))
def test_no_template_writes_a_wrong_synonym(path: Path) -> None:
    text = _visible(path)
    found = [w for w in WRONG if w in text]
    for pattern, what in PATTERNS:
        if pattern.search(text) and not (what.startswith("mailbot") and path.name.startswith("operator_")):
            found.append(what)
    assert found == [], f"{path.name}: {found}"
