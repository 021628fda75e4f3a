"""Text for a terminal: columns that line up when CJK characters take two cells."""

from __future__ import annotations


def pad(text: str, width: int) -> str:
    """Left-justify in a terminal, where a CJK character takes two columns."""
    cols = sum(2 if ord(c) >= 0x2E80 else 1 for c in text)
    return text + " " * max(width - cols, 1)
