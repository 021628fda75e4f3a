"""Reading campaign feedback (CAMPAIGN.md) out of body lines.

A unit answers a campaign notice with the 【推广反馈】 form: a title line
carrying the feedback number (`TG-2026-01-GD`), the bot's plan and stage
legend lines, then one 【客户】 block of six numbered fields per target
customer.  The form may stand alone (a campaign reply) or ride above the
monthly form in a monthly submission, so a copy runs from its title to
【填报结束】, or — when a unit deleted that line — to the next marker of any
form (another 【推广反馈】, 【重点客户月报填报单】 and its blocks, 【满意度调查】),
a quote separator or a mobile signature: never into the monthly form below
it, nor into the quoted original.

Every copy is read (`_read_copy`), the copies are grouped by feedback number,
and per number the topmost copy with any answer wins, as FORM.md has it for
the monthly form.  Labels are found by `fields.read_fields` and answers
judged with the monthly form's own helpers (`form.free_text`, `form.yes_no`,
`form.Reader`), so both forms tolerate exactly the same things.

Decided here where CAMPAIGN.md leaves room: an expected signing date without
a year (`3月底`) cannot be placed by a parser that has no clock, so it is a
warning and `null`, the written text kept in `CampaignTarget.signing_text`
(as is every written date); a copy whose number is missing or unreadable
belongs to the number in the subject, or else to the only number the
message's other copies carry.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass

from parsers import campaigntext as ct
from parsers.campaigntext import CAMPAIGN_TITLE, CampaignToken, find_campaign_token, render_campaign_form
from parsers.fields import FieldSpec, read_fields
from parsers.form import Reader, Section, clip, free_text, marker_of, plain, yes_no
from parsers.formtext import marker
from parsers.model import Problem
from parsers.quotes import Line, is_mobile_signature

__all__ = ["CAMPAIGN_TITLE", "CampaignFeedback", "CampaignTarget", "read_campaigns", "render_campaign_form"]

_MARKER = re.compile(r"^[【\[［〔]\s*(推广反馈[表单]?|客户)\s*[】\]］〕]\s*[:：]?\s*(.*)$")
_CODE = re.compile(r"^([SV])\s*(\d{1,6})(?!\d)", re.IGNORECASE)
_TOKEN_LABEL = re.compile(rf"^{ct.LABEL_TOKEN}\s*[:：]?\s*")
_TOKEN_LINE = re.compile(rf"^{ct.LABEL_TOKEN}\s*[:：]\s*(.*)$")
_PLAN_LINE = re.compile(rf"^{ct.LABEL_PLAN}\s*[:：]")
_SPACES = re.compile(r"\s+")
_SPECS = tuple(FieldSpec(key, label, number=n) for n, (key, label) in enumerate(ct.FIELDS, 1))
_CUSTOMER_MARK = marker(ct.MARK_CUSTOMER)
_FORM = marker(CAMPAIGN_TITLE)

# 预计签约时间: a month or a day, written the ways people write dates; "月底/上旬/前…" keep their month.
_DATE_WORDS = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月份?(?:\s*(\d{1,2})\s*[日号])?"
                         r"\s*(?:底|末|初|中|上旬|中旬|下旬|左右|前后|前)?$")
_DATE_DIGITS = re.compile(r"^(\d{4})\s*[-./]\s*(\d{1,2})(?:\s*[-./]\s*(\d{1,2}))?$")
_NO_YEAR = re.compile(r"^\d{1,2}\s*月")
_UNDECIDED = frozenset({"待定", "未定", "待确定", "不确定", "尚未确定", "暂未确定", "暂不确定", "tbd"})
_ALLOWED_STAGES = "“" + "”“".join(ct.STAGES[:-1]) + f"”或“{ct.STAGES[-1]}”"


@dataclass(frozen=True)
class CampaignTarget:
    """One 【客户】 block: where the unit stands with one target customer."""

    customer: str
    stage: str | None
    intention: str | None
    progress: str | None
    next: str | None
    expected_signing: str | None
    needs_hq: bool | None
    signing_text: str | None = None   # 预计签约时间 as written, kept also when it could not be read as a date

    def as_json(self) -> dict[str, object]:
        return {"customer": self.customer, "stage": self.stage, "intention": self.intention,
                "progress": self.progress, "next": self.next, "expected_signing": self.expected_signing,
                "needs_hq": self.needs_hq}


@dataclass(frozen=True)
class CampaignFeedback:
    """The winning copy of one campaign's feedback form in one message."""

    token: str | None
    campaign: str | None
    unit: str | None
    targets: tuple[CampaignTarget, ...]
    has_answers: bool
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    text: str

    def as_json(self, urgent: bool, *, with_kind: bool = True) -> dict[str, object]:
        """CAMPAIGN.md's object; inside a monthly report's JSON it goes without `kind`."""
        out: dict[str, object] = {"kind": "campaign_feedback"} if with_kind else {}
        out.update({
            "token": self.token,
            "campaign": self.campaign,
            "unit": self.unit,
            "targets": [t.as_json() for t in self.targets],
            "urgent": urgent,
            "errors": [p.as_json() for p in self.errors],
            "warnings": [p.as_json() for p in self.warnings],
        })
        return out


