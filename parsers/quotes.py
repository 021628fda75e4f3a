"""Where the sender's own words end and the quoted original begins.

Text is first split into `Line`s: the quote depth (`>`, `> >`, `>>`, even a
literal `&gt;` from Coremail's plain part) is counted and removed together
with leading spaces, tabs, NBSP and full-width spaces, so every later step
reads the same content whether or not a client quoted it.

The quoted original starts at the first of: a quoted line; a separator line
(`-----邮件原件-----`, QQ's `------------------ 原始邮件 ------------------`,
`-----Original Message-----`, forwarded-message rules); an attribution line
ending in 写道/写到/wrote:; or a header block (发件人/From followed by
发送时间/收件人/Sent/To/… lines, as Outlook, Foxmail and HMail write it),
together with an underscore rule right above it.  Header blocks must include
a 发件人/From line, so a visit record written as 主题：/时间：/地点： lines is
not mistaken for one.  Signatures (`--`, 发自我的iPhone, disclaimers) are cut
from the new text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

_PREFIX = re.compile(r"^[ \t\u00a0\u3000]*((?:(?:>|&gt;)[ \t\u00a0\u3000]*)*)")
_STRIP = " \t\u00a0\u3000\u200b\ufeff\r\f\v"
_SEPARATOR = re.compile(
    r"^[-=_—]{2,}\s*(?:原始邮件|邮件原件|原邮件|转发邮件(?:信息)?|转发的邮件|"
    r"original message|original|forwarded message|begin forwarded message|reply to message|"
    r"回复的原邮件|您在来信中写道[：:]?)\s*[-=_—]{2,}$",
    re.I,
)
_ATTRIBUTION = re.compile(r"(?:写道|写到|wrote)\s*[:：]?\s*$", re.I)
_ATTRIBUTION_HEAD = re.compile(r"^(?:on|at|在|于)\s", re.I)
_HEADER_LABEL = re.compile(
    r"^\**\s*(发\s*件\s*人|发\s*送\s*人|发送时间|发件时间|发送日期|日\s*期|时\s*间|"
    r"收\s*件\s*人|抄\s*送(?:\s*人)?|主\s*题|from|sent|date|to|cc|subject)"
    r"\s*\**\s*[:：]",
    re.I,
)
_SENDER_LABELS = frozenset({"发件人", "发送人", "from"})
_RULE = re.compile(r"^[_\-—=]{8,}$")
# Phone and app signatures; deliberately narrow ("来自华为的需求" is report text).
_MOBILE_SIGNATURE = re.compile(
    r"^(?:(?:发自|来自|发送自)\s*我的|从我的|sent from my\b|sent from (?:mail|outlook|yahoo)|"
    r"get outlook for|获取\s*outlook|发自\s*(?:网易邮箱|wps|qq\s*邮箱|企业微信|钉钉|iphone|ipad|android))",
    re.I,
)
_DISCLAIMER = re.compile(
    r"^[#/*\s]*(?:(?:本|此|该|这封)(?:电子)?邮件.{0,60}(?:保密|机密|秘密|专有|仅限|指定的?收件人)|"
    r"(?:confidentiality|disclaimer)\b|this (?:e-?mail|message|communication)\b.{0,80}"
    r"(?:confidential|intended))",
    re.I,
)
_SIG_DASHES = frozenset({"--", "-- ", "—"})
_MAX_SIGNATURE_LINES = 12


class Line(NamedTuple):
    """One line of body text: quote depth and the content without prefixes."""

    depth: int
    text: str


_MAYBE_PREFIXED = frozenset(" \t\u00a0\u3000>&")


def split_lines(text: str) -> tuple[Line, ...]:
    """Split text into lines, counting and removing quote prefixes."""
    lines = []
    if "&nbsp;" in text:
        # QQ Mail's plain part sometimes carries the entity literally.
        text = text.replace("&nbsp;", " ")
    for raw in text.split("\n"):
        if raw[:1] not in _MAYBE_PREFIXED:
            lines.append(Line(0, raw.strip(_STRIP)))   # the common case, without a regex
            continue
        match = _PREFIX.match(raw)
        prefix = match.group(1) if match else ""
        depth = prefix.count(">") + prefix.count("&gt;") if prefix else 0
        lines.append(Line(depth, raw[match.end() if match else 0:].strip(_STRIP)))
    return tuple(lines)


def _label_key(line: str) -> str | None:
    match = _HEADER_LABEL.match(line)
    if match is None:
        return None
    return re.sub(r"\s+", "", match.group(1)).lower()


def _header_block_at(lines: Sequence[Line], i: int) -> int:
    """Index after a header block starting at i, or i when there is none."""
    keys: list[str] = []
    j = i
    blanks = 0
    while j < len(lines) and len(keys) < 8:
        text = lines[j].text
        if not text:
            blanks += 1
            if blanks > 1:
                break
            j += 1
            continue
        key = _label_key(text)
        if key is None:
            break
        keys.append(key)
        blanks = 0
        j += 1
    if len(set(keys)) >= 2 and _SENDER_LABELS.intersection(keys):
        return j
    return i


class Boundary(NamedTuple):
    """Where a quoted original begins, and how it was recognised."""

    line: int
    kind: str   # "separator", "attribution" or "header"


def _is_attribution(lines: Sequence[Line], i: int) -> bool:
    """"…写道：" / "On … wrote:" introducing a quote.

    Report text can end in 写道： too ("客户来函中写道："), so the line must be
    followed by more deeply quoted lines, or name an address and a date.
    """
    text = lines[i].text
    if len(text) > 240 or not _ATTRIBUTION.search(text):
        return False
    following = next((ln for ln in lines[i + 1:i + 4] if ln.text), None)
    if following is not None and following.depth > lines[i].depth:
        return True
    return "@" in text and any(ch.isdigit() for ch in text)


def boundaries(lines: Sequence[Line]) -> list[Boundary]:
    """Where quoted originals begin: separator, attribution or header block.

    Quote depth is not considered here: the form reader uses these to end a
    form copy, and answers typed between `>` lines must not end it.
    """
    found: list[Boundary] = []
    i = 0
    while i < len(lines):
        text = lines[i].text
        if not text:
            i += 1
            continue
        if _SEPARATOR.match(text):
            found.append(Boundary(i, "separator"))
        elif _is_attribution(lines, i):
            # Gmail wraps long attributions: "On …" on one line, "wrote:" on the next.
            wrapped = i > 0 and not _ATTRIBUTION_HEAD.match(text) and _ATTRIBUTION_HEAD.match(lines[i - 1].text)
            found.append(Boundary(i - 1 if wrapped else i, "attribution"))
        elif _label_key(text) is not None:
            end = _header_block_at(lines, i)
            if end > i:
                start = i
                k = i - 1
                while k >= 0 and not lines[k].text:
                    k -= 1
                if k >= 0 and _RULE.match(lines[k].text):
                    start = k
                found.append(Boundary(start, "header"))
                i = end
                continue
        i += 1
    return found


def is_mobile_signature(text: str) -> bool:
    """"发自我的iPhone" and the like; a form copy without its end marker ends here."""
    return len(text) <= 40 and _MOBILE_SIGNATURE.match(text) is not None


def is_signature_start(text: str) -> bool:
    """A mobile signature or a disclaimer: where the sender's new text ends."""
    return is_mobile_signature(text) or _DISCLAIMER.match(text) is not None


