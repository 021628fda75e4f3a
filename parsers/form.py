"""Reading the 重点客户月报填报单 (FORM.md) out of body lines.

`find_copies` locates every copy of the form (a reply usually holds the
filled copy and the quoted request, reminder chains hold more); `read_copy`
turns one copy into header fields, customer blocks, errors and warnings.
Which copy wins is the caller's decision (`message.py`): the topmost copy
with any answer.  Reading is two steps: the copy's lines become `Section`s
(each field's answer lines, found by `fields.read_fields`), then
`build_copy` validates the answers into blocks.  `xlsxform.py` makes the
same `Section`s from workbook cells, so a returned workbook is judged by
exactly the rules a mail body is.  A copy runs from its title marker to 【填报结束】, or,
when a unit deleted that line, to the next title marker, quote separator
or signature — never into the quoted original.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from parsers import formtext as ft
from parsers.fields import FieldSpec, normalise_hint, read_fields, without_hints
from parsers.model import Problem, StrategicBlock, VipBlock
from parsers.quotes import Line, is_mobile_signature

_MARKER = re.compile(
    r"^[【\[［〔]\s*(重点客户月报填报[单表]?|战略客户|vip\s*客户|紧急事项|填报结束|满意度调查|推广反馈)\s*[】\]］〕]"
    r"\s*[:：]?\s*(.*)$",
    re.I,
)
_OPENERS = frozenset("【[［〔")
_KIND = {"战略客户": "S", "vip客户": "V", "紧急事项": "urgent", "填报结束": "end",
         "满意度调查": "other", "推广反馈": "other"}
_CODE = re.compile(r"^([SV])\s*(\d{1,6})(?!\d)", re.I)
_NOTHING = frozenset({"", "无", "暂无", "没有", "/", "-", "—", "——", "n/a", "na", "nil", "none"})
_RISKS = frozenset({"无", "一般", "重大"})
_YES = frozenset({"是", "y", "yes", "√"})
_NO = frozenset({"否", "无", "不需要", "n", "no", "×"})
_FINAL_STOP = "。．."
_HINTS = frozenset(normalise_hint(h) for h in ft.HINT_LINES)
_INSTRUCTIONS = re.sub(r"\s+", "", ft.INSTRUCTIONS)

HEADER_SPECS = (
    FieldSpec("token", ft.LABEL_TOKEN, keywords=("编号",)),
    FieldSpec("unit", ft.LABEL_UNIT, keywords=("单位",)),
    FieldSpec("period", ft.LABEL_PERIOD, keywords=("报告期", "期间")),
    FieldSpec("name", ft.LABEL_NAME, keywords=("填报人", "姓名")),
    FieldSpec("phone", ft.LABEL_PHONE, keywords=("电话", "手机", "联系方式")),
    FieldSpec("note", ft.LABEL_NOTE, keywords=("说明",)),
)
STRATEGIC_SPECS = (
    *(FieldSpec(str(n), label, number=n) for n, label in ft.CATEGORY_LABELS.items()),
    FieldSpec("risk", ft.LABEL_RISK, keywords=("风险等级",), exact=("风险", "风险级别", "风险程度")),
    FieldSpec("hq", ft.LABEL_HQ, keywords=("总部协调",)),
)
VIP_SPECS = (
    FieldSpec("issue", ft.LABEL_ISSUE, keywords=("问题", "诉求")),
    FieldSpec("handling", ft.LABEL_HANDLING, keywords=("处理",)),
    FieldSpec("hq", ft.LABEL_HQ, keywords=("总部协调",)),
)


@dataclass(frozen=True)
class Section:
    """One part of a form copy and its answers, however it was read.

    `kind` is "header", "S", "V" or "urgent"; `rest` is what follows the
    【…】 marker (customer code and name); `answers` maps a field key to its
    answer lines, only for fields whose label was found (the urgent block
    has the single key "urgent"); `preamble` holds non-blank lines before
    the first label, which are ignored with a warning.
    """

    kind: str
    rest: str
    answers: Mapping[str, list[str]]
    preamble: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class FormCopy:
    """One copy of the form as read; `has_answers` follows FORM.md's definition."""

    start: int
    end: int
    token_text: str | None
    unit_text: str | None
    period_text: str | None
    reporter_name: str | None
    reporter_phone: str | None
    strategic: tuple[StrategicBlock, ...]
    vip: tuple[VipBlock, ...]
    urgent_text: str | None
    has_answers: bool
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    text: str


def marker_of(text: str) -> tuple[str, str] | None:
    """(kind, rest of line) for a 【…】 marker line: form, S, V, urgent, end, or another form's title ("other")."""
    match = _MARKER.match(text)
    if match is None:
        return None
    name = re.sub(r"\s+", "", match.group(1)).lower()
    return _KIND.get(name, "form"), match.group(2).strip()


