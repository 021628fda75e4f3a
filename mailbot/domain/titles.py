"""A 诉求's title: one line a reader takes in at a glance, for subjects, listings and the bulletin's tables.

From an urgent mail, its subject after the urgent marker (people write good subjects for urgent mail); otherwise
the first sentence of what was written, without the greeting above it ("总部领导：", "王处长：") or the signature
below it.
"""

from __future__ import annotations

import re

LIMIT = 40
_REPLY = re.compile(r"^\s*(?:(?:re|fw|fwd|回复|答复|转发)\s*[:：]\s*)+", re.I)
_URGENT = re.compile(r"【\s*紧急\s*】|\[\s*紧急\s*\]|［\s*紧急\s*］|^\s*紧急\s*[:：]|\[urgent\]|^urgent\s*[:：]", re.I)
_CODE = re.compile(r"\[(?:KCR|SQ|VIS)-[^\]]*\]")
_GREETING_LINE = re.compile(r"^(?:[^\s，。！？：:]{1,10}[：:]|您好[！!，,。]?|你好[！!，,。]?|各位领导[：:，,]?)$")
_GREETING_LEAD = re.compile(r"^[^\s，。！？：:]{1,8}[：:]\s*(?=\S)")
_END = re.compile(r"[。！？；!?;]")


def request_title(text: str, subject: str | None = None) -> str:
    """The title of a 诉求 raised by `text` (and, for an urgent mail, its `subject`)."""
    if subject:
        title = _CODE.sub("", _URGENT.sub("", _REPLY.sub("", subject))).strip(" ：:-—")
        if len(title) >= 4:
            return _clip(title)
    for line in text.splitlines():
        line = line.strip()
        if not line or _GREETING_LINE.match(line):
            continue
        line = _GREETING_LEAD.sub("", line)
        end = _END.search(line)
        return _clip(line[:end.end()] if end else line)
    return _clip(" ".join(text.split())) or "（无内容）"


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= LIMIT else text[:LIMIT - 1] + "…"
