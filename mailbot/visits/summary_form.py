"""The visit summary form (拜访/来访纪要填报单) and the follow-up progress form: written and read.

After a visit the bot mails the responsible unit and the HQ owner a small
form in the FORM.md style; whoever replies fills it in (above the quote or
inside it, in any client) and the bot reads it back:

    【拜访纪要填报单】
    拜访编号：VIS-2026-0001
    客户：S001 国家电网有限公司
    主题：2027年度天然气购销合作洽谈
    时间：2026年11月20日 09:30—11:30

    说明：……

    【会谈纪要】
    （会谈的主要内容，可分条填写）

    【达成事项】
    （双方达成一致的事项；没有请填“无”）

    【后续事项1】
    事项：
    责任人：
    完成时限：
    …（three blocks; a block may be copied for more）

    【填报结束】

Each follow-up action is chased until reported done; a chase mail carries the
progress form (【后续事项进展】 with 进展情况 and 是否完成). The FORM.md reading
rules carry over: quote prefixes and full-width/half-width brackets and colons
are tolerated, the bot's own parenthesised hint lines never count as answers,
the nothing-to-report words read as "nothing", the topmost copy with any
answer wins over blank quoted copies, and every mistake is a `Problem` whose
message quotes what was written. The owner and the due date are read as
text; whether the owner is someone the directory knows is the service's
question. Pure: no clock (the visit date is passed in), no database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from parsers import Problem
from parsers.quotes import Line, is_mobile_signature, split_lines

SUMMARY_TITLE = {"outgoing": "拜访纪要填报单", "incoming": "来访纪要填报单"}
PROGRESS_TITLE = "后续事项进展"
END = "填报结束"
BLANK_ACTIONS = 3

MINUTES_HINT = "（会谈的主要内容，可分条填写）"
AGREED_HINT = "（双方达成一致的事项；没有请填“无”）"
SUMMARY_NOTE = ("说明：请在【】标记行下方或冒号后直接填写，可在回复的引用原文中填写；无事项请填“无”；"
                "请勿删除【】标记行和编号。每项后续事项写明事项、责任人（姓名或邮箱）和完成时限（如2026-12-15），"
                "不够可复制【后续事项】段落增加。")
PROGRESS_NOTE = "说明：请在冒号后填写进展；事项已办结请在“是否完成”后填“是”，系统将停止提醒。"
HINTS = frozenset(re.sub(r"\s+", "", h) for h in (MINUTES_HINT, AGREED_HINT))

_OPEN, _CLOSE = "【[［〔", "】]］〕"
_O, _C = re.escape(_OPEN), re.escape(_CLOSE)
_MARKER = re.compile(rf"^[{_O}]\s*([^{_C}]{{1,20}}?)\s*[{_C}]\s*[:：]?\s*(.*)$")
_NOTHING = frozenset({"", "无", "暂无", "没有", "/", "-", "—", "——", "n/a", "na", "nil", "none"})
_ACTION_LABEL = re.compile(r"^(事项(?:内容)?|内容|责任人|负责人|责任单位|完成时限|完成时间|完成日期|时限|期限|截止(?:日期|时间)?)"
                           r"(?:[（(][^）)]*[）)])?\s*[:：\t]\s*(.*)$")
_FIELD_OF = {"事项": "text", "事项内容": "text", "内容": "text", "责任人": "owner", "负责人": "owner",
             "责任单位": "owner"}
_HEADER_LABEL = re.compile(r"^([^:：\t]{1,12}?)\s*[:：\t]\s*(.*)$")
_PROGRESS_LABEL = re.compile(r"^(事项编号|编号|进展情况|进展|是否完成|是否办结|完成情况)(?:[（(][^）)]*[）)])?\s*[:：\t]\s*(.*)$")
_VISIT_NUMBER = re.compile(r"VIS-\d{4}-\d{4,}")
_FOLLOW_UP_REF = re.compile(r"(VIS-\d{4}-\d{4,})-(\d{1,3})(?!\d)")
_YES = frozenset({"是", "已完成", "完成", "已办结", "办结", "y", "yes", "√"})
_NO = frozenset({"否", "未完成", "没有", "n", "no", "×"})
_FULL_DATE = re.compile(r"^(\d{4})\s*(?:[-./]|年)\s*(\d{1,2})\s*(?:[-./]|月)\s*(\d{1,2})\s*日?$")
_MONTH_DAY = re.compile(r"^(\d{1,2})\s*(?:[-./]|月)\s*(\d{1,2})\s*日?$")
_FINAL_STOP = "。．."


# --- writing ---------------------------------------------------------------------------


def render_summary_form(*, kind: str, number: str, customer: str, topic: str, when: str) -> str:
    """The blank summary form as it goes into the summary request (plain-text part; HTML shows the same lines)."""
    lines = [f"【{SUMMARY_TITLE[kind]}】", f"{'拜访' if kind == 'outgoing' else '来访'}编号：{number}",
             f"客户：{customer}", f"主题：{topic}", f"时间：{when}", "", SUMMARY_NOTE, "",
             "【会谈纪要】", MINUTES_HINT, "", "【达成事项】", AGREED_HINT, ""]
    for i in range(1, BLANK_ACTIONS + 1):
        lines += [f"【后续事项{i}】", "事项：", "责任人：", "完成时限：", ""]
    lines.append(f"【{END}】")
    return "\n".join(lines) + "\n"


def render_progress_form(ref: str) -> str:
    """The progress form a chase mail carries, for one follow-up action (ref `VIS-2026-0001-2`)."""
    return "\n".join([f"【{PROGRESS_TITLE}】", f"事项编号：{ref}", "", PROGRESS_NOTE, "",
                      "进展情况：", "是否完成（是/否）：", f"【{END}】"]) + "\n"


def follow_up_ref(number: str, index: int) -> str:
    """How people and the forms name the index-th action of a visit: VIS-2026-0001-2."""
    return f"{number}-{index}"


def parse_follow_up_ref(text: str) -> tuple[str, int] | None:
    m = _FOLLOW_UP_REF.search(text)
    return (m.group(1), int(m.group(2))) if m else None


# --- reading: shared ---------------------------------------------------------------------


def _marker(text: str) -> tuple[str, str] | None:
    """(name without spaces, rest of the line) for a 【…】 marker line."""
    if text[:1] not in _OPEN:
        return None
    m = _MARKER.match(text)
    return (re.sub(r"\s+", "", m.group(1)), m.group(2).strip()) if m else None


def _copies(lines: Sequence[Line], is_title: re.Pattern[str]) -> list[tuple[int, int]]:
    """(start, end) of each copy of a form: title marker to 【填报结束】, the next title, or a signature."""
    out: list[tuple[int, int]] = []
    start: int | None = None
    for i, line in enumerate(lines):
        mark = _marker(line.text)
        title = mark is not None and is_title.fullmatch(mark[0]) is not None
        if start is not None and (title or is_mobile_signature(line.text)):
            out.append((start, i))
            start = None
        if title:
            start = i
        elif mark is not None and mark[0] == END and start is not None:
            out.append((start, i + 1))
            start = None
    if start is not None:
        out.append((start, len(lines)))
    return out


def _answer(parts: Sequence[str]) -> str | None:
    """Answer lines → trimmed text with inner line breaks; hint lines dropped; nothing-words → None."""
    kept = [p for p in parts if re.sub(r"\s+", "", p) not in HINTS]
    while kept and not kept[0].strip():
        kept.pop(0)
    while kept and not kept[-1].strip():
        kept.pop()
    text = "\n".join(kept).strip()
    return None if text.rstrip(_FINAL_STOP).strip().lower() in _NOTHING else text


def _written(parts: Sequence[str]) -> bool:
    """Anything at all written (FORM.md: 无 and invalid values count as answers, hints do not)."""
    return any(p.strip() and re.sub(r"\s+", "", p) not in HINTS for p in parts)


def parse_due(text: str, after: date) -> date | None:
    """A due date as people write it: 2026-12-15, 2026/12/15, 2026年12月15日, 12月15日(前); None if unreadable.

    A date without a year is the first such date on or after `after` (the visit day): a follow-up is due
    after the visit, so 1月15日 written at a December visit means next January.
    """
    t = re.sub(r"\s+", "", text).rstrip(_FINAL_STOP)
    t = re.sub(r"(?:之前|以前|前)$", "", t)
    try:
        if m := _FULL_DATE.match(t):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := _MONTH_DAY.match(t):
            d = date(after.year, int(m[1]), int(m[2]))
            return d if d >= after else date(after.year + 1, d.month, d.day)
    except ValueError:
        return None
    return None


def _clip(text: str, limit: int = 40) -> str:
    flat = text.replace("\n", " ")
    return flat if len(flat) <= limit else flat[:limit] + "…"


# --- reading: the summary -----------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One follow-up action as written: `index` counts the filled blocks from 1."""

    index: int
    text: str
    owner: str
    due: date


