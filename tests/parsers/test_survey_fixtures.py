"""Every hand-written survey reply in tests/fixtures/surveys parses to its expected JSON (SURVEY.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parsers import parse_message

SURVEYS = Path(__file__).resolve().parents[1] / "fixtures" / "surveys"
PAIRS = sorted(SURVEYS.glob("*.eml"))


def test_there_are_enough_fixtures() -> None:
    # The fixture set covers the clients and every answer rule of SURVEY.md; it must not silently shrink.
    assert len(PAIRS) >= 15
    assert all(p.with_suffix(".expected.json").exists() for p in PAIRS)


@pytest.mark.parametrize("eml", PAIRS, ids=[p.stem for p in PAIRS])
def test_fixture_parses_to_expected_json(eml: Path) -> None:
    # A realistic survey reply gives exactly the `mailbot parse --json` object written for it, keys in order.
    expected = json.loads(eml.with_suffix(".expected.json").read_text(encoding="utf-8"))
    got = parse_message(eml.read_bytes()).as_json()
    assert json.loads(json.dumps(got, ensure_ascii=False)) == expected
    assert list(got) == list(expected)