def find_copies(lines: Sequence[Line], separators: Sequence[int],
                is_title: Callable[[str, str], bool] = lambda kind, _text: kind == "form") -> list[tuple[int, int]]:
    """(start, end) line ranges of every form copy, topmost first.

    A copy starts at a title line (`is_title(kind, text)`: the monthly form's by default; the survey's reader
    passes its own) and ends at 【填报结束】 — or, deleted, at the next form title, quote separator or signature.
    """
    stops = set(separators)
    copies: list[tuple[int, int]] = []
    start: int | None = None
    for i, line in enumerate(lines):
        text = line.text
        mark = marker_of(text) if text[:1] in _OPENERS else None
        kind = mark[0] if mark else None
        if start is not None and (i in stops or kind in ("form", "other") or is_mobile_signature(text)):
            copies.append((start, i))
            start = None
        if kind is not None and is_title(kind, text):
            start = i
        elif kind == "end" and start is not None:
            copies.append((start, i + 1))
            start = None
    if start is not None:
        copies.append((start, len(lines)))
    return copies


def clip(text: str, limit: int = 60) -> str:
    flat = text.replace("\n", " ")
    return flat if len(flat) <= limit else flat[:limit] + "…"


def plain(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().rstrip(_FINAL_STOP).strip().lower()


def free_text(answer: list[str] | None) -> str | None:
    """An answer, or None when it says there is nothing to report."""
    if not answer:
        return None
    text = "\n".join(answer).strip()
    if plain(text) in _NOTHING:
        return None
    return text


class Reader:
    def __init__(self) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.answered = False

    def take(self, section: Section, specs: Sequence[FieldSpec], where: str) -> Mapping[str, list[str]]:
        """A section's answers, after warning about missing labels and stray lines."""
        answers, preamble = section.answers, section.preamble
        if any(answers.get(s.key) for s in specs if s.key not in _PREFILLED):
            self.answered = True
        if preamble:
            self.warnings.append(Problem(where, f"“{clip(' '.join(preamble))}”不在任何栏目下，已忽略"))
        if not answers:
            if not preamble and specs is not HEADER_SPECS:
                self.warnings.append(Problem(where, "没有找到任何栏目，按未填写处理"))
            return answers
        for spec in specs:
            # The prefilled header lines are the bot's; a unit may drop them.
            if spec.key not in answers and spec.key not in _PREFILLED:
                label = f"第{spec.number}项“{spec.canonical}”" if spec.number else f"“{spec.canonical}”"
                self.warnings.append(Problem(where, f"未找到{label}一栏，按未填写处理"))
        return answers

    def choice(self, answer: list[str] | None, where: str, label: str,
                read: Callable[[str], object | None]) -> object | None:
        """A one-word field: the whole answer, or its first line when the rest is extra text."""
        text = "\n".join(answer or []).strip()
        if not text:
            return None
        value = read(text)
        if value is None and answer and len(answer) > 1:
            value = read(answer[0])
            if value is not None:
                extra = " ".join(answer[1:])
                self.warnings.append(Problem(f"{where}/{label}", f"“{clip(extra)}”不在任何栏目下，已忽略"))
        return value

    def risk(self, answer: list[str] | None, where: str) -> str | None:
        value = self.choice(answer, where, ft.LABEL_RISK, _risk_value)
        if value is None and answer:
            self.errors.append(Problem(f"{where}/{ft.LABEL_RISK}", "风险等级只能填“无”“一般”或“重大”，"
                                       f"填写的是“{clip(chr(10).join(answer))}”"))
        return value if isinstance(value, str) else None

    def needs_hq(self, answer: list[str] | None, where: str) -> bool | None:
        value = self.choice(answer, where, ft.LABEL_HQ, yes_no)
        if value is None and answer:
            self.errors.append(Problem(f"{where}/{ft.LABEL_HQ}", "需总部协调只能填“是”或“否”，"
                                       f"填写的是“{clip(chr(10).join(answer))}”"))
        return value if isinstance(value, bool) else None


def _risk_value(text: str) -> str | None:
    value = unicodedata.normalize("NFKC", text).strip().rstrip(_FINAL_STOP).strip()
    return value if value in _RISKS else None


def yes_no(text: str) -> bool | None:
    """是/否 and their variants (FORM.md's 需总部协调); None for anything else."""
    value = plain(text)
    return True if value in _YES else False if value in _NO else None


_PREFILLED = frozenset({"token", "unit", "period", "note"})
SPECS: dict[str, tuple[FieldSpec, ...]] = {"header": HEADER_SPECS, "S": STRATEGIC_SPECS, "V": VIP_SPECS}


def _segments(lines: Sequence[str]) -> list[tuple[str, str, list[str]]]:
    """Split a copy into (kind, marker rest, body lines), the header first."""
    segments: list[tuple[str, str, list[str]]] = [("header", "", [])]
    for text in lines[1:]:
        mark = marker_of(text) if text[:1] in _OPENERS else None
        if mark is not None and mark[0] in ("end", "other"):
            break
        if mark is not None and mark[0] != "form":
            segments.append((mark[0], mark[1], []))
        else:
            segments[-1][2].append(text)
    return segments


def _customer(reader: Reader, kind: str, rest: str) -> str | None:
    mark = ft.MARK_STRATEGIC if kind == "S" else ft.MARK_VIP
    match = _CODE.match(unicodedata.normalize("NFKC", rest))
    if match is None:
        reader.errors.append(Problem(f"【{mark}】", f"【{mark}】后应写客户编号（{kind}加数字），写的是“{clip(rest) or '（空）'}”"))
        return None
    code = f"{match.group(1).upper()}{match.group(2)}"
    if code[0] != kind:
        reader.errors.append(Problem(code, f"【{mark}】的客户编号应以{kind}开头，写的是“{code}”"))
        return None
    return code


def text_sections(texts: Sequence[str]) -> list[Section]:
    """A copy's lines (title first) → its sections, labels found by `read_fields`."""
    sections: list[Section] = []
    for kind, rest, body in _segments(texts):
        if kind == "urgent":
            sections.append(Section(kind, rest, {"urgent": without_hints([rest, *body], _HINTS)}))
        elif kind in SPECS:
            answers, preamble = read_fields(body, SPECS[kind], _HINTS)
            sections.append(Section(kind, rest, answers, tuple(preamble)))
    return sections


def read_copy(lines: Sequence[Line], start: int, end: int) -> FormCopy:
    """Read one copy of the form (lines[start:end], first line is the title)."""
    texts = [ln.text for ln in lines[start:end]]
    while texts and not texts[-1]:
        texts.pop()
    return build_copy(text_sections(texts), start=start, end=end, text="\n".join(texts))


def build_copy(sections: Sequence[Section], *, start: int, end: int, text: str) -> FormCopy:
    """Validate a copy's sections into header fields, blocks, errors and warnings."""
    reader = Reader()
    head: Mapping[str, list[str]] = {}
    strategic: list[StrategicBlock] = []
    vip: list[VipBlock] = []
    seen: dict[str, object] = {}
    urgent: str | None = None
    for section in sections:
        kind, rest = section.kind, section.rest
        if kind == "header":
            head = reader.take(section, HEADER_SPECS, "")
            note = re.sub(r"\s+", "", "".join(head.get("note", []))).replace(_INSTRUCTIONS, "")
            if note:
                reader.warnings.append(Problem("", f"说明栏中的“{clip(note)}”不属于任何栏目，已忽略"))
            continue
        if kind == "urgent":
            answer = section.answers.get("urgent", [])
            if answer:
                reader.answered = True
                urgent = free_text(answer) if urgent is None else urgent
            continue
        code = _customer(reader, kind, rest)
        where = code or f"【{ft.MARK_STRATEGIC if kind == 'S' else ft.MARK_VIP}】"
        if kind == "S":
            got = reader.take(section, STRATEGIC_SPECS, where)
            block: StrategicBlock | VipBlock = StrategicBlock(
                customer=code or "",
                items={str(n): free_text(got.get(str(n))) for n in range(1, 10)},
                risk=reader.risk(got.get("risk"), where),
                needs_hq=reader.needs_hq(got.get("hq"), where),
            )
        else:
            got = reader.take(section, VIP_SPECS, where)
            block = VipBlock(
                customer=code or "",
                issue=free_text(got.get("issue")),
                handling=free_text(got.get("handling")),
                needs_hq=reader.needs_hq(got.get("hq"), where),
            )
        if code is None:
            continue
        if code in seen:
            if seen[code] != block:
                reader.errors.append(Problem(code, f"客户{code}的填报块出现了不止一次且内容不同，请只保留一个"))
            continue
        seen[code] = block
        if isinstance(block, StrategicBlock):
            strategic.append(block)
        else:
            vip.append(block)
    if not reader.answered:
        reader.warnings.append(Problem("", "填报单为空：各栏均未填写"))
    return FormCopy(
        start=start, end=end,
        token_text=free_text(head.get("token")),
        unit_text=free_text(head.get("unit")),
        period_text=free_text(head.get("period")),
        reporter_name=free_text(head.get("name")),
        reporter_phone=free_text(head.get("phone")),
        strategic=tuple(strategic), vip=tuple(vip), urgent_text=urgent,
        has_answers=reader.answered,
        errors=tuple(reader.errors), warnings=tuple(reader.warnings),
        text=text,
    )
