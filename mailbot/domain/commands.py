"""The short command block HQ staff write when they reply to a request mail (pure).

    状态：处理中            status: 处理中 | 待集团审议 | 已答复 | 关闭
    转交：wangfang@hq…      hand the request to another HQ staff member (address, staff id or name)
    答复：……                the answer, mailed to the unit's contact (may run over several lines)
    需集团审议：是          the matter goes to the group for approval
    备注：……                a note kept in the history
    关闭                    close the request

Colons may be half- or full-width. Anything else the reply says, with no
command, is kept as a comment. Only the text the sender wrote counts, never the
quoted original (the caller passes `new_text`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STATUS_WORDS = {"处理中": "in_progress", "待集团审议": "awaiting_approval", "已答复": "answered",
                "关闭": "closed", "已关闭": "closed", "新建": "new"}
STATUS_CN = {"new": "待处理", "in_progress": "处理中", "awaiting_approval": "待集团审议", "answered": "已答复",
             "closed": "已关闭"}
OPEN = ("new", "in_progress", "awaiting_approval")

_LINE = re.compile(r"^\s*(状态|转交|答复|回复|需集团审议|备注)\s*[:：]\s*(.*)$")
_CLOSE = re.compile(r"^\s*(关闭|结案)\s*[。.！!]?\s*$")
_YES = {"是", "y", "yes", "√", "需要"}


@dataclass(frozen=True)
class Command:
    verb: str       # status | transfer | answer | approval | note | close
    value: str


@dataclass(frozen=True)
class Parsed:
    commands: tuple[Command, ...]
    problems: tuple[str, ...]       # commands we could not understand, quoted back to the sender
    comment: str | None             # the reply's text when it carried no command


def parse_commands(text: str) -> Parsed:
    commands: list[Command] = []
    problems: list[str] = []
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if _CLOSE.match(line):
            commands.append(Command("close", ""))
            continue
        m = _LINE.match(line)
        if not m:
            continue
        label, value = m.group(1), m.group(2).strip()
        if label in ("答复", "回复", "备注"):
            # A multi-line answer runs until the next command line or the end of what was written.
            more = []
            while i < len(lines) and not _LINE.match(lines[i]) and not _CLOSE.match(lines[i]):
                more.append(lines[i])
                i += 1
            value = "\n".join([value, *more]).strip()
            if value:
                commands.append(Command("note" if label == "备注" else "answer", value))
            else:
                problems.append(f"“{label}：”后没有内容")
        elif label == "状态":
            status = STATUS_WORDS.get(value.rstrip("。. "))
            if status is None:
                problems.append(f"状态只能是“处理中”“待集团审议”“已答复”或“关闭”，收到的是“{value}”")
            else:
                commands.append(Command("close", "") if status == "closed" else Command("status", status))
        elif label == "转交":
            if value:
                commands.append(Command("transfer", value))
            else:
                problems.append("“转交：”后请写明接手人的邮箱")
        elif label == "需集团审议":
            if value.rstrip("。. ").lower() in _YES:
                commands.append(Command("approval", ""))
            elif value.rstrip("。. ") not in ("否", "不需要", "no", "n"):
                problems.append(f"需集团审议只能填“是”或“否”，收到的是“{value}”")
    comment = None
    if not commands and not problems:
        comment = text.strip() or None
    return Parsed(tuple(commands), tuple(problems), comment)


_STATUS_AFTER = {"approval": "awaiting_approval", "close": "closed", "answer": "answered"}


def status_after(command: Command, current: str) -> str:
    """A request's status once `command` is applied: `状态：…` sets it, 需集团审议 / 关闭 / 答复 move it; transfers
    and notes leave it."""
    if command.verb == "status":
        return command.value
    return _STATUS_AFTER.get(command.verb, current)
