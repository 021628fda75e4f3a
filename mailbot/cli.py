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

from mailbot import logformat
from mailbot.archive import commands as archive
from mailbot.bulletin import commands as bulletin
from mailbot.campaigns import commands as campaigns
from mailbot.errors import MailbotError
from mailbot.evaluation import commands as evaluation
from mailbot.reports import commands as reports
from mailbot.requests import commands as requests
from mailbot.surveys import commands as surveys
from mailbot.visits import commands as visits
from mailbot.web import commands as web

if TYPE_CHECKING:
    from mailbot.app import App

# Each capability adds its own commands; a new capability with commands adds one line.
CAPABILITY_COMMANDS = (reports.register, bulletin.register, requests.register, visits.register, surveys.register,
                       campaigns.register, archive.register, evaluation.register, web.register)

log = logging.getLogger("mailbot")


def _app(args: argparse.Namespace) -> App:
    from mailbot.app import open_app

    return open_app(args.config)


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
        print(f"kind: {data['kind']}  token: {data['token']}  urgent: {data['urgent']}")
        if "targets" in data:
            print(f"campaign: {data['campaign']}  unit: {data['unit']}  customers: {len(data['targets'])}")
        elif "scores" in data:
            answered = sum(v is not None for v in data["scores"].values())
            print(f"survey: {data['survey']}  customer: {data['customer']}  scores: {answered}/{len(data['scores'])}")
        else:
            print(f"unit: {data['unit']}  period: {data['period']}  strategic blocks: {len(data['strategic'])}  "
                  f"vip blocks: {len(data['vip'])}  campaign forms: {len(data.get('campaigns', []))}")
        for label, key in (("error  ", "errors"), ("warning", "warnings")):
            for p in data[key]:
                print(f"  {label} {p['where']}: {p['message']}")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    """`db upgrade`: migrate to the code's revision; `--check`: only say whether one is pending (exit 1 if so)."""
    from mailbot.app import build_app, database_errors
    from mailbot.db.migrate import current_revision, head_revision, upgrade
    from mailbot.settings import load_settings

    settings = load_settings(args.config)
    app = build_app(settings)
    with database_errors(settings, settings.database_url()):
        if args.check:
            current, head = current_revision(app.engine), head_revision()
            if current == head:
                print(f"database at revision {current}: up to date")
                return 0
            print(f"database at revision {current or 'none (empty)'}, the code needs {head}: "
                  f"run `mailbot db upgrade`")
            return 1
        upgrade(app.engine)
        print(f"database at revision {current_revision(app.engine)}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """`backup DIR`: the database (raw mail included) and the generated PDFs; `restore DIR`: put them back."""
    from mailbot.app import build_app
    from mailbot.db.backup import backup, restore
    from mailbot.settings import load_settings

    # Not open_app: a restore's target is empty (or wiped), and a backup must not migrate what it copies.
    app = build_app(load_settings(args.config))
    data_dir = app.settings.path(app.settings.data_dir)
    url = app.settings.database_url()
    if args.action == "backup":
        manifest = backup(app.engine, url, data_dir, Path(args.dir), app.now())
    else:
        manifest = restore(app.engine, url, data_dir, Path(args.dir), force=args.force)
    print("\n".join(manifest.lines()))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from mailbot.daemon import preflight
    from mailbot.daemon.scheduler import run_daemon, run_once

    preflight.check(args.config)  # example addresses outside demo mode: refused before the database sees them
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
    """Connect to each configured server and report, changing nothing: the database's schema is reported, not
    upgraded (before the first start it is empty — the unit's `db upgrade` makes it), the directory read, not
    loaded into it."""
    from mailbot.app import build_app
    from mailbot.db.migrate import current_revision, head_revision
    from mailbot.settings import load_settings

    app = build_app(load_settings(args.config))   # connects once: an unreachable database is one line, exit 1
    revision, head = current_revision(app.engine), head_revision()
    schema = "at head" if revision == head else (
        f"{'empty' if revision is None else 'at ' + revision}; `mailbot db upgrade` brings it to {head} "
        f"(the daemon's unit runs it before each start)")
    print(f"ok    database ({app.engine.dialect.name}): connected — schema {schema}")
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
    """The month's status; the exit code says how things stand: 0 healthy, 1 warning, 2 alarm."""
    from mailbot.daemon.status import EXIT, gather_status, render_text
    from mailbot.domain.due import month_key

    app = _app(args)
    status = gather_status(app, month_key(args.period, app.today()))
    print(json.dumps(status.as_json(), ensure_ascii=False, indent=2) if args.json else render_text(status))
    return EXIT[status.state]


def cmd_reparse(args: argparse.Namespace) -> int:
    from mailbot.pipeline.intake import reparse

    app = _app(args)
    outcome = reparse(app, args.id)
    print(f"inbound {outcome.inbound_id}: {outcome.status} — {outcome.note}")
    from mailbot.app import deliver_now

    print(deliver_now(app))
    return 0


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
    p.add_argument("--log-format", choices=logformat.FORMATS, default=logformat.default_format(),
                   help=f"text, or one JSON object a line for journald/Loki (default: ${logformat.ENV}, else text)")
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
    sp = add("db", cmd_db, "database schema: `mailbot db upgrade [--check]`")
    sp.add_argument("action", choices=["upgrade"])
    sp.add_argument("--check", action="store_true", help="only say whether an upgrade is pending (exit 1 if so)")
    for action, text in (("backup", "copy the database (raw mail included) and the generated PDFs into DIR"),
                         ("restore", "put a backup back into an empty database (checks every table's rows)")):
        sp = add(action, cmd_backup, text)
        sp.add_argument("dir")
        sp.set_defaults(action=action)
        if action == "restore":
            sp.add_argument("--force", action="store_true", help="replace a database that already holds mail")
    sp = add("status", cmd_status, "this period: who reported, who is late, quarantine, outbox; "
                                   "exit 0 healthy, 1 warning, 2 alarm")
    sp.add_argument("--period", help="YYYY-MM (default: this month)")
    sp.add_argument("--json", action="store_true", help="machine-readable (docs/status.schema.json)")
    sp = add("reparse", cmd_reparse, "run a stored inbound message through the pipeline again")
    sp.add_argument("id", type=int)
    sp = add("demo", cmd_demo, "simulate a whole month on a scratch directory")
    sp.add_argument("--dir", default="data/demo", help="scratch directory (wiped first)")
    sp.add_argument("--period", default="2026-11", help="the month to simulate")
    for register in CAPABILITY_COMMANDS:
        register(add)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logformat.formatter(args.log_format))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, handlers=[handler])
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
