"""The requests' command: `mailbot requests` lists them — open ones, overdue ones marked — as a table or JSON."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from mailbot.render.text import pad

Add = Callable[..., argparse.ArgumentParser]   # cli's add(name, handler, help) → the subcommand's parser


def register(add: Add) -> None:
    sp = add("requests", requests, "open requests (诉求) by assignee, unit or customer; overdue ones marked")
    sp.add_argument("--assignee", help="e-mail, staff id or name")
    sp.add_argument("--unit", help="unit code, e.g. GD")
    sp.add_argument("--customer", help="customer code, e.g. S001")
    sp.add_argument("--overdue", action="store_true", help="only requests past their due date")
    sp.add_argument("--all", action="store_true", help="include answered-and-closed ones")
    sp.add_argument("--json", action="store_true", help="machine-readable output")


def requests(args: argparse.Namespace) -> int:
    import json

    from mailbot.app import open_app
    from mailbot.requests.store import list_requests

    app = open_app(args.config)
    rows = list_requests(app, assignee=args.assignee, unit=args.unit, customer=args.customer,
                         overdue_only=args.overdue, include_closed=args.all)
    print(json.dumps(rows, ensure_ascii=False, indent=2) if args.json else render_requests(rows))
    return 0


def render_requests(rows: list[dict[str, object]]) -> str:
    if not rows:
        return "no requests"
    out = [f"{'number':<14}{pad('status', 12)}{'due':<12}{'late':<6}{'unit':<6}{'cust':<6}{'assignee':<26}matter"]
    for r in rows:
        late = f"{r['overdue_days']}d" if r["overdue_days"] else ""
        out.append(f"{r['number']:<14}{pad(str(r['status_cn']), 12)}{str(r['due_at'] or '')[:10]:<12}{late:<6}"
                   f"{r['unit'] or '':<6}{r['customer'] or '':<6}{str(r['assignee'] or ''):<26}{r['title']}")
    return "\n".join(out)
