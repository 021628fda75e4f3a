"""The words of the satisfaction survey form (SURVEY.md), its number, and the blank form itself.

Like `formtext.py` for the monthly form, this is the one place that spells
the survey form's title, labels, scoring legend and answer words:
`render_survey_form` writes the form into the survey mail and `survey.py`
reads responses by the same constants, so writer and reader cannot drift
apart.  The end marker and the 填报人 / 联系电话 labels are the monthly
form's own, so both forms end and sign the same way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from parsers.formtext import LABEL_NAME, LABEL_PHONE, MARK_END, FormRow, marker

SURVEY_TITLE = "满意度调查"
LABEL_TOKEN = "编号"
LABEL_CUSTOMER = "客户"
LABEL_SCORING = "评分"

# The scale as the 评分 line teaches it, best first.
SCALE: tuple[tuple[int, str], ...] = ((5, "非常满意"), (4, "满意"), (3, "一般"), (2, "不满意"), (1, "非常不满意"))
NO_IDEA = "不了解"
LEGEND = " ".join(f"{score} {word}" for score, word in SCALE) + f'；不了解的可填"{NO_IDEA}"'

# Every word a respondent may answer a scored question with (SURVEY.md "What an answer means").
SCORE_WORDS: dict[str, int] = {
    **{word: score for score, word in SCALE},
    "比较满意": 4, "较满意": 4, "基本满意": 3, "较差": 2, "很差": 1,
}
# "No answer" to a scored question: null, never a zero.
NO_ANSWER_WORDS = frozenset({NO_IDEA, "不清楚", "n/a", "na"})

# Questions are numbered 1.–30. (a survey is short; the bound keeps the reader linear on hostile input).
MAX_QUESTIONS = 30

# MY-<yyyy>-<nn>-<customer code> (nn two digits or more, as the survey plan allows); read after NFKC, any dash "-".
_TOKEN = re.compile(r"(?<![A-Z0-9])MY\s*-\s*(\d{4})\s*-\s*(\d{2,4})\s*-\s*([SV])\s*(\d{1,6})(?![A-Z0-9])",
                    re.IGNORECASE)
_NOT_IN_QUESTION = re.compile(r"[\n\t:：]")
_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−"})


@dataclass(frozen=True)
class Question:
    """One question of a survey, as the YAML defines it."""

    text: str
    scored: bool


@dataclass(frozen=True)
class SurveyToken:
    """A survey form's number: `MY-2026-01-S001`, its survey `MY-2026-01` and customer `S001`."""

    text: str
    survey: str
    customer: str


def fold(text: str) -> str:
    """Text as the reader compares it: NFKC (half-width digits, colons, brackets), every dash a "-"."""
    return unicodedata.normalize("NFKC", text).translate(_DASHES)


def find_survey_token(text: str | None) -> SurveyToken | None:
    """The first survey number in `text`, normalised (upper case, half width); None when there is none."""
    if not text:
        return None
    match = _TOKEN.search(fold(text))
    if match is None:
        return None
    year, number, kind, digits = match.groups()
    survey = f"MY-{year}-{number}"
    customer = f"{kind.upper()}{digits}"
    return SurveyToken(f"{survey}-{customer}", survey, customer)


def question_span(numbers: Collection[int]) -> str:
    """Which questions are scored, as the 评分 line names them: 第1–6题 when contiguous, else 第1、2、4题."""
    ordered = sorted(set(numbers))
    if not ordered:
        raise ValueError("no scored question")
    if len(ordered) > 1 and ordered[-1] - ordered[0] == len(ordered) - 1:
        return f"第{ordered[0]}–{ordered[-1]}题"
    return "第" + "、".join(str(n) for n in ordered) + "题"


def survey_rows(*, token: str, customer_code: str, customer_name: str,
                questions: Sequence[Question]) -> list[FormRow]:
    """The blank survey form as rows (`formtext.FormRow`), for the mail body and the .xlsx alike.

    Raises ValueError for a form the reader could not read back: a token
    that is not `MY-<yyyy>-<nn>-<customer code>` of this customer, no scored
    question, more than MAX_QUESTIONS questions, or a question text with a
    line break, a tab or a colon inside.
    """
    parsed = find_survey_token(token)
    if parsed is None or parsed.text != token or parsed.customer != customer_code:
        raise ValueError(f"survey token must be MY-yyyy-nn-{customer_code}, got {token!r}")
    if not 0 < len(questions) <= MAX_QUESTIONS:
        raise ValueError(f"a survey has 1–{MAX_QUESTIONS} questions, got {len(questions)}")
    texts = [q.text.strip().rstrip(":：").strip() for q in questions]
    if any(not text or _NOT_IN_QUESTION.search(text) for text in texts):
        # A label ends at its first colon (or a tab, a table cell's edge): the rest would read as the answer.
        raise ValueError("each question is one non-empty line without a colon or tab")
    scored = [n for n, q in enumerate(questions, 1) if q.scored]
    rows = [
        FormRow("marker", f"{marker(SURVEY_TITLE)}{LABEL_TOKEN}：{token}"),
        FormRow("prefilled", LABEL_CUSTOMER, f"{customer_code} {customer_name}".rstrip(), "customer"),
        FormRow("prefilled", f"{LABEL_SCORING}（{question_span(scored)}）", LEGEND, "scoring"),
        *(FormRow("answer", f"{n}. {text}", key=str(n)) for n, text in enumerate(texts, 1)),
        FormRow("answer", LABEL_NAME, key="name"),
        FormRow("answer", LABEL_PHONE, key="phone"),
        FormRow("marker", marker(MARK_END)),
    ]
    return rows


def render_survey_form(*, token: str, customer_code: str, customer_name: str,
                       questions: Sequence[Question]) -> str:
    """The blank survey form exactly as SURVEY.md shows it; no answer is ever filled in (see `survey_rows`)."""
    rows = survey_rows(token=token, customer_code=customer_code, customer_name=customer_name, questions=questions)
    return "\n".join(row.text if row.kind == "marker" else f"{row.text}：{row.value}" for row in rows) + "\n"
