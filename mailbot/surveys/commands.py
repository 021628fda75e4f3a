"""The surveys' command: `survey launch FILE.yaml` starts or changes a survey, `survey close MY-…` ends it."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Add = Callable[..., argparse.ArgumentParser]   # cli's add(name, handler, help) → the subcommand's parser


def register(add: Add) -> None:
    sp = add("survey", survey, "launch, change or close a customer satisfaction survey (§5.3)")
    sp.add_argument("action", choices=["launch", "close", "report"])
    sp.add_argument("target",
                    help="launch: the survey file (see config/survey.example.yaml); close, report: MY-yyyy-nn")
    sp.add_argument("--dry-run", action="store_true", help="show what would be sent; change nothing")
    sp.add_argument("--out", help="report: where to write the PDF (default data/surveys/满意度调查报告-MY-….pdf)")


def survey(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mailbot.app import change_done, open_app
    from mailbot.surveys.closing import close_survey, write_report
    from mailbot.surveys.store import launch_survey

    app = open_app(args.config)
    if args.action == "report":
        print(write_report(app, args.target, Path(args.out) if args.out else None))
        return 0
    if args.action == "launch":
        change = launch_survey(app, Path(args.target), dry_run=args.dry_run)
    else:
        change = close_survey(app, args.target, dry_run=args.dry_run)
    print(change_done(app, change, dry_run=args.dry_run))
    return 0
