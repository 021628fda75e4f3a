"""How log lines are written: text for a terminal, or one JSON object a line for journald, Loki and the like.

`mailbot --log-format json` (or `MAILBOT_LOG_FORMAT=json` in the unit's or the container's environment) makes
each line an object a collector can index without a parsing rule: time, level, logger, message — and the
`inbound_id` / `outbox_id` that the pipeline and the outbox pass with `extra=` on their log calls, so the lines
about one message can be found by its id rather than by matching text. The message is the same text the text
format prints; only the envelope changes. Standard library only.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone

FORMATS = ("text", "json")
ENV = "MAILBOT_LOG_FORMAT"
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes a log call may carry with `extra=` that belong in the object (ids, never message content).
IDS = ("inbound_id", "outbox_id")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback goes inside, as `exc`)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            # UTC with milliseconds: collectors sort by it, and the daemon's clock zone is not the reader's.
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in IDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # Names stay readable Chinese (no \u escapes); json escapes newlines, so a record stays one line.
        return json.dumps(line, ensure_ascii=False, default=str)


def default_format() -> str:
    """The format when the command line says none: the environment's, else text."""
    value = os.environ.get(ENV, "").strip().lower()
    return value if value in FORMATS else "text"


def formatter(kind: str) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else logging.Formatter(TEXT)
