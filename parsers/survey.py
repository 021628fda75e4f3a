"""Reading a satisfaction survey response (../shared/SURVEY.md) out of a message's body lines.

A response holds the survey form (`surveytext.render_survey_form`) once or
more: usually the copy the respondent filled on top and the bot's original
quoted below, in reminder chains more.  `find_survey_copies` finds each copy
the way `form.find_copies` finds the monthly form's — from the title line
to 【填报结束】, or, when a respondent deleted that line, to the next form
title, quote separator or phone signature, never into the quoted original
— and the topmost copy with any answer wins (else the topmost).

Labels are found by `fields.read_fields`, as in the monthly form, so the
same numbering, colon and similarity tolerance holds.  The questions are
the survey's own, so the reader learns them from the copy: every numbered
label line is a question, and the 评分 line says which are scored.  A
respondent who deleted the 评分 line still has it in the bot's original
quoted below; when no copy has it, an answer that reads as a score makes
its question a scored one, and a warning says so.  No database is needed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from parsers import surveytext as st
from parsers.fields import FieldSpec, read_fields, split_label, split_number
from parsers.form import HEADER_SPECS, clip, find_copies, free_text, marker_of, plain
from parsers.model import Problem
from parsers.quotes import Line
from parsers.surveytext import SURVEY_TITLE, Question, render_survey_form

__all__ = ["SURVEY_TITLE", "Question", "SurveyResponse", "find_survey_copies", "read_survey",
           "render_survey_form", "score_of"]

_TITLE = re.compile(rf"^[【\[［〔]\s*{SURVEY_TITLE}\s*[】\]］〕]")
_TOKEN_LABEL = re.compile(rf"^{st.LABEL_TOKEN}\s*[:：]?\s*")
_CODE = re.compile(r"^([SV])\s*(\d{1,6})(?!\d)", re.IGNORECASE)
# Matched on the line without spaces, so no run of spaces can make it backtrack.
_SPAN = re.compile(rf"^{st.LABEL_SCORING}\(?第?(\d[\d、,~\-至到和及]*)题")
_SPACES = re.compile(r"\s+")
_SPAN_LIST = re.compile(r"[、,和及]")
_SPAN_RANGE = re.compile(r"[~\-至到]")
# What may stand around a score without changing it: "5分。" "（4）" "4 - 满意" "★★★★☆️".
_SCORE_NOISE = re.compile(r"[\s()\[\]【】,、:;/!.·\-\ufe0f]+")
_NUMBER = re.compile(r"([1-5])(?:分|星)?")
_NUMBER_THEN_WORD = re.compile(r"([1-5])(?:分|星)?(\D+)")
_WORD_THEN_NUMBER = re.compile(r"(\D+?)([1-5])(?:分|星)?")
_FILLED_STARS = frozenset("★⭐")
_STARS = frozenset("★⭐☆")
# The words that can only answer a scored question ("无" and "-" answer free text as often).
_NOT_KNOWN = frozenset({st.NO_IDEA, "不清楚"})
_SCALE_WORDS = "、".join(f"{score} {word}" for score, word in st.SCALE)

_TOKEN_SPEC = FieldSpec("token", st.LABEL_TOKEN, keywords=(st.LABEL_TOKEN,))
_CUSTOMER_SPEC = FieldSpec("customer", st.LABEL_CUSTOMER, keywords=(st.LABEL_CUSTOMER,))
_SCORING_SPEC = FieldSpec("scoring", st.LABEL_SCORING, keywords=(st.LABEL_SCORING,))
# 填报人 / 联系电话 are the monthly form's labels, recognised by the same words.
_PERSON_SPECS = tuple(spec for spec in HEADER_SPECS if spec.key in ("name", "phone"))


@dataclass(frozen=True)
class SurveyResponse:
    """The winning copy of the survey form in one message."""

    token: str | None
    survey: str | None
    customer: str | None
    scores: dict[str, int | None]
    texts: dict[str, str | None]
    respondent_name: str | None
    respondent_phone: str | None
    has_answers: bool
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    text: str

    def as_json(self, urgent: bool) -> dict[str, object]:
        """Exactly the `mailbot parse --json` object of SURVEY.md, keys in order."""
        return {
            "kind": "survey_response",
            "token": self.token,
            "survey": self.survey,
            "customer": self.customer,
            "scores": dict(self.scores),
            "texts": dict(self.texts),
            "respondent": {"name": self.respondent_name, "phone": self.respondent_phone},
            "urgent": urgent,
            "errors": [p.as_json() for p in self.errors],
            "warnings": [p.as_json() for p in self.warnings],
        }


@dataclass(frozen=True)
class _Copy:
    """One copy of the survey form as found: answer lines per field key, before any judgement."""

    token_text: str | None
    questions: tuple[int, ...]                 # numbers of the question labels found, ascending
    scored: frozenset[int] | None              # from the copy's own 评分 line; None when it has none
    answers: Mapping[str, list[str]]           # field key ("1", "name", "customer" …) → answer lines
    preamble: tuple[str, ...]
    has_answers: bool
    text: str


def find_survey_copies(lines: Sequence[Line], separators: Sequence[int]) -> list[tuple[int, int]]:
    """(start, end) line ranges of every copy of the survey form, topmost first."""
    return find_copies(lines, separators, lambda kind, text: kind == "other" and bool(_TITLE.match(text)))


def _question_labels(body: Sequence[str]) -> dict[int, str]:
    """Each question number with the text of its first numbered label line: the labels `read_fields` scores."""
    labels: dict[int, str] = {}
    for text in body:
        split = split_label(text)
        if split is None:
            continue
        number, label = split_number(split[0])
        if number is not None and 1 <= number <= st.MAX_QUESTIONS:
            labels.setdefault(number, label)
    return labels


def _span_numbers(line: str) -> frozenset[int] | None:
    """The questions a 评分 line names (第1–6题, 第1、2、4题, 第1至3、5题); None when it names none readably."""
    match = _SPAN.match(_SPACES.sub("", st.fold(line)))
    if match is None:
        return None
    numbers: set[int] = set()
    for part in _SPAN_LIST.split(match.group(1)):
        ends = _SPAN_RANGE.split(part)
        if len(ends) > 2 or not all(end.isdigit() for end in ends):
            return None
        first, last = int(ends[0]), int(ends[-1])
        if not 1 <= first <= last <= st.MAX_QUESTIONS:
            return None
        numbers.update(range(first, last + 1))
    return frozenset(numbers)


def _read_copy(lines: Sequence[Line], start: int, end: int) -> _Copy:
    """The fields of one copy (lines[start:end], the title first)."""
    texts = [ln.text for ln in lines[start:end]]
    while texts and not texts[-1]:
        texts.pop()
    body = texts[1:]
    end_mark = marker_of(body[-1]) if body else None
    if end_mark is not None and end_mark[0] == "end":
        body.pop()
    labels = _question_labels(body)
    specs = (_TOKEN_SPEC, _CUSTOMER_SPEC, _SCORING_SPEC,
             *(FieldSpec(str(n), label, number=n) for n, label in sorted(labels.items())), *_PERSON_SPECS)
    answers, preamble = read_fields(body, specs, frozenset())
    title = marker_of(texts[0])
    token_text = _TOKEN_LABEL.sub("", title[1]).strip() if title else ""
    questions = tuple(n for n in sorted(labels) if str(n) in answers)
    return _Copy(
        token_text=token_text or free_text(answers.get("token")),
        questions=questions,
        scored=next((s for s in map(_span_numbers, body) if s is not None), None),
        answers=answers,
        preamble=tuple(preamble),
        has_answers=any(answers.get(key) for key in (*map(str, questions), "name", "phone")),
        text="\n".join(texts),
    )


def score_of(text: str) -> tuple[bool, int | None]:
    """(readable, score) of one answer to a scored question (SURVEY.md "What an answer means").

    1–5 (half or full width, 分 optional), the scale's words, stars; a digit
    with its own word ("5 非常满意") is that score.  不了解 / 不清楚 / N/A, an
    empty answer and FORM.md's nothing-markers are "no answer": (True, None).
    Anything else is unreadable: (False, None).
    """
    value = plain(text)
    if value in st.NO_ANSWER_WORDS or free_text([text]) is None:
        return True, None
    compact = _SCORE_NOISE.sub("", st.fold(value))
    if (number := _NUMBER.fullmatch(compact)) is not None:
        return True, int(number.group(1))
    if compact in st.SCORE_WORDS:
        return True, st.SCORE_WORDS[compact]
    pair = _NUMBER_THEN_WORD.fullmatch(compact)
    digit, word = (pair.group(1), pair.group(2)) if pair else ("", "")
    if pair is None and (pair := _WORD_THEN_NUMBER.fullmatch(compact)) is not None:
        word, digit = pair.group(1), pair.group(2)
    if pair is not None and st.SCORE_WORDS.get(word) == int(digit):
        return True, int(digit)
    if compact and set(compact) <= _STARS and len(compact) <= 5:
        filled = sum(1 for ch in compact if ch in _FILLED_STARS)
        if filled:
            return True, filled
    return False, None


def _looks_scored(answer: list[str] | None) -> bool:
    """Whether an answer, on its own, says its question is a scored one: a score or 不了解/不清楚.

    Nothing-markers (无, -) and empty answers say nothing: free-text questions get them as often.
    """
    text = "\n".join(answer or []).strip()
    readable, score = score_of(text)
    return readable and (score is not None or plain(text) in _NOT_KNOWN)


class _Judge:
    """Turns one copy's answer lines into scores, texts, errors and warnings."""

    def __init__(self) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def score(self, n: int, answer: list[str] | None) -> int | None:
        where = f"第{n}题"
        text = "\n".join(answer or []).strip()
        readable, score = score_of(text)
        if not readable and answer and len(answer) > 1:
            # A score with a remark below it: the score counts, the remark is named as ignored —
            # unless the remark is a second score.
            rest = "\n".join(answer[1:])
            readable, score = score_of(answer[0])
            if readable and score_of(rest)[1] is None:
                self.warnings.append(Problem(where, f"第{n}题只记录评分，后面的“{clip(rest)}”已忽略"))
            else:
                readable, score = False, None
        if not readable:
            self.errors.append(Problem(where, f"第{n}题是评分题，只能填1–5分（{_SCALE_WORDS}）或“{st.NO_IDEA}”，"
                                              f"填写的是“{clip(text)}”"))
        return score

    def line(self, answer: list[str] | None, where: str) -> str | None:
        """A one-line field (填报人, 联系电话): its first line; lines below it are named as ignored."""
        value = free_text(answer[:1] if answer else None)
        if answer and len(answer) > 1:
            self.warnings.append(Problem(where, f"“{clip(' '.join(answer[1:]))}”不在任何栏目下，已忽略"))
        return value