@dataclass(frozen=True)
class SummaryForm:
    number: str | None           # 拜访编号 as written (None when missing or unreadable)
    minutes: str | None          # 会谈纪要
    agreed: str | None           # 达成事项
    actions: tuple[Action, ...]  # only complete, valid actions
    has_answers: bool
    problems: tuple[Problem, ...]
    text: str                    # the winning copy, for quoting back in an error reply


_SUMMARY_TITLE = re.compile(r"(?:拜访|来访)?纪要填报[单表]?")


def read_summary(body: str, *, visit_day: date) -> SummaryForm | None:
    """The summary form in a reply's text (new part and quotes alike); None when there is no copy at all."""
    lines = split_lines(body)
    copies = [_read_summary_copy(lines[a:b], visit_day) for a, b in _copies(lines, _SUMMARY_TITLE)]
    if not copies:
        return None
    return next((c for c in copies if c.has_answers), copies[0])


def _read_summary_copy(lines: Sequence[Line], visit_day: date) -> SummaryForm:
    sections: list[tuple[str, list[str]]] = [("header", [])]
    for line in lines[1:]:
        mark = _marker(line.text)
        if mark is not None:
            if mark[0] == END:
                break
            sections.append((mark[0], [mark[1]] if mark[1] else []))
        else:
            sections[-1][1].append(line.text)

    number = None
    minutes_parts: list[str] | None = None
    agreed_parts: list[str] | None = None
    blocks: list[list[str]] = []
    for name, parts in sections:
        if name == "header":
            for p in parts:
                m = _HEADER_LABEL.match(p)
                if m and "编号" in m.group(1) and (n := _VISIT_NUMBER.search(m.group(2))):
                    number = n.group(0)
        elif "纪要" in name:
            minutes_parts = (minutes_parts or []) + parts
        elif "达成" in name:
            agreed_parts = (agreed_parts or []) + parts
        elif name.startswith("后续事项") or name.startswith("跟进事项"):
            blocks.append(parts)
    problems: list[Problem] = []
    written = any(_written(p) for p in (minutes_parts or [], agreed_parts or [])) or any(
        _written(v) for b in blocks for v in _action_fields(b).values())
    minutes = _answer(minutes_parts or [])
    agreed = _answer(agreed_parts or [])
    if written and minutes is None:
        problems.append(Problem("会谈纪要", "未填写会谈纪要；请简要写明会谈的主要内容"))
    actions: list[Action] = []
    filled = 0  # problems name a block by its place among the filled ones, as the sender counts them
    for parts in blocks:
        is_filled, a = _read_action(parts, filled + 1, visit_day, problems)
        filled += is_filled
        if a is not None:
            actions.append(a)
    return SummaryForm(number=number, minutes=minutes, agreed=agreed, actions=tuple(actions),
                       has_answers=written, problems=tuple(problems),
                       text="\n".join(ln.text for ln in lines))


