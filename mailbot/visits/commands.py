"""The visits' command: `visit plan FILE.yaml` records or changes a visit, `visit cancel VIS-…` cancels it;
the units and attendees get the notice and the calendar invitation."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Add = Callable[..., argparse.ArgumentParser]   # cli's add(name, handler, help) → the subcommand's parser


def register(add: Add) -> None:
    sp = add("visit", visit, "plan, change or cancel a customer visit; the units get the notice and invitation")
    sp.add_argument("action", choices=["plan", "cancel"])
    sp.add_argument("target", help="plan: the visit file (see config/visit.example.yaml); cancel: VIS-yyyy-nnnn")
    sp.add_argument("--reason", default="", help="cancel: why, told to everyone invited")
    sp.add_argument("--dry-run", action="store_true", help="show what would be sent; change nothing")


def visit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mailbot.app import deliver_now, open_app
    from mailbot.visits.store import cancel_visit, plan_visit

    app = open_app(args.config)
    if args.action == "plan":
        change = plan_visit(app, Path(args.target), dry_run=args.dry_run)
    else:
        change = cancel_visit(app, args.target, reason=args.reason, dry_run=args.dry_run)
    print("\n".join(change.lines()))
    if not args.dry_run:
        print(deliver_now(app))
    return 0
