"""The archive's command: `customer S001` prints the customer's timeline, `--pdf` renders the dossier."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Add = Callable[..., argparse.ArgumentParser]   # cli's add(name, handler, help) → the subcommand's parser


def register(add: Add) -> None:
    sp = add("customer", customer, "a customer's archive (客户档案): reports, requests, visits, follow-ups")
    sp.add_argument("code", help="customer code, e.g. S001")
    sp.add_argument("--pdf", nargs="?", const="", default=None, metavar="OUT",
                    help="render the dossier as a PDF (default path under data/archives/)")


def customer(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mailbot.app import open_app
    from mailbot.archive.dossier import customer_archive, render_timeline_text, write_dossier

    app = open_app(args.config)
    if args.pdf is not None:
        print(write_dossier(app, args.code, Path(args.pdf) if args.pdf else None))
    else:
        print(render_timeline_text(customer_archive(app, args.code)), end="")
    return 0