@dataclass(frozen=True)
class _Copy:
    """One copy of the feedback form as read, before copies are compared."""

    start: int
    written: str | None            # the number as written on the form, if any
    token: CampaignToken | None    # that number, when it reads as one
    targets: tuple[CampaignTarget, ...]
    has_answers: bool
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    text: str


def _marker(text: str) -> tuple[str, str] | None:
    """("title" or "customer", rest of line) for this form's own marker lines."""
    match = _MARKER.match(text)
    if match is None:
        return None
    return ("title" if match.group(1).startswith(CAMPAIGN_TITLE) else "customer"), match.group(2).strip()


def _find_copies(lines: Sequence[Line], separators: Sequence[int]) -> list[tuple[int, int]]:
    """(start, end) line ranges of every copy of the feedback form, topmost first."""
    stops = set(separators)
    copies: list[tuple[int, int]] = []
    start: int | None = None
    for i, line in enumerate(lines):
        text = line.text
        ours = _marker(text)
        title = ours is not None and ours[0] == "title"
        theirs = marker_of(text) if ours is None else None   # the monthly form's and the survey's markers
        if start is not None and (i in stops or title or (theirs is not None and theirs[0] != "end")
                                  or is_mobile_signature(text)):
            copies.append((start, i))
            start = None
        if title:
            start = i
        elif theirs is not None and theirs[0] == "end" and start is not None:
            copies.append((start, i + 1))
            start = None
    if start is not None:
        copies.append((start, len(lines)))
    return copies


def _is_legend(text: str) -> bool:
    return _SPACES.sub("", text).startswith(ct.LABEL_LEGEND)


