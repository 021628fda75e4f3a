"""Pure parsing for mailbot: raw mail bytes → `ParsedMessage`, and the blank form.

No I/O happens here (no files, network, clock or database).  The pipeline
calls `parse_message`; the request mailer calls `render_form`.
"""

from parsers.errors import UnreadableMessage
from parsers.formtext import CATEGORY_LABELS, render_form
from parsers.message import (
    Envelope,
    ParsedMessage,
    Problem,
    StrategicBlock,
    VipBlock,
    parse_message,
)

__all__ = [
    "CATEGORY_LABELS",
    "Envelope",
    "ParsedMessage",
    "Problem",
    "StrategicBlock",
    "VipBlock",
    "UnreadableMessage",
    "parse_message",
    "render_form",
]
