"""The monthly cycle's commands: `send-requests`, `remind`, `escalate` — each safe to run twice, `--dry-run`
shows what would be sent. (Imports inside the handlers keep `mailbot --help` and `mailbot parse` fast.)"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Add = Callable[..., argparse.ArgumentParser]   # cli's add(name, handler, help) → the subcommand's parser


def register(add: Add) -> None:
    for name, handler, text in (
            ("send-requests", send_requests, "send this month's report request to every unit"),
            ("remind", remind, "remind units that have not reported"),
            ("escalate", escalate, "write to the leaders of units that have not reported")):
        sp = add(name, handler, text)
        sp.add_argument("--period", help="YYYY-MM (default: this month)")
        sp.add_argument("--dry-run", action="store_true", help="show what would be sent; change nothing")
        if name == "remind":
            sp.add_argument("--stage", help="reminder stage for the idempotency key, e.g. T-3")


def send_requests(args: argparse.Namespace) -> int:
    return _run(args, "request")


def remind(args: argparse.Namespace) -> int:
    return _run(args, "reminder")


def escalate(args: argparse.Namespace) -> int:
    return _run(args, "escalation")


def _run(args: argparse.Namespace, job: str) -> int:
    from mailbot.app import deliver_now, open_app
    from mailbot.domain.due import month_key
    from mailbot.reports import schedule

    app = open_app(args.config)
    period = month_key(args.period, app.today())
    plan: Any
    if job == "request":
        plan = schedule.send_requests(app, period, dry_run=args.dry_run)
    elif job == "reminder":
        plan = schedule.remind(app, period, args.stage or f"manual-{app.today():%Y%m%d}", dry_run=args.dry_run)
    else:
        plan = schedule.escalate(app, period, dry_run=args.dry_run)
    print(plan.report(args.dry_run))
    if not args.dry_run:
        print(deliver_now(app))
    return 0
