"""Finding field labels inside one form block, and what each field holds.

A label is the text before the first colon of a line (or before a tab, which
is how a table cell boundary reaches us from `htmltext`).  Whether such a
line really is a label, rather than answer text that happens to contain a
colon, is decided for the whole block at once:

* every line that could be a label becomes a candidate for one or more
  fields, scored by how well it fits: a numbered line whose number is the
  field's and whose label text shares wording with the official label is
  strong (2 + Dice similarity of character bigrams); a numbered line with
  unrelated text is weak (1); an un-numbered line is a candidate only by
  keywords (风险等级, 需总部协调, 问题/诉求 …) or a near-exact official label;
* the labels chosen are the highest-scoring chain whose fields appear in
  form order at increasing lines (a small dynamic programme, linear in the
  number of lines).

So in a field-4 answer, "1. 与省政府沟通：已完成" cannot be a label (field 1
cannot follow field 4); in a field-1 answer, "2. 方案B：推进中" loses to the
real "2. 对全国性产品…：" line further down (two strong labels outscore one
weak one), as does "5. 合同续签：…" to "5. 合同签订、执行方面…：" (higher
similarity); and a label the unit shortened or edited ("3. 跟踪进展：")
still counts.  Lines before the first chosen label
are returned separately so the caller can warn that they were ignored.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

_COLON = re.compile(r"[:：]")
_NUMBERED = re.compile(
    r"^(?:[(（]\s*(\d{1,2})\s*[)）]|(\d{1,2})(?:\s*[.．、)）](?![\d０-９])|\s+)|([①-⑳])|([⑴-⒇]))\s*(.*)$"
)
_ONLY_NUMBER = re.compile(r"^\s*(?:[(（]?\s*\d{1,2}\s*[.．、)）]?|[①-⑳⑴-⒇])\s*$")
_OPTIONS = re.compile(r"[（(][^）)]*[）)]?")
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_MAX_LABEL = 40
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class FieldSpec:
    """A field a block may hold; `number` for the nine items, keywords otherwise."""

    key: str
    canonical: str
    number: int | None = None
    keywords: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()   # label texts that match as a whole


@dataclass(frozen=True)
class Candidate:
    line: int
    order: int
    score: float
    rest: str


@functools.lru_cache(maxsize=4096)  # the same labels are scored against every line: ~18 % of ingest before
def _bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i:i + 2] for i in range(len(text) - 1))


def dice(a: str, b: str) -> float:
    """Dice coefficient of character bigrams (0..1), cheap and script-neutral."""
    x, y = _bigrams(a), _bigrams(b)
    if not x or not y:
        return 1.0 if a and a == b else 0.0
    return 2 * len(x & y) / (len(x) + len(y))


def split_label(text: str) -> tuple[str, str] | None:
    """(label, rest) when the line has a colon (or a cell tab) after short text."""
    tab = text.find("\t")
    if tab >= 0 and _ONLY_NUMBER.match(text[:tab]):
        # Outlook's plain text writes list numbers as "1.<tab>…": that tab is a space.
        text = text[:tab] + " " + text[tab + 1:]
        tab = text.find("\t")
    colon = _COLON.search(text)
    if colon is not None and (tab < 0 or colon.start() < tab):
        label, rest = text[:colon.start()], text[colon.end():]
    elif tab >= 0:
        label, rest = text[:tab], text[tab + 1:]
    else:
        return None
    label = label.strip()
    if len(label) > _MAX_LABEL:
        return None
    return label, rest.strip()


def split_number(label: str) -> tuple[int | None, str]:
    """("1．执行情况") → (1, "执行情况"); un-numbered labels give (None, label)."""
    match = _NUMBERED.match(label.translate(_FULLWIDTH_DIGITS))
    if match is None:
        return None, label
    paren, plain, circled, paren_circled, rest = match.groups()
    if circled:
        number = ord(circled) - ord("①") + 1
    elif paren_circled:
        number = ord(paren_circled) - ord("⑴") + 1
    else:
        number = int(paren or plain)
    return number, rest.strip()


def _score(spec: FieldSpec, number: int | None, text: str) -> float | None:
    # Similarity is worked out only for a line that can still be this field: most pairs are ruled out by number.
    if spec.number is not None:
        if number == spec.number:
            if not text:
                return 2.0
            similarity = dice(text, spec.canonical)
            return 2.0 + similarity if similarity > 0 else 1.0
        if number is None and (similarity := dice(text, spec.canonical)) >= 0.7:
            return 2.0 + similarity
        return None
    if text in spec.exact or any(word in text for word in spec.keywords):
        return 2.0 + dice(text, spec.canonical)
    return None


def candidates(lines: Sequence[str], specs: Sequence[FieldSpec]) -> list[Candidate]:
    found: list[Candidate] = []
    for index, line in enumerate(lines):
        split = split_label(line)
        if split is None:
            continue
        label, rest = split
        number, text = split_number(label)
        text = _OPTIONS.sub("", text).strip()
        for order, spec in enumerate(specs):
            if number is not None and spec.number is not None and spec.number != number:
                continue  # "3. …" is never field 5's label (the cheap test _score would make first)
            score = _score(spec, number, text)
            if score is not None:
                found.append(Candidate(index, order, score, rest))
    return found


def choose_labels(found: Sequence[Candidate], field_count: int) -> list[Candidate]:
    """The best chain of labels: fields in form order at increasing lines."""
    best: list[tuple[float, int]] = [(0.0, -1)] * field_count   # (score, candidate index)
    back = [-1] * len(found)
    i = 0
    while i < len(found):
        j = i
        while j < len(found) and found[j].line == found[i].line:
            j += 1
        # Prefix maxima are taken before this line's candidates update them,
        # so one line never supplies two labels.
        prefix: list[tuple[float, int]] = []
        running = (0.0, -1)
        for f in range(field_count):
            prefix.append(running)
            if best[f][0] > running[0]:
                running = best[f]
        for k in range(i, j):
            cand = found[k]
            score, prev = prefix[cand.order]
            back[k] = prev
            if score + cand.score > best[cand.order][0]:
                best[cand.order] = (score + cand.score, k)
        i = j
    k = max(best, key=lambda item: item[0])[1]
    chain: list[Candidate] = []
    while k >= 0:
        chain.append(found[k])
        k = back[k]
    chain.reverse()
    return chain


def read_fields(
    lines: Sequence[str], specs: Sequence[FieldSpec], hints: frozenset[str]
) -> tuple[dict[str, list[str]], list[str]]:
    """Answer lines per field key (only fields whose label was found), and
    the non-blank lines before the first label.  Hint lines are dropped."""
    chain = choose_labels(candidates(lines, specs), len(specs))
    answers: dict[str, list[str]] = {}
    first = chain[0].line if chain else len(lines)
    preamble = without_hints(lines[:first], hints)
    for n, cand in enumerate(chain):
        stop = chain[n + 1].line if n + 1 < len(chain) else len(lines)
        answers[specs[cand.order].key] = without_hints([cand.rest, *lines[cand.line + 1:stop]], hints)
    return answers, preamble


def normalise_hint(line: str) -> str:
    """Hint lines compare without spaces and with half-width brackets widened."""
    return _SPACES.sub("", line).replace("(", "（").replace(")", "）")


def without_hints(lines: Sequence[str], hints: frozenset[str]) -> list[str]:
    """Non-blank lines with the bot's hint lines removed.

    A person may type right after a hint on the same line; then only the
    hint itself is dropped.
    """
    kept = []
    for line in lines:
        if line and line[0] in "（(":
            norm = normalise_hint(line)
            hint = next((h for h in hints if norm.startswith(h)), None)
            if hint is not None:
                closes = [i for i in (line.find("）"), line.find(")")) if i >= 0]
                line = line[min(closes) + 1:].strip() if closes and norm != hint else ""
        if line:
            kept.append(line)
    return kept