def _split(texts: Sequence[str]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """A copy's lines after the title → header lines, and (marker rest, body lines) per 【客户】 block."""
    header: list[str] = []
    blocks: list[tuple[str, list[str]]] = []
    for text in texts[1:]:
        if _is_legend(text):
            continue   # the bot's stage list, wherever a copy-and-paste put it
        ours = _marker(text)
        if ours is not None and ours[0] == "customer":
            blocks.append((ours[1], []))
        elif ours is not None or marker_of(text) is not None:
            break      # 【填报结束】: copies end at any other marker already
        else:
            (blocks[-1][1] if blocks else header).append(text)
    return header, blocks


def _written_token(title_rest: str, header: Sequence[str], reader: Reader) -> str | None:
    """The number as written: after the title (编号：…), or on a 编号 line of its own; other header text is
    not the unit's to write and is ignored with a warning."""
    written = _TOKEN_LABEL.sub("", title_rest, count=1).strip() or None
    stray = []
    for text in header:
        if not text or _PLAN_LINE.match(text):
            continue
        line = _TOKEN_LINE.match(text)
        if line is not None:
            written = written or line.group(1).strip() or None
            continue
        stray.append(text)
    if stray:
        reader.warnings.append(Problem("", f"“{clip(' '.join(stray))}”不在任何栏目下，已忽略"))
    return written


def _customer(reader: Reader, rest: str) -> str | None:
    match = _CODE.match(plain(rest).upper())
    if match is None:
        reader.errors.append(Problem(_CUSTOMER_MARK, f"{_CUSTOMER_MARK}后应写客户编号（S或V加数字），"
                                                     f"写的是“{clip(rest) or '（空）'}”"))
        return None
    return f"{match.group(1)}{match.group(2)}"


def _stage_value(text: str) -> str | None:
    value = plain(text)
    return value if value in ct.STAGES else ct.STAGE_SYNONYMS.get(value)


def signing_date(text: str) -> tuple[str | None, str | None]:
    """预计签约时间 → (`yyyy-mm` or `yyyy-mm-dd` or None, why it could not be read or None)."""
    value = plain(text)
    if value in _UNDECIDED:
        return None, None
    match = _DATE_WORDS.match(value) or _DATE_DIGITS.match(value)
    if match is None:
        if _NO_YEAR.match(value):
            return None, "没有写年份，无法确定是哪一年"
        return None, "无法识别为日期"
    year, month, day = int(match.group(1)), int(match.group(2)), match.group(3)
    try:
        datetime.date(year, month, int(day or 1))
    except ValueError:
        return None, "不是有效的日期"
    return (f"{year}-{month:02d}-{int(day):02d}" if day else f"{year}-{month:02d}"), None


def _read_target(reader: Reader, rest: str, body: Sequence[str]) -> tuple[str | None, CampaignTarget]:
    """One 【客户】 block → (customer code or None when unreadable, the target as read)."""
    code = _customer(reader, rest)
    where = code or _CUSTOMER_MARK
    who = f"客户{code}" if code else _CUSTOMER_MARK
    answers, preamble = read_fields(body, _SPECS, frozenset())
    got = reader.take(Section("customer", rest, answers, tuple(preamble)), _SPECS, where)

    stage: str | None = None
    if free_text(got.get("stage")) is not None:
        value = reader.choice(got.get("stage"), where, ct.LABELS["stage"], _stage_value)
        stage = value if isinstance(value, str) else None
        if stage is None:
            reader.errors.append(Problem(f"{where}/{ct.LABELS['stage']}", f"{who}的进展阶段只能填{_ALLOWED_STAGES}，"
                                         f"填写的是“{clip(chr(10).join(got.get('stage', [])))}”"))
    progress = free_text(got.get("progress"))
    if stage == ct.NO_INTENTION and progress is None:
        reader.errors.append(Problem(f"{where}/{ct.LABELS['progress']}",
                                     f"{who}的进展阶段为“{ct.NO_INTENTION}”，请在“本期进展”中写明客户无意向的原因"))
    signing_text = free_text(got.get("signing"))
    expected, why = signing_date(signing_text) if signing_text is not None else (None, None)
    if why is not None:
        reader.warnings.append(Problem(f"{where}/{ct.LABELS['signing']}",
                                       f"{who}的预计签约时间“{clip(signing_text or '')}”{why}，已按未填写处理；"
                                       "请写成“2027年3月”或“2027年3月15日”的形式"))
    hq_answer = got.get("hq")
    hq = reader.choice(hq_answer, where, ct.LABELS["hq"], yes_no)
    if hq is None and hq_answer:
        reader.errors.append(Problem(f"{where}/{ct.LABELS['hq']}", f"{who}的需总部支持只能填“是”或“否”，"
                                     f"填写的是“{clip(chr(10).join(hq_answer))}”"))
    target = CampaignTarget(
        customer=code or "", stage=stage, intention=free_text(got.get("intention")), progress=progress,
        next=free_text(got.get("next")), expected_signing=expected,
        needs_hq=hq if isinstance(hq, bool) else None, signing_text=signing_text,
    )
    return code, target


def _read_copy(lines: Sequence[Line], start: int, end: int) -> _Copy:
    """Read one copy (lines[start:end], the first line is the title)."""
    texts = [ln.text for ln in lines[start:end]]
    while texts and not texts[-1]:
        texts.pop()
    reader = Reader()
    header, blocks = _split(texts)
    title = _marker(texts[0])
    written = _written_token(title[1] if title else "", header, reader)
    seen: dict[str, CampaignTarget] = {}
    for rest, body in blocks:
        code, target = _read_target(reader, rest, body)
        if code is None:
            continue
        if code in seen:
            if seen[code] != target:
                reader.errors.append(Problem(code, f"客户{code}的填报块出现了不止一次且内容不同，请只保留一个"))
            continue
        seen[code] = target
    if not reader.answered:
        reader.warnings.append(Problem("", f"{_FORM}为空：各栏均未填写"))
    return _Copy(start=start, written=written, token=find_campaign_token(written), targets=tuple(seen.values()),
                 has_answers=reader.answered, errors=tuple(reader.errors), warnings=tuple(reader.warnings),
                 text="\n".join(texts))


def _token_checks(copy: _Copy, token: CampaignToken | None, source: str,
                  subject: CampaignToken | None, known: set[str]) -> tuple[list[Problem], list[Problem]]:
    """What is wrong with the winning copy's number (mirrors the monthly form's checks in `message.py`).

    `token` is the number the copy belongs to, `source` where it came from when not from the copy itself."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    where = ct.LABEL_TOKEN
    if copy.token is None and copy.written:
        if token is not None:
            warnings.append(Problem(where, f"{_FORM}中的编号“{clip(copy.written)}”无法识别，已采用{source}的 {token.text}"))
        else:
            errors.append(Problem(where, f"{_FORM}中的编号“{clip(copy.written)}”无法识别，"
                                         "应为 TG-年份-序号-单位代码 的形式，请勿修改"))
    elif copy.token is None:
        warnings.append(Problem(where, f"{_FORM}中没有编号，已采用{source}的 {token.text}" if token is not None
                                else f"{_FORM}和邮件主题中都没有编号"))
    elif subject is not None and subject.text not in known:
        # A subject naming one of the message's campaigns is no disagreement: a reply may answer several.
        warnings.append(Problem(where, f"主题中的编号 {subject.text} 与{_FORM}中的 {copy.token.text} 不一致，"
                                       f"以{_FORM}为准"))
    return errors, warnings


def read_campaigns(lines: Sequence[Line], separators: Sequence[int], subject: str) -> list[CampaignFeedback]:
    """Each campaign's feedback in a message's body lines (its winning copy), topmost first."""
    copies = [_read_copy(lines, start, end) for start, end in _find_copies(lines, separators)]
    if not copies:
        return []
    from_subject = find_campaign_token(subject)
    tokens = {c.token.text: c.token for c in copies if c.token is not None}
    known = set(tokens)
    # A copy without a readable number belongs to the subject's, or else to the message's only one.
    if from_subject is not None:
        fallback: CampaignToken | None = from_subject
        source = "邮件主题中"
    else:
        fallback = next(iter(tokens.values())) if len(tokens) == 1 else None
        source = f"邮件中另一份{_FORM}中"
    groups: dict[str | None, list[_Copy]] = {}
    for copy in copies:
        token = copy.token or fallback
        groups.setdefault(token.text if token else None, []).append(copy)

    found: list[CampaignFeedback] = []
    for group in groups.values():   # in the order each number first appears
        winner = next((c for c in group if c.has_answers), None) or next(
            (c for c in group if c.targets), group[0])
        token = winner.token or fallback
        token_errors, token_warnings = _token_checks(winner, token, source, from_subject, known)
        warnings = list(winner.warnings)
        filled = sum(1 for c in group if c.has_answers)
        if filled > 1:
            warnings.append(Problem("", f"邮件中有{filled}份填写过的{_FORM}，已采用最上面的一份"))
        found.append(CampaignFeedback(
            token=token.text if token else None, campaign=token.campaign if token else None,
            unit=token.unit if token else None, targets=winner.targets, has_answers=winner.has_answers,
            errors=(*winner.errors, *token_errors), warnings=(*warnings, *token_warnings), text=winner.text,
        ))
    return found
