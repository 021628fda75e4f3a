"""The bulletin's command: `compile` renders the 重点客户月报 PDF and mails it to the bulletin list once."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Add = Callable[..., argparse.ArgumentParser]   # cli's add(name, handler, help) → the subcommand's parser


def register(add: Add) -> None:
    sp = add("compile", compile_, "compile the bulletin PDF and mail it to the bulletin list")
    sp.add_argument("--period", help="YYYY-MM (default: this month)")
    sp.add_argument("--dry-run", action="store_true", help="show what would be sent; change nothing")
    sp.add_argument("--no-mail", action="store_true", help="write the PDF only")
    sp.add_argument("--resend", action="store_true", help="mail it again even if already sent")


def compile_(args: argparse.Namespace) -> int:
    import sys

    from mailbot.app import deliver_now, open_app
    from mailbot.bulletin.compile import compile_bulletin
    from mailbot.domain.due import month_key

    app = open_app(args.config)
    print("compiling the bulletin (rendering the PDF takes a few seconds)…", file=sys.stderr)
    plan = compile_bulletin(app, month_key(args.period, app.today()), dry_run=args.dry_run,
                            mail=not args.no_mail, resend=args.resend)
    print(plan.report(args.dry_run))
    if not args.dry_run:
        print(deliver_now(app))
    return 0