def quote_start(lines: Sequence[Line], found: Sequence[Boundary]) -> int:
    """Index of the first line of the quoted original (len(lines) if none)."""
    first = found[0].line if found else len(lines)
    for i in range(first):
        if lines[i].depth:
            return i
    return first


def _signature_cut(lines: Sequence[Line], start: int, stop: int) -> int:
    """Index where the signature starts in lines[start:stop] (stop if none)."""
    # A "--" line only starts a signature when few lines follow it, so count
    # the non-blank lines after each position once, from the end.
    after = [0] * (stop - start + 1)
    for i in range(stop - 1, start - 1, -1):
        after[i - start] = after[i - start + 1] + (1 if lines[i].text else 0)
    for i in range(start, stop):
        text = lines[i].text
        if is_signature_start(text):
            return i
        if text in _SIG_DASHES and after[i - start + 1] <= _MAX_SIGNATURE_LINES:
            return i
    return stop


# A sign-off at the end of free text: the sender's name, title, department and contact lines (FORM.md: signatures
# are not the matter). Each pattern is a whole line, so "电话联系了客户" or "请总部协调" stays text.
_CONTACT_LINE = re.compile(
    r"^(?:(?:电话|手机|座机|固话|办公电话|联系电话|移动电话|tel|phone|mobile|mob|cell|邮箱|电子邮件|e-?mail|传真|fax|"
    r"地址|通讯地址|微信|qq|网址)(?:\s*[:：]\s*\S.{0,60}|\s*[+＋(（]?\d[\d\s\-－()（）]{5,})|"
    r"[+＋]?[\d\s\-－()（）]{7,24}|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+)$", re.I)
