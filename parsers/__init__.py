"""Pure parsing for mailbot: raw mail bytes → `ParsedMessage`, and the blank form.

No I/O happens here (no files, network, clock or database).  The pipeline
calls `parse_message`; the request mailer calls `render_form` (and, for the
.xlsx copy, `mailbot.xlsxform.build_workbook`, which lays out the same
`formtext.form_rows`).

Inside: `mime` decodes the MIME tree (with `charsets`, `htmltext`, and
`tnef` + `rtf` for Outlook's winmail.dat), `quotes` splits new text from
the quoted original, `form` + `fields` read the form from text and
`xlsxform` from a returned workbook, `classify` names the kind, and
`message` runs those stages in order.  tnefparse and openpyxl are imported
only when a message carries such an attachment.
"""

from parsers.errors import UnreadableMessage
from parsers.formtext import CATEGORY_LABELS, render_form
from parsers.message import (
    Envelope,
    ParsedMessage,
    Problem,
    StrategicBlock,
    VipBlock,
    looks_urgent,
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
    "looks_urgent",
    "parse_message",
    "render_form",
]
