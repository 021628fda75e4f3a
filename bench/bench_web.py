"""Benchmark the board (`mailbot web`) on the 40-unit month: the month page and the 诉求 board under 10 clients.

Builds the synthetic November of bench_compile.py (default 40 units, 300 strategic and 400 VIP customers, every
unit reporting on each customer it serves, and the three months before it) in a SQLite file, opens a 诉求 for
every "需总部协调：是" of November (statuses spread, a third of them overdue), writes a config for it and starts
the real server as a subprocess (`mailbot --config … web --port P`: uvicorn on 127.0.0.1). It signs in as HQ
staff the way a person does — asks for a link, reads it in the outbox, clicks it — so every request is a signed-in
HQ view, the largest there is (all 40 units, every 诉求). Then --clients threads (default 10), each with its own
connection, fetch the pages in turn for --seconds (default 20) after a warm-up, and it prints per page the
requests made, p50, p95 and max of the response time, and the page size. Target: p95 ≤ 200 ms.

Nothing changes during the run, so the server mostly sends the page body it kept (mailbot/web/cache.py); the
last line is the other case: one client, each page right after a change to its data, rendered afresh.

    .venv/bin/python bench/bench_web.py [--units 40] [--strategic 300] [--vip 400] [--clients 10] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
import yaml  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench_compile import directory, populate, scratch_settings  # noqa: E402

from mailbot.app import build_app  # noqa: E402
from mailbot.db.migrate import upgrade  # noqa: E402
from mailbot.db.models import OutboxMail, Person, Request, StrategicEntry, Submission  # noqa: E402
from mailbot.db.session import transaction  # noqa: E402
from mailbot.directory.lookup import sync_directory  # noqa: E402
from mailbot.domain.titles import request_title  # noqa: E402
from mailbot.reports.store import ensure_period  # noqa: E402
from mailbot.requests.store import add_event  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
HQ = "hq0@hq.example.cn"
PAGES = {"月度报送 /month": "/month?period=2026-11", "诉求 /requests": "/requests"}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def open_requests(app, rng: random.Random, now: datetime) -> int:  # type: ignore[no-untyped-def]
    """A 诉求 for each 需总部协调 of November, as the pipeline would have opened them (statuses spread)."""
    n = 0
    with transaction(app.sessions) as s:
        period = ensure_period(s, "2026-11", app.schedule)
        staff = s.scalar(select(Person).where(Person.email == HQ))
        for e in s.scalars(select(StrategicEntry).join(StrategicEntry.submission)
                           .where(Submission.period_id == period.id, StrategicEntry.needs_hq.is_(True))):
            n += 1
            created = e.submission.received_at
            text = e.items[0].text if e.items else "请总部协调。"
            s.add(Request(number=f"SQ-2026-{n:04d}", source="strategic", unit=e.submission.unit, customer=e.customer,
                          category=4, text=text, title=request_title(text),
                          inbound_id=e.submission.inbound_id, submission=e.submission, assignee=staff,
                          status=rng.choice(["new", "new", "in_progress", "awaiting_approval", "answered"]),
                          created_at=created, due_at=now + timedelta(days=rng.randint(-10, 20))))
    return n


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sign_in(app, base: str) -> httpx.Client:  # type: ignore[no-untyped-def]
    """Ask for a link as HQ staff, read it in the outbox, click it: a client holding a signed-in session."""
    c = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    token = _CSRF.search(c.get("/signin").text).group(1)  # type: ignore[union-attr]
    c.post("/signin", data={"email": HQ, "csrf": token}).raise_for_status()
    with app.sessions() as s:
        raw = s.scalar(select(OutboxMail.raw).where(OutboxMail.kind == "web_signin").order_by(OutboxMail.id.desc()))
    link = re.search(rb"/signin/([A-Za-z0-9_-]{20,})", raw or b"")
    assert link, "no sign-in link in the outbox"
    path = f"/signin/{link.group(1).decode()}"
    token = _CSRF.search(c.get(path).text).group(1)  # type: ignore[union-attr]
    r = c.post(path, data={"csrf": token})
    assert r.status_code == 303, f"sign-in refused: {r.status_code}"
    return c


def wait_up(base: str, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mailbot web exited with {proc.returncode}")
        try:
            httpx.get(f"{base}/signin", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("mailbot web did not start")


def load(base: str, cookies: httpx.Cookies, clients: int, seconds: float) -> dict[str, list[float]]:
    """`clients` threads fetch the pages in turn until time is up; every response time, by page."""
    times: dict[str, list[float]] = {name: [] for name in PAGES}
    sizes: dict[str, int] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(k: int) -> None:
        with httpx.Client(base_url=base, cookies=cookies, timeout=30) as c:
            names = list(PAGES)
            i = k
            while time.monotonic() < stop:
                name = names[i % len(names)]
                i += 1
                t = time.perf_counter()
                r = c.get(PAGES[name])
                took = time.perf_counter() - t
                assert r.status_code == 200, f"{name}: {r.status_code}"
                with lock:
                    times[name].append(took)
                    sizes[name] = len(r.content)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load.sizes = sizes  # type: ignore[attr-defined]
    return times


def cold(app, c: httpx.Client, rounds: int = 5) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """One client alone, each page right after a change to what it shows (a note on a 诉求; a new period), so the
    server renders it afresh instead of serving the body it kept (mailbot/web/cache.py): the median of `rounds`."""
    out: dict[str, list[float]] = {name: [] for name in PAGES}
    for k in range(rounds):
        with transaction(app.sessions) as s:
            req = s.scalar(select(Request).order_by(Request.id).limit(1))
            add_event(s, req, datetime.now(TZ), HQ, "note", f"bench {k}")
            ensure_period(s, f"2027-{k + 1:02d}", app.schedule)
        for name, path in PAGES.items():
            t = time.perf_counter()
            c.get(path).raise_for_status()
            out[name].append(time.perf_counter() - t)
    return {name: statistics.median(v) for name, v in out.items()}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=40)
    ap.add_argument("--strategic", type=int, default=300)
    ap.add_argument("--vip", type=int, default=400)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()
    rng = random.Random(7)
    root = Path(tempfile.mkdtemp(prefix="mailbot-bench-web-"))
    now = datetime.now(TZ)
    settings = scratch_settings(root)
    d = directory(args.units, args.strategic, args.vip, rng)
    (root / "directory.yaml").write_text(yaml.safe_dump(d.model_dump(mode="json", exclude_none=True),
                                                        allow_unicode=True), encoding="utf-8")
    port = free_port()
    config = root / "mailbot.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(root), "database": {"url": settings.database.url}, "mailbox": {"path": str(root / "mail")},
        "outbox": {"path": str(root / "out")}, "directory": str(root / "directory.yaml"),
        "web": {"public_url": f"http://127.0.0.1:{port}"}}, allow_unicode=True), encoding="utf-8")

    app = build_app(settings, clock=lambda: datetime(2026, 11, 30, 9, tzinfo=TZ))
    upgrade(app.engine)
    with transaction(app.sessions) as s:
        sync_directory(s, d)
    for key in ("2026-08", "2026-09", "2026-10", "2026-11"):
        populate(app, rng, key)
    n_requests = open_requests(app, rng, now)

    env = {**os.environ, "MAILBOT_WEB_SECRET": secrets.token_urlsafe(32)}
    log = (root / "web.log").open("wb")   # not a pipe: nobody reads it while the clients run, and a full pipe blocks
    proc = subprocess.Popen([sys.executable, "-m", "mailbot", "--config", str(config), "web", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(base, proc)
        signed = sign_in(app, base)
        load(base, signed.cookies, args.clients, args.warmup)
        times = load(base, signed.cookies, args.clients, args.seconds)
        fresh = cold(app, signed)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        app.engine.dispose()
        log.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"month: {args.units} units, {args.strategic} strategic and {args.vip} VIP customers; {n_requests} 诉求; "
          f"{args.clients} clients for {args.seconds:.0f} s against `mailbot web` (uvicorn, 127.0.0.1), "
          f"signed in as HQ staff")
    worst = 0.0
    for name, values in times.items():
        p95 = pct(values, 95)
        worst = max(worst, p95)
        print(f"  {name:<18} {len(values):5d} requests  p50 {1000 * statistics.median(values):6.1f} ms  "
              f"p95 {1000 * p95:6.1f} ms  max {1000 * max(values):6.1f} ms  "
              f"page {load.sizes[name] // 1024} KiB")  # type: ignore[attr-defined]
    print("  one client, right after a change (rendered afresh, not the kept body): "
          + ", ".join(f"{name.split()[0]} {1000 * t:.1f} ms" for name, t in fresh.items()))
    print(f"target p95 ≤ 200 ms: {'met' if worst <= 0.2 else 'NOT met'}")


if __name__ == "__main__":
    main()