def _action_fields(parts: Sequence[str]) -> dict[str, list[str]]:
    """A 【后续事项】 block's answer lines by field (text / owner / due); label words themselves are no answer."""
    fields: dict[str, list[str]] = {}
    current: str | None = None
    loose: list[str] = []
    for p in parts:
        m = _ACTION_LABEL.match(p)
        if m:
            current = _FIELD_OF.get(m.group(1), "due")
            fields.setdefault(current, []).append(m.group(2))
        elif current is not None:
            fields[current].append(p)
        elif p.strip():
            loose.append(p)
    if loose and not any(_written(v) for v in fields.values()):
        # "提供用气计划；李明；12月15日": one line with the three parts, as people type in a hurry.
        bits = re.split(r"[;；]", " ".join(loose))
        fields = {"text": [bits[0]], "owner": [bits[1]], "due": [bits[2]]} if len(bits) == 3 else {"text": loose}
    return fields


def _read_action(parts: Sequence[str], index: int, visit_day: date,
                 problems: list[Problem]) -> tuple[bool, Action | None]:
    """One 【后续事项】 block → (filled at all, the Action or None when wrong — problems say what is wrong)."""
    fields = _action_fields(parts)
    text = _answer(fields.get("text", []))
    owner = _answer(fields.get("owner", []))
    due_text = _answer(fields.get("due", []))
    if text is None and owner is None and due_text is None:
        return False, None
    where = f"后续事项{index}"
    before = len(problems)
    if text is None:
        problems.append(Problem(f"{where}/事项", "写了责任人或完成时限，但没有写事项内容"))
    if owner is None:
        problems.append(Problem(f"{where}/责任人", f"“{_clip(text or '')}”未写责任人（姓名或邮箱）"))
    due = parse_due(due_text, visit_day) if due_text else None
    if due_text is None:
        problems.append(Problem(f"{where}/完成时限", f"“{_clip(text or '')}”未写完成时限（如2026-12-15）"))
    elif due is None:
        problems.append(Problem(f"{where}/完成时限", f"无法识别的日期“{_clip(due_text)}”，请写作2026-12-15"))
    elif due < visit_day:
        problems.append(Problem(f"{where}/完成时限", f"完成时限{due.isoformat()}早于{visit_day.isoformat()}"))
    if len(problems) > before or text is None or owner is None or due is None:
        return True, None
    return True, Action(index=index, text=text, owner=owner, due=due)


