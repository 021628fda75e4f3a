"""The `mailbot` command: loads settings once, builds the App, calls one job.

Heavy modules (SQLAlchemy models, WeasyPrint, APScheduler) are imported inside
the command that needs them, so `mailbot parse` and `mailbot --help` start fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailbot.errors import MailbotError
from mailbot.bulletin.compile import compile_bulletin
from mailbot.reports.schedule import escalate, remind, send_requests

if TYPE_CHECKING:
    from mailbot.app import App
    from mailbot.outbox.queue import Plan

log = logging.getLogger("mailbot")


def _app(args: argparse.Namespace) -> App:
    from mailbot.app import build_app, database_errors
    from mailbot.db.migrate import current_revision, require_current, upgrade
    from mailbot.db.session import transaction
    from mailbot.directory.lookup import sync_directory
    from mailbot.settings import load_settings

    settings = load_settings(args.config)
    app = build_app(settings)
    with database_errors(settings, settings.database_url()):
        if current_revision(app.engine) is None and app.engine.dialect.name == "sqlite":
            upgrade(app.engine)  # the embedded default creates its own database on first use
        require_current(app.engine)
        with transaction(app.sessions) as s:
            sync_directory(s, app.directory)
    return app


def _period(app: App, value: str | None) -> str:
    from mailbot.domain.due import Month

    return Month.parse(value).key if value else Month.of(app.today()).key


def _print_plan(plan: Plan, dry_run: bool) -> None:
    print(f"{'would queue' if dry_run else 'queued'} {len(plan.queued)} mail(s)")
    for line in plan.lines():
        print("  " + line)


def cmd_parse(args: argparse.Namespace) -> int:
    from parsers import UnreadableMessage, parse_message

    try:
        raw = Path(args.file).read_bytes()
    except OSError as e:
        print(f"mailbot parse: cannot read {args.file}: {e.strerror}", file=sys.stderr)
        return 2
    try:
        result = parse_message(raw)
    except UnreadableMessage as e:
        print(f"mailbot parse: {args.file}: not an e-mail message: {e}", file=sys.stderr)
        return 2
    data: dict[str, Any] = result.as_json()
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(f"kind: {data['kind']}  token: {data['token']}  unit: {data['unit']}  period: {data['period']}")
        print(f"strategic blocks: {len(data['strategic'])}  vip blocks: {len(data['vip'])}  urgent: {data['urgent']}")
        for label, key in (("error  ", "errors"), ("warning", "warnings")):
            for p in data[key]:
                print(f"  {label} {p['where']}: {p['message']}")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from mailbot.app import build_app, database_errors
    from mailbot.db.migrate import current_revision, upgrade
    from mailbot.settings import load_settings

    settings = load_settings(args.config)
    app = build_app(settings)
    with database_errors(settings, settings.database_url()):
        upgrade(app.engine)
        print(f"database at revision {current_revision(app.engine)}")
    return 0


def cmd_send_requests(args: argparse.Namespace) -> int:


    app = _app(args)
    _print_plan(send_requests(app, _period(app, args.period), dry_run=args.dry_run), args.dry_run)
    return _deliver_unless(app, args.dry_run)


def cmd_remind(args: argparse.Namespace) -> int:


    app = _app(args)
    stage = args.stage or f"manual-{app.today():%Y%m%d}"
    _print_plan(remind(app, _period(app, args.period), stage, dry_run=args.dry_run), args.dry_run)
    return _deliver_unless(app, args.dry_run)


def cmd_escalate(args: argparse.Namespace) -> int:


    app = _app(args)
    _print_plan(escalate(app, _period(app, args.period), dry_run=args.dry_run), args.dry_run)
    return _deliver_unless(app, args.dry_run)


def cmd_compile(args: argparse.Namespace) -> int:


    app = _app(args)
    print("compiling the bulletin (rendering the PDF takes a few seconds)…", file=sys.stderr)
    plan = compile_bulletin(app, _period(app, args.period), dry_run=args.dry_run, mail=not args.no_mail,
                                 resend=args.resend)
    _print_plan(plan, args.dry_run)
    return _deliver_unless(app, args.dry_run)


def _deliver_unless(app: App, dry_run: bool) -> int:
    if not dry_run:
        from mailbot.outbox.queue import send_pending

        r = send_pending(app.sessions, app.transport, app.now(), max_attempts=app.settings.outbox.max_attempts)
        print(f"delivered {r.sent}, retrying {r.retried}, dead {len(r.dead)}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from mailbot.daemon.scheduler import run_daemon, run_once

    app = _app(args)
    app.backfill = args.backfill
    if args.once:
        report = run_once(app)
        print(report.summary())
        if report.error is not None:  # a mailbox outage, or a database or disk that refused the pass
            print(f"mailbot: {report.error}", file=sys.stderr)
            return 1
        return 0
    run_daemon(app)
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    """Connect to each configured server and report, changing nothing."""
    app = _app(args)
    ok = True
    for part, name in ((app.mailbox, f"mailbox ({app.settings.mailbox.backend})"),
                       (app.transport, f"outbox ({app.settings.outbox.transport})")):
        check = getattr(part, "check", None)
        rows = check() if check else [("local directory", True, "no server to check")]
        for what, good, detail in rows:
            ok &= good
            print(f"{'ok  ' if good else 'FAIL'}  {name}: {what} — {detail}")
    return 0 if ok else 1


def cmd_status(args: argparse.Namespace) -> int:
    from mailbot.daemon.status import render_status

    app = _app(args)
    print(render_status(app, _period(app, args.period)))
    return 0


def cmd_requests(args: argparse.Namespace) -> int:
    from mailbot.requests.commands import list_requests, render_requests

    app = _app(args)
    rows = list_requests(app, assignee=args.assignee, unit=args.unit, customer=args.customer,
                         overdue_only=args.overdue, include_closed=args.all)
    print(json.dumps(rows, ensure_ascii=False, indent=2) if args.json else render_requests(rows))
    return 0


def cmd_visit(args: argparse.Namespace) -> int:
    from mailbot.visits.store import cancel_visit, plan_visit

    app = _app(args)
    if args.action == "plan":
        outcome = plan_visit(app, Path(args.target), dry_run=args.dry_run)
    else:
        outcome = cancel_visit(app, args.target, reason=args.reason, dry_run=args.dry_run)
    print("\n".join(outcome.lines()))
    return _deliver_unless(app, args.dry_run)


def cmd_customer(args: argparse.Namespace) -> int:
    from mailbot.archive.dossier import customer_archive, render_timeline_text, write_dossier

    app = _app(args)
    if args.pdf is not None:
        print(write_dossier(app, args.code, Path(args.pdf) if args.pdf else None))
    else:
        print(render_timeline_text(customer_archive(app, args.code)), end="")
    return 0


def cmd_reparse(args: argparse.Namespace) -> int:
    from mailbot.pipeline.intake import reparse

    app = _app(args)
    outcome = reparse(app, args.id)
    print(f"inbound {outcome.inbound_id}: {outcome.status} — {outcome.note}")
    return _deliver_unless(app, False)


def cmd_demo(args: argparse.Namespace) -> int:
    from mailbot.demo.month import run_demo

    if not args.verbose:  # the demo prints its own story; per-message log lines would drown it
        logging.getLogger().setLevel(logging.WARNING)
    return run_demo(Path(args.dir), period=args.period)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mailbot", description="重点客户月报 mail bot: reports, reminders, bulletin.")
    p.add_argument("--config", type=Path, default=None,
                   help="config file (default: config/mailbot.yaml; absent → embedded default)")
    p.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: object, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(fn=fn)
        return sp

    sp = add("run", cmd_run, "watch the mailbox and run the calendar (the daemon)")
    sp.add_argument("--once", action="store_true", help="one pass: mailbox, calendar, outbox; then exit")
    sp.add_argument("--backfill", action="store_true",
                    help="also process mail that was in the mailbox before mailbot first connected")
    add("check-config", cmd_check_config, "log in to each configured server and report; change nothing")
    sp = add("parse", cmd_parse, "parse one .eml file as the pipeline would (no database)")
    sp.add_argument("file")
    sp.add_argument("--json", action="store_true", help="print the FORM.md JSON object")
    sp = add("db", cmd_db, "database schema: `mailbot db upgrade`")
    sp.add_argument("action", choices=["upgrade"])
    for name, fn, help in (("send-requests", cmd_send_requests, "send this month's report request to every unit"),
                           ("remind", cmd_remind, "remind units that have not reported"),
                           ("escalate", cmd_escalate, "write to the leaders of units that have not reported"),
                           ("compile", cmd_compile, "compile the bulletin PDF and mail it to the bulletin list")):
        sp = add(name, fn, help)
        sp.add_argument("--period", help="YYYY-MM (default: this month)")
        sp.add_argument("--dry-run", action="store_true", help="show what would be sent; change nothing")
        if name == "remind":
            sp.add_argument("--stage", help="reminder stage for the idempotency key, e.g. T-3")
        if name == "compile":
            sp.add_argument("--no-mail", action="store_true", help="write the PDF only")
            sp.add_argument("--resend", action="store_true", help="mail it again even if already sent")
    sp = add("status", cmd_status, "this period: who reported, who is late, quarantine, outbox")
    sp.add_argument("--period", help="YYYY-MM (default: this month)")
    sp = add("requests", cmd_requests, "open requests (诉求) by assignee, unit or customer; overdue ones marked")
    sp.add_argument("--assignee", help="e-mail, staff id or name")
    sp.add_argument("--unit", help="unit code, e.g. GD")
    sp.add_argument("--customer", help="customer code, e.g. S001")
    sp.add_argument("--overdue", action="store_true", help="only requests past their due date")
    sp.add_argument("--all", action="store_true", help="include answered-and-closed ones")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp = add("visit", cmd_visit, "plan, change or cancel a customer visit; the units get the notice and invitation")
    sp.add_argument("action", choices=["plan", "cancel"])
    sp.add_argument("target", help="plan: the visit file (see config/visit.example.yaml); cancel: VIS-yyyy-nnnn")
    sp.add_argument("--reason", default="", help="cancel: why, told to everyone invited")
    sp.add_argument("--dry-run", action="store_true", help="show what would be sent; change nothing")
    sp = add("customer", cmd_customer, "a customer's archive (客户档案): reports, requests, visits, follow-ups")
    sp.add_argument("code", help="customer code, e.g. S001")
    sp.add_argument("--pdf", nargs="?", const="", default=None, metavar="OUT",
                    help="render the dossier as a PDF (default path under data/archives/)")
    sp = add("reparse", cmd_reparse, "run a stored inbound message through the pipeline again")
    sp.add_argument("id", type=int)
    sp = add("demo", cmd_demo, "simulate a whole month on a scratch directory")
    sp.add_argument("--dir", default="data/demo", help="scratch directory (wiped first)")
    sp.add_argument("--period", default="2026-11", help="the month to simulate")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("alembic", "weasyprint", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.fn(args))
    except MailbotError as e:
        print(f"mailbot: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
