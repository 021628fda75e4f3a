"""Benchmark the calendar pass (`daemon.calendar.tick`) on the busiest day of a 40-unit month.

The daemon asks the calendar what is due every few minutes. On the day of the last reminder and the escalation
every unit that has not reported is due both; the first pass of the day queues them, every later pass finds
them queued. Builds a SQLite database with --units units and --customers customers (a third strategic, the rest
VIP) none of which has reported, sends the month's requests, queues the day's reminders and escalations with one
pass, and then times further passes (median of --repeat) — what the daemon pays all day long (target < 50 ms).

    .venv/bin/python bench/bench_calendar.py [--units 40] [--customers 700] [--repeat 20]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_compile import directory, scratch_settings  # noqa: E402

from mailbot.app import build_app  # noqa: E402
from mailbot.daemon.calendar import tick  # noqa: E402
from mailbot.db.migrate import upgrade  # noqa: E402
from mailbot.db.session import transaction  # noqa: E402
from mailbot.directory.lookup import sync_directory  # noqa: E402
from mailbot.domain.due import Month, escalation_date  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=40)
    ap.add_argument("--customers", type=int, default=700)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mailbot-bench-"))
    now = datetime(2026, 11, 2, 9, tzinfo=TZ)
    app = build_app(scratch_settings(root), clock=lambda: now)
    upgrade(app.engine)
    with transaction(app.sessions) as s:
        sync_directory(s, directory(args.units, args.customers, random.Random(7)))

    tick(app)  # the month's requests go out
    busiest = escalation_date(Month.parse("2026-11"), app.schedule, app.calendar)
    now = datetime.combine(busiest, datetime.min.time(), TZ).replace(hour=9)
    first = time.perf_counter()
    queued = Counter(key.split(":")[0] for key, _, _ in tick(app).queued)
    first = time.perf_counter() - first
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        again = tick(app)
        times.append(time.perf_counter() - t)
        assert not again.queued, again.queued
    print(f"month: {args.units} units, {args.customers} customers, none reported; busiest day {busiest}")
    print(f"first pass of the day: {first * 1000:.0f} ms, queued {dict(queued)}")
    print(f"every later pass:      {statistics.median(times) * 1000:.1f} ms (median of {args.repeat}; "
          f"max {max(times) * 1000:.1f} ms; target < 50 ms)")
    app.engine.dispose()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
