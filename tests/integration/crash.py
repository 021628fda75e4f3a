"""Run the `mailbot` command with a power cut injected right after one pipeline stage.

    python tests/integration/crash.py STAGE [mailbot arguments…]

The named function runs normally, then the process sends itself SIGKILL: no
`finally`, no rollback, no QUIT or LOGOUT — what a crash or `kill -9` leaves
behind. The stages are the hand-offs the design promises survive a crash:

    recorded     after `intake.record` committed the raw message
    processed    after `intake.process` committed its effects, before `mark_done`
    marked_done  after the mailbox moved the pass's messages, before the loop's delivery (urgent matters' mails went mid-pass)
    sent         after the SMTP server accepted DATA, before the outbox row is marked sent

Before dying it writes one line, `crash: SIGKILL after <stage>`, so the test can
tell the intended crash from any other death.
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

STAGES = {
    "recorded": ("mailbot.pipeline.intake", "record"),
    "processed": ("mailbot.pipeline.intake", "process"),
    "marked_done": ("mailbot.mailboxes.imap", "ImapMailbox._move_all"),
    "sent": ("mailbot.outbox.smtp", "SmtpTransport.send"),
}


def crash_after(stage: str) -> None:
    module_name, attr = STAGES[stage]
    owner: Any = importlib.import_module(module_name)
    *path, name = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def then_die(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        sys.stderr.write(f"crash: SIGKILL after {stage}\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    setattr(owner, name, then_die)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in STAGES:
        sys.stderr.write(f"usage: crash.py {{{','.join(STAGES)}}} [mailbot arguments]\n")
        return 2
    crash_after(sys.argv[1])
    from mailbot.cli import main as mailbot

    return mailbot(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
