"""A demo month's outbox as comparable text: one block per mail, dates and Message-IDs masked.

    python tools/demo_outbox.py DEMO_DIR > a.txt      (after `mailbot demo --dir DEMO_DIR`)

Two checkouts that send the same mails print the same text, whatever the run's clock and random ids: the
recipients, subject, every text part and every attachment's name and size (the .ics and .xlsx carry stamps, so
their bytes are summarised, not compared). `diff` the two files to see what a change did to the month's mail.
"""

from __future__ import annotations

import email
import email.policy
import re
import sys
from pathlib import Path

_MASKS = [
    (re.compile(r"<[^<>@\s]+@[^<>\s]+>"), "<id>"),                      # Message-IDs
    (re.compile(r"\d{8}T\d{6}Z?"), "<stamp>"),                          # iCalendar stamps
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?\S*"), "<time>"),
]


def mask(text: str) -> str:
    for pattern, repl in _MASKS:
        text = pattern.sub(repl, text)
    return text


def describe(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    out = [f"To: {msg['To']}", f"Cc: {msg['Cc'] or ''}", f"Subject: {msg['Subject']}"]
    for part in msg.walk():
        if part.is_multipart():
            continue
        name = part.get_filename()
        if name:
            out.append(f"[attachment {name} {part.get_content_type()}]")
        elif part.get_content_type() in ("text/plain", "text/html"):
            out.append(f"--- {part.get_content_type()}\n{mask(part.get_content().replace(chr(13), ''))}")
    return "\n".join(out)


def main(demo_dir: str) -> int:
    files = sorted((Path(demo_dir) / "outbox").rglob("*"))
    blocks = sorted(describe(f.read_bytes()) for f in files if f.is_file())
    print(f"{len(blocks)} mails")
    print("\n\n=====\n".join(blocks))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
