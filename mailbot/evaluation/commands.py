"""The evaluation's command: `mailbot evaluate --period 2026-Q4` prints the ranked table; `--unit GD --explain`
lists the records behind each figure; `--json` for machines; `--mail` mails it (once per period and recipient).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Add = Callable[..., argparse.ArgumentParser]   # cli's add(name, handler, help) → the subcommand's parser


def register(add: Add) -> None:
    sp = add("evaluate", evaluate, "evaluate each unit's key-customer maintenance (维护工作评估) for a period")
    sp.add_argument("--period", required=True, help="2026-Q4, 2026 (a year) or 2026-11 (a month)")
    sp.add_argument("--unit", help="only this unit's row (its rank is still among all units), e.g. GD")
    sp.add_argument("--explain", action="store_true", help="list the records each figure was computed from")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.add_argument("--mail", action="store_true",
                    help="mail each unit leader their own unit's evaluation and the department head the table")
    sp.add_argument("--dry-run", action="store_true", help="with --mail: show what would be sent; change nothing")


def evaluate(args: argparse.Namespace) -> int:
    import json
    import sys

    from mailbot.app import deliver_now, open_app
    from mailbot.evaluation.period import EvalPeriod
    from mailbot.evaluation.report import as_json, render_explain, render_table
    from mailbot.evaluation.schedule import mail_evaluation
    from mailbot.evaluation.store import evaluation_of

    try:
        period = EvalPeriod.parse(args.period)
    except ValueError as e:
        print(f"mailbot evaluate: --period: {e}", file=sys.stderr)
        return 2
    app = open_app(args.config)
    with app.sessions() as s:
        ev = evaluation_of(s, period, app.now(), app.tz, app.settings.evaluation)
    units = [args.unit.upper()] if args.unit else None
    if units and units[0] not in {u.code for u in ev.units}:
        print(f"mailbot evaluate: --unit: no active unit {args.unit}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(as_json(ev, units), ensure_ascii=False, indent=2))
    else:
        print(render_table(ev, units))
        if args.explain:
            print()
            print(render_explain(ev, units))
    if args.mail:
        plan = mail_evaluation(app, period, dry_run=args.dry_run)
        print(plan.report(args.dry_run), file=sys.stderr if args.json else sys.stdout)
        if not args.dry_run:
            print(deliver_now(app), file=sys.stderr if args.json else sys.stdout)
    return 0
