"""The shared real-world corpus goes through parse_message without an exception."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parsers import UnreadableMessage, parse_message

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
# Files that are not RFC 5322 messages at all: raw TNEF blobs and Outlook .msg (OLE2) files.
NOT_MESSAGES = (".tnef", ".msg")
NOT_MESSAGE_NAMES = {"mail_outlook_1"}   # spamscope's sample is an Outlook .msg without extension


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix not in (".md", ".csv"))


FILES = _corpus_files()
pytestmark = pytest.mark.skipif(not FILES, reason=f"shared corpus not found at {CORPUS}")


def _is_not_a_message(path: Path) -> bool:
    return path.suffix in NOT_MESSAGES or path.name in NOT_MESSAGE_NAMES


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_corpus_file_parses(path: Path) -> None:
    # A real-world file parses (or, only if it is no message at all, is refused) and serialises.
    raw = path.read_bytes()
    if _is_not_a_message(path):
        with pytest.raises(UnreadableMessage):
            parse_message(raw)
        return
    parsed = parse_message(raw)
    json.dumps(parsed.as_json(), ensure_ascii=False)
    assert parsed.kind in {"bounce", "auto_reply", "monthly_report", "urgent_report", "unknown"}


def test_corpus_counts() -> None:
    # Sanity figures: the corpus is the expected size and only the 13 non-messages are refused.
    refused = 0
    kinds: dict[str, int] = {}
    for path in FILES:
        try:
            kind = parse_message(path.read_bytes()).kind
        except UnreadableMessage:
            refused += 1
            assert _is_not_a_message(path), path
            continue
        kinds[kind] = kinds.get(kind, 0) + 1
    assert len(FILES) >= 500
    assert refused == sum(1 for p in FILES if _is_not_a_message(p)) == 13
    assert kinds.get("bounce", 0) >= 10