_NAME_LINE = re.compile(r"^[\u4e00-\u9fff·]{2,4}(?:\s*[（(]?[\u4e00-\u9fff]{2,5}[)）]?)?$")
_DEPARTMENT_LINE = re.compile(
    r"^[^。，；！？,;!?]{2,30}(?:公司|分公司|集团|部|中心|处|科|室|站|所|院|办公室|营业部|事业部)$")
_CLOSING_LINE = re.compile(r"^(?:此致|敬礼[！!]?|顺祝(?:商祺|工作顺利|安好)[。！!]?|谢谢[！!。]?|祝好[！!。]?|"
                           r"(?:best\s+)?regards,?|thanks,?)$", re.I)


def cut_sign_off(text: str, sender_name: str | None) -> str:
    """Free text without the sign-off that ends it: a run of name, department, contact and closing lines after
    the matter. It is cut only when it holds a contact line or the sender's own name — a trailing line that
    merely looks like a department or a name stays — and never when nothing of the matter would be left."""
    lines = text.split("\n")
    names = {n for n in (sender_name or "").split() if n}
    cut, proof = len(lines), False
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i].strip()
        if not line:
            continue
        contact = _CONTACT_LINE.match(line) is not None
        own_name = bool(names) and (line in names or line.split()[0] in names)
        if not (contact or own_name or _NAME_LINE.match(line) or _DEPARTMENT_LINE.match(line)
                or _CLOSING_LINE.match(line)):
            break
        cut, proof = i, proof or contact or own_name
    if not proof or not any(ln.strip() for ln in lines[:cut]):
        return text
    return "\n".join(lines[:cut]).rstrip()


def _join(texts: Sequence[str]) -> str:
    kept: list[str] = []
    for text in texts:
        if text or (kept and kept[-1]):
            kept.append(text)
    return "\n".join(kept).strip("\n")


def new_text(lines: Sequence[Line], found: Sequence[Boundary]) -> str:
    """What the sender wrote (quoted original and signature removed).

    That is the text above the quoted original; when the original is
    `>`-quoted (Gmail, Apple, Thunderbird, Coremail), unquoted lines written
    below or between the quoted lines are the sender's too, up to the next
    separator or header block.
    """
    start = quote_start(lines, found)
    top = _join([ln.text for ln in lines[:_signature_cut(lines, 0, start)]])
    if start >= len(lines):
        return top
    opened_by = "quote" if lines[start].depth else next((b.kind for b in found if b.line == start), "")
    if opened_by not in ("quote", "attribution"):
        return top
    # Separators inside the ">" quote belong to older mails; an unquoted one ends the reply.
    stop = next((b.line for b in found if b.line > start and b.kind != "attribution"
                 and not lines[b.line].depth), len(lines))
    marks = {b.line for b in found}
    own = [i for i in range(start, stop) if not lines[i].depth and i not in marks]
    if not own or not any(lines[i].text for i in own):
        return top
    cut = _signature_cut(lines, own[0], stop)
    below = _join([lines[i].text for i in own if i < cut])
    return _join([top, "", below]) if top else below