# --- reading: progress -------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    ref: tuple[str, int] | None   # (visit number, action index) from 事项编号
    text: str | None              # 进展情况
    done: bool | None             # 是否完成
    has_answers: bool
    problems: tuple[Problem, ...]


_PROGRESS_TITLE = re.compile(r"后续事项进展|跟进事项进展|事项进展")


def read_progress(body: str) -> Progress | None:
    """The progress form in a reply's text; None when there is no copy of it."""
    lines = split_lines(body)
    copies = [_read_progress_copy(lines[a:b]) for a, b in _copies(lines, _PROGRESS_TITLE)]
    if not copies:
        return None
    return next((c for c in copies if c.has_answers), copies[0])


def _read_progress_copy(lines: Sequence[Line]) -> Progress:
    fields: dict[str, list[str]] = {}
    current: str | None = None
    for line in lines[1:]:
        mark = _marker(line.text)
        if mark is not None and mark[0] == END:
            break
        m = _PROGRESS_LABEL.match(line.text)
        if m:
            label = m.group(1)
            current = "ref" if "编号" in label else "text" if "进展" in label else "done"
            fields.setdefault(current, []).append(m.group(2))
        elif current is not None and current != "ref" and not line.text.startswith("说明"):
            fields[current].append(line.text)
    ref = parse_follow_up_ref(" ".join(fields.get("ref", [])))
    text = _answer(fields.get("text", []))
    done_text = _answer(fields.get("done", []))
    problems: list[Problem] = []
    done: bool | None = None
    if done_text is not None:
        word = done_text.rstrip(_FINAL_STOP).strip().lower()
        if word in _YES:
            done = True
        elif word in _NO:
            done = False
        else:
            problems.append(Problem("是否完成", f"请填“是”或“否”，写的是“{_clip(done_text)}”"))
    has = _written(fields.get("text", [])) or _written(fields.get("done", []))
    return Progress(ref=ref, text=text, done=done, has_answers=has, problems=tuple(problems))
