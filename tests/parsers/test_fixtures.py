"""Every hand-written reply in tests/fixtures parses to its expected JSON: the monthly form (FORM.md) in
replies/, survey responses (SURVEY.md) in surveys/, campaign feedback (CAMPAIGN.md) in campaigns/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parsers import parse_message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# Each set covers its contract's form and every tolerance it names; none may silently shrink.
AT_LEAST = {"replies": 25, "surveys": 20, "campaigns": 20}
PAIRS = sorted(p for folder in AT_LEAST for p in (FIXTURES / folder).glob("*.eml"))


def _key_order(value: object) -> object:
    """The JSON with every object's keys listed, so that key order is compared too, at every level."""
    if isinstance(value, dict):
        return [(key, _key_order(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_key_order(item) for item in value]
    return value


@pytest.mark.parametrize("folder", sorted(AT_LEAST))
def test_there_are_enough_fixtures(folder: str) -> None:
    pairs = list((FIXTURES / folder).glob("*.eml"))
    assert len(pairs) >= AT_LEAST[folder]
    assert all(p.with_suffix(".expected.json").exists() for p in pairs)


@pytest.mark.parametrize("eml", PAIRS, ids=[f"{p.parent.name}/{p.stem}" for p in PAIRS])
def test_fixture_parses_to_expected_json(eml: Path) -> None:
    # A realistic reply gives exactly the `mailbot parse --json` object written for it, keys in order.
    expected = json.loads(eml.with_suffix(".expected.json").read_text(encoding="utf-8"))
    got = json.loads(json.dumps(parse_message(eml.read_bytes()).as_json(), ensure_ascii=False))
    assert got == expected
    assert _key_order(got) == _key_order(expected)
