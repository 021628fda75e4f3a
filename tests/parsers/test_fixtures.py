"""Every hand-written reply in tests/fixtures/replies parses to its expected JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parsers import parse_message

REPLIES = Path(__file__).resolve().parents[1] / "fixtures" / "replies"
PAIRS = sorted(REPLIES.glob("*.eml"))


def test_there_are_enough_fixtures() -> None:
    # The fixture set covers every FORM.md tolerance; it must not silently shrink.
    assert len(PAIRS) >= 25
    assert all(p.with_suffix(".expected.json").exists() for p in PAIRS)


@pytest.mark.parametrize("eml", PAIRS, ids=[p.stem for p in PAIRS])
def test_fixture_parses_to_expected_json(eml: Path) -> None:
    # A realistic reply gives exactly the `mailbot parse --json` object written for it.
    expected = json.loads(eml.with_suffix(".expected.json").read_text(encoding="utf-8"))
    got = parse_message(eml.read_bytes()).as_json()
    assert json.loads(json.dumps(got, ensure_ascii=False)) == expected
    assert list(got) == list(expected)
