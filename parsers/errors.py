"""Exceptions raised by the parsing package.

Parsing problems a sender must fix are values (`Problem`), never exceptions;
the only exception here is for bytes that are not a mail message at all.
"""

from __future__ import annotations


class UnreadableMessage(Exception):
    """The bytes cannot be read as an RFC 5322 message (empty, binary, no header)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