def _scored_questions(copies: Sequence[_Copy], index: int, judge: _Judge) -> frozenset[int]:
    """Which questions of the winning copy are scored: its 评分 line, a copy's below it, else guessed."""
    winner = copies[index]
    for copy in copies[index:]:
        if copy.scored is not None:
            return copy.scored
    guessed = frozenset(n for n in winner.questions if _looks_scored(winner.answers.get(str(n))))
    which = f"{st.question_span(guessed)}按评分处理，其余" if guessed else "各题均"
    judge.warnings.append(Problem(st.LABEL_SCORING, f"调查表中没有“{st.LABEL_SCORING}（第…题）”一行，已按所填内容判断："
                                                    f"{which}按文字意见处理"))
    return guessed


def _token_checks(written: str | None, subject: str) -> tuple[st.SurveyToken | None, list[Problem], list[Problem]]:
    """The survey number (form first, then subject) and what is wrong with it; as `message._token_checks`."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    from_form = st.find_survey_token(written)
    from_subject = st.find_survey_token(subject)
    where = st.LABEL_TOKEN
    if written and from_form is None:
        if from_subject:
            warnings.append(Problem(where, f"调查表中的编号“{clip(written)}”无法识别，已采用主题中的 {from_subject.text}"))
        else:
            errors.append(Problem(where, f"编号“{clip(written)}”无法识别，应为 MY-年份-序号-客户编号 的形式"
                                         "（如 MY-2026-01-S001），请勿修改"))
    elif from_form and from_subject and from_form.text != from_subject.text:
        warnings.append(Problem(where, f"主题中的编号 {from_subject.text} 与调查表中的 {from_form.text} 不一致，以调查表为准"))
    if from_form is None and from_subject is None and not written:
        warnings.append(Problem(where, "调查表和邮件主题中都没有编号"))
    return from_form or from_subject, errors, warnings


def read_survey(lines: Sequence[Line], separators: Sequence[int], subject: str) -> SurveyResponse | None:
    """The survey response in a message's body lines, or None when it holds no survey form.

    `separators` are the quote-boundary line indexes (`[b.line for b in
    boundaries(lines)]`); `subject` supplies the survey number when the
    form's 编号 is missing or unreadable.
    """
    copies = [_read_copy(lines, start, end) for start, end in find_survey_copies(lines, separators)]
    if not copies:
        return None
    index = next((i for i, c in enumerate(copies) if c.has_answers), 0)
    copy = copies[index]
    judge = _Judge()
    if copy.preamble:
        judge.warnings.append(Problem("", f"“{clip(' '.join(copy.preamble))}”不在任何题目下，已忽略"))
    scored = _scored_questions(copies, index, judge)
    scores: dict[str, int | None] = {}
    texts: dict[str, str | None] = {}
    for n in sorted(set(copy.questions) | scored):
        answer = copy.answers.get(str(n))
        if n in scored:
            if answer is None and copy.has_answers:
                judge.warnings.append(Problem(f"第{n}题", f"未找到第{n}题，按未填写处理"))
            scores[str(n)] = judge.score(n, answer)
        else:
            texts[str(n)] = free_text(answer)
    name = judge.line(copy.answers.get("name"), st.LABEL_NAME)
    phone = judge.line(copy.answers.get("phone"), st.LABEL_PHONE)

    token, token_errors, token_warnings = _token_checks(copy.token_text, subject)
    customer_line = " ".join(copy.answers.get("customer", [])[:1])
    code = _CODE.match(st.fold(customer_line))
    written_customer = f"{code.group(1).upper()}{code.group(2)}" if code else None
    if token and written_customer and written_customer != token.customer:
        judge.warnings.append(Problem(st.LABEL_CUSTOMER, f"客户写的是“{clip(customer_line)}”，"
                                                         f"与编号中的客户编号 {token.customer} 不一致，以编号为准"))
    if not copy.has_answers:
        judge.warnings.append(Problem("", "满意度调查表为空：各题均未填写"))
    elif scores and all(v is None for v in scores.values()) and not judge.errors:
        judge.warnings.append(Problem("", "各评分题均未评分（空白或“不了解”），本次答复没有可统计的评分"))
    filled = sum(1 for c in copies if c.has_answers)
    if filled > 1:
        judge.warnings.append(Problem("", f"邮件中有{filled}份填写过的满意度调查表，已采用最上面的一份"))
    return SurveyResponse(
        token=token.text if token else None,
        survey=token.survey if token else None,
        customer=token.customer if token else written_customer,
        scores=scores,
        texts=texts,
        respondent_name=name,
        respondent_phone=phone,
        has_answers=copy.has_answers,
        errors=(*judge.errors, *token_errors),
        warnings=(*judge.warnings, *token_warnings),
        text=copy.text,
    )
