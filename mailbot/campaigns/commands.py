"""The campaigns' command: `campaign launch FILE.yaml` starts or changes a campaign, `campaign close TG-…` ends
it (its report PDF goes to the bulletin list), `campaign status TG-… [--json]` shows its board, `campaign report
TG-… [--out FILE]` writes the board as a PDF now."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Add = Callable[..., argparse.ArgumentParser]   # cli's add(name, handler, help) → the subcommand's parser


def register(add: Add) -> None:
    sp = add("campaign", campaign, "launch, change, follow or close a national product or service campaign (§6.1)")
    sp.add_argument("action", choices=["launch", "close", "status", "report"])
    sp.add_argument("target", help="launch: the campaign file (see config/campaign.example.yaml); "
                                   "close, status, report: TG-yyyy-nn")
    sp.add_argument("--dry-run", action="store_true", help="launch, close: show what would be sent; change nothing")
    sp.add_argument("--json", action="store_true", help="status: the board as JSON")
    sp.add_argument("--out", help="report: where to write the PDF (default data/campaigns/推广进展报告-TG-….pdf)")


def campaign(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from mailbot.app import change_done, open_app
    from mailbot.campaigns.board import board, board_lines
    from mailbot.campaigns.closing import close_campaign, write_report
    from mailbot.campaigns.store import launch_campaign

    app = open_app(args.config)
    if args.action == "status":
        data = board(app, args.target)
        print(json.dumps(data, ensure_ascii=False, indent=2) if args.json else "\n".join(board_lines(data)))
        return 0
    if args.action == "report":
        print(write_report(app, args.target, Path(args.out) if args.out else None))
        return 0
    if args.action == "launch":
        change = launch_campaign(app, Path(args.target), dry_run=args.dry_run)
    else:
        change = close_campaign(app, args.target, dry_run=args.dry_run)
    print(change_done(app, change, dry_run=args.dry_run))
    return 0
