"""Report numbers (报告编号): `KCR-<yyyymm>-<unit>[-<tag>]`.

The tag is a short HMAC of the rest, so a number typed by hand or copied from
another unit's mail is recognisably not one we issued. Without a configured
secret the number carries no tag; matching then rests on the sender being a
registered contact of the unit, which is checked in any case.
"""

from __future__ import annotations

import hashlib
import hmac
import re

TOKEN = re.compile(r"KCR-(\d{4})(\d{2})-([A-Z0-9]{2,12})(?:-([0-9A-Fa-f]{4,16}))?")


def make_token(period_key: str, unit_code: str, secret: bytes | None) -> str:
    base = f"KCR-{period_key.replace('-', '')}-{unit_code}"
    if not secret:
        return base
    return f"{base}-{_tag(base, secret)}"


def _tag(base: str, secret: bytes) -> str:
    return hmac.new(secret, base.encode(), hashlib.sha256).hexdigest()[:4].upper()


def split_token(token: str) -> tuple[str, str] | None:
    """(period key, unit code) of a well-formed number, else None."""
    m = TOKEN.fullmatch(token.strip())
    if m is None:
        return None
    return f"{m.group(1)}-{m.group(2)}", m.group(3)


def tag_is_valid(token: str, secret: bytes | None) -> bool:
    """True when the tag matches; a number without a tag passes only when we issue none."""
    m = TOKEN.fullmatch(token.strip())
    if m is None:
        return False
    base = token.strip()[: m.end(3)]
    if not secret:
        return True
    return m.group(4) is not None and hmac.compare_digest(m.group(4).upper(), _tag(base, secret))
