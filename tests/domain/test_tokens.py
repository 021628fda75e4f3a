"""Report numbers: issued with a tag, split back into period and unit, forged tags recognised."""

from mailbot.domain.tokens import make_token, split_token, tag_is_valid


def test_token_without_secret_is_plain() -> None:
    # With no secret configured the number is KCR-yyyymm-UNIT and always passes.
    t = make_token("2026-11", "GD", None)
    assert t == "KCR-202611-GD"
    assert split_token(t) == ("2026-11", "GD") and tag_is_valid(t, None)


def test_tagged_token_round_trips_and_detects_forgery() -> None:
    # The HMAC tag is stable for the same key and refuses another unit's or a typed-in tag.
    t = make_token("2026-11", "GD", b"k")
    assert t.startswith("KCR-202611-GD-") and len(t) == len("KCR-202611-GD-") + 4
    assert make_token("2026-11", "GD", b"k") == t
    assert tag_is_valid(t, b"k") and tag_is_valid(t.lower().replace("kcr", "KCR").replace("gd", "GD"), b"k")
    assert not tag_is_valid("KCR-202611-GD-0000", b"k")
    assert not tag_is_valid("KCR-202611-GD", b"k")
    assert split_token("KCR-2026-GD") is None
