"""Plain data shared by the form reader and the message parser.

Kept apart from `message.py` so that `form.py` can build blocks without an
import cycle; `parsers.message` re-exports every name defined here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Problem:
    """An error or warning about one place in a message; `message` is Chinese."""

    where: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"where": self.where, "message": self.message}


@dataclass(frozen=True)
class StrategicBlock:
    """One 【战略客户】 block: the nine §8.1.1 items, risk level and the HQ flag."""

    customer: str
    items: dict[str, str | None]
    risk: str | None
    needs_hq: bool | None

    def as_json(self) -> dict[str, object]:
        return {
            "customer": self.customer,
            "items": {str(n): self.items.get(str(n)) for n in range(1, 10)},
            "risk": self.risk,
            "needs_hq": self.needs_hq,
        }


@dataclass(frozen=True)
class VipBlock:
    """One 【VIP客户】 block (§8.1.2)."""

    customer: str
    issue: str | None
    handling: str | None
    needs_hq: bool | None

    def as_json(self) -> dict[str, object]:
        return {
            "customer": self.customer,
            "issue": self.issue,
            "handling": self.handling,
            "needs_hq": self.needs_hq,
        }


@dataclass(frozen=True)
class Attachment:
    """A part the sender attached; the name is decoded (RFC 2231/2047, GB charsets)."""

    filename: str
    content_type: str


@dataclass(frozen=True)
class Envelope:
    """The headers the pipeline routes by, decoded.

    `automatic_reasons` lists why the message is automatic mail that must
    never be answered (DESIGN.md "Automatic mail"); empty means a person
    wrote it. `from_addr` is empty unless the From header held exactly one
    strictly parsed address (`envelope.read_sender`).
    """

    from_addr: str
    from_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    date: datetime | None
    automatic_reasons: tuple[str, ...]
    from_problem: str | None = None          # why the From header names no sender we could trust (Chinese)
    auth_results: tuple[str, ...] = ()       # Authentication-Results values, topmost (newest) first, unfolded

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """The Message-IDs this message answers: In-Reply-To first, then References."""
        return tuple(i for i in (self.in_reply_to, *self.references) if i)
