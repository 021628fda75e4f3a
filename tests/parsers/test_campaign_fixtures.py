"""Every hand-written campaign feedback reply in tests/fixtures/campaigns parses to its expected JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parsers import parse_message

CAMPAIGNS = Path(__file__).resolve().parents[1] / "fixtures" / "campaigns"
PAIRS = sorted(CAMPAIGNS.glob("*.eml"))


def _key_order(value: object) -> object:
    """The JSON with every object's keys listed, so that key order is compared too (CAMPAIGN.md's order)."""
    if isinstance(value, dict):
        return [(key, _key_order(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_key_order(item) for item in value]
    return value


def test_there_are_enough_fixtures() -> None:
    # The fixture set covers CAMPAIGN.md's form and its tolerances; it must not silently shrink.
    assert len(PAIRS) >= 20
    assert all(p.with_suffix(".expected.json").exists() for p in PAIRS)


@pytest.mark.parametrize("eml", PAIRS, ids=[p.stem for p in PAIRS])
def test_fixture_parses_to_expected_json(eml: Path) -> None:
    # A realistic reply gives exactly the `mailbot parse --json` object written for it, keys in order.
    expected = json.loads(eml.with_suffix(".expected.json").read_text(encoding="utf-8"))
    got = json.loads(json.dumps(parse_message(eml.read_bytes()).as_json(), ensure_ascii=False))
    assert got == expected
    assert _key_order(got) == _key_order(expected)
