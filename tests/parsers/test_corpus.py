"""The shared real-world corpus: every file decoded and classified, nothing without a reason.

Each of the 504 files either parses (any kind, JSON that prints as UTF-8)
or is refused with `UnreadableMessage` carrying a reason; only files that
are no mail at all (raw TNEF blobs, Outlook .msg) may be refused.  The
counts by kind are pinned per source directory, so a change in
classification shows up here and in the README's table, which
`corpus_table.py` prints from the same `classify_corpus`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from parsers import UnreadableMessage, parse_message

from tests.parsers.corpus_table import CORPUS, KINDS, SourceCount, classify_corpus, corpus_files, markdown

# Files that are not RFC 5322 messages at all: raw TNEF blobs and Outlook .msg (OLE2) files.
NOT_MESSAGES = (".tnef", ".msg")
NOT_MESSAGE_NAMES = {"mail_outlook_1"}   # spamscope's sample is an Outlook .msg without extension

FILES = corpus_files()
pytestmark = pytest.mark.skipif(not FILES, reason=f"shared corpus not found at {CORPUS}")

# source → (files, bounce, auto_reply, monthly_report, urgent_report, unknown, unreadable, charset guessed)
PINNED: dict[str, tuple[int, ...]] = {
    "crisp-email-reply-parser": (22, 0, 0, 0, 0, 22, 0, 7),
    "enmime": (27, 1, 0, 0, 0, 26, 0, 2),
    "flanker": (27, 3, 1, 0, 0, 23, 0, 0),
    "mailing-lists": (117, 5, 0, 0, 1, 111, 0, 0),
    "msg-extractor": (2, 0, 0, 0, 0, 0, 2, 0),
    "nodemailer-mailparser": (6, 1, 0, 0, 0, 5, 0, 0),
    "php-mime-mail-parser": (23, 1, 0, 0, 0, 22, 0, 1),
    "quotequail": (13, 0, 0, 0, 0, 13, 0, 4),
    "ruby-mail": (44, 1, 0, 0, 0, 43, 0, 4),
    "spamscope-mail-parser": (22, 1, 0, 0, 2, 18, 1, 2),
    "stalwart-mail-parser": (43, 0, 0, 0, 0, 43, 0, 3),
    "talon": (26, 0, 0, 0, 0, 26, 0, 2),
    "tnefparse": (10, 0, 0, 0, 0, 0, 10, 0),
    "zammad": (81, 3, 2, 0, 1, 75, 0, 4),
    "zapier-email-reply-parser": (12, 0, 0, 0, 0, 12, 0, 5),
    "zbateson-mail-mime-parser": (29, 0, 0, 0, 1, 28, 0, 2),
}


@pytest.fixture(scope="module")
def table() -> dict[str, SourceCount]:
    return classify_corpus(FILES)


def _is_not_a_message(path: Path) -> bool:
    return path.suffix in NOT_MESSAGES or path.name in NOT_MESSAGE_NAMES


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_corpus_file_parses(path: Path) -> None:
    # A real-world file parses (or, only if it is no message at all, is refused with a reason) and serialises.
    raw = path.read_bytes()
    if _is_not_a_message(path):
        with pytest.raises(UnreadableMessage) as refused:
            parse_message(raw)
        assert refused.value.reason.startswith("不是邮件：")
        return
    parsed = parse_message(raw)
    json.dumps(parsed.as_json(), ensure_ascii=False).encode("utf-8")
    assert parsed.kind in KINDS


def test_corpus_counts_by_kind_are_pinned(table: dict[str, SourceCount]) -> None:
    # Per source directory, the files by kind, the refused ones and the charset guesses stay as pinned.
    got = {name: (row.files, *(row.kinds.get(k, 0) for k in KINDS), sum(row.unreadable.values()),
                  row.charset_guessed) for name, row in table.items()}
    assert got == PINNED
    assert sum(row[0] for row in PINNED.values()) == len(FILES) == 504


def test_every_refusal_has_a_reason(table: dict[str, SourceCount]) -> None:
    # Every UnreadableMessage says why; the 13 refusals are the TNEF blobs and the Outlook .msg files.
    reasons: Counter[str] = Counter()
    for row in table.values():
        reasons.update(row.unreadable)
    assert all(reason.strip() for reason in reasons)
    assert reasons == {
        "不是邮件：这是 winmail.dat（TNEF）数据本身，它只能作为邮件的附件读取": 10,
        "不是邮件：这是 Outlook .msg（OLE2）文件，请另存为 .eml 或直接转发该邮件": 3,
    }


def test_corpus_table_prints_markdown(table: dict[str, SourceCount]) -> None:
    # The README's table: a header row, one row per source, a total row, then the refusal reasons.
    text = markdown(table)
    lines = text.split("\n")
    assert lines[0].startswith("| source | files | bounce | auto_reply | monthly_report |")
    assert sum(1 for line in lines if line.startswith("| `")) == len(PINNED)
    assert "| **total** | 504 |" in text and "10 × 不是邮件：这是 winmail.dat" in text
