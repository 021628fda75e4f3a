"""Benchmark what the daemon costs while nothing happens: CPU and memory idling in IMAP IDLE.

Starts the same stack as bench_latency.py — a real Dovecot and an SMTP sink on
loopback, `mailbot --config … run` as a subprocess with `mailbox.backend: imap`
and `outbox.transport: smtp` — with the shipped schedule defaults (poll every
60 s, calendar every 300 s; --poll/--tick to change), waits until start-up is
over (the first calendar tick may compile and mail a bulletin), then sends one
urgent mail and waits for its alert, so the whole pipeline has run once and
its modules are loaded. Then, for --minutes (default 5), it samples the
daemon's CPU time (utime + stime) and RSS from /proc/PID every --interval
seconds while no mail arrives, and prints:

  CPU   CPU seconds used in the window / wall seconds, as % of one core
        (target < 1 %), and the busiest sampling interval
  RSS   peak and final resident memory during the window (target < 150 MB),
        and VmHWM, the process's lifetime peak including start-up

    .venv/bin/python bench/bench_idle.py [--minutes 5] [--interval 1] [--poll 60] [--tick 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_latency import running_daemon, send_and_time  # noqa: E402 - the same stack, one definition


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="length of the idle window")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between /proc samples")
    ap.add_argument("--poll", type=int, default=60, help="the daemon's poll_seconds (shipped default 60)")
    ap.add_argument("--tick", type=int, default=300, help="the daemon's tick_seconds (shipped default 300)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (config, database, log)")
    args = ap.parse_args()
    with running_daemon(poll=args.poll, tick=args.tick, keep=args.keep) as (daemon, dovecot, account, sink):
        startup = daemon.wait_quiet()
        with dovecot.client(account.user) as c:
            alert = send_and_time(c, sink, 0, f"idle{os.getpid()}x0000", 30.0)
        if alert is None:
            raise SystemExit(f"the warm-up urgent mail got no alert:\n{daemon.log_tail()}")
        daemon.wait_quiet(window=1.0)

        window = args.minutes * 60
        t0, cpu0 = time.monotonic(), daemon.cpu_seconds()
        last_t, last_cpu = t0, cpu0
        rss: list[int] = []
        busiest = 0.0
        while (now := time.monotonic()) - t0 < window:
            time.sleep(min(args.interval, max(0.0, window - (now - t0))))
            if daemon.proc.poll() is not None:
                raise SystemExit(f"the daemon exited ({daemon.proc.returncode}):\n{daemon.log_tail()}")
            t, cpu = time.monotonic(), daemon.cpu_seconds()
            rss.append(daemon.status("VmRSS"))
            busiest = max(busiest, (cpu - last_cpu) / (t - last_t))
            last_t, last_cpu = t, cpu
        wall, used = last_t - t0, last_cpu - cpu0
        hwm = daemon.status("VmHWM")
        load = os.getloadavg()
    share = 100 * used / wall
    print(f"idle daemon (IMAP IDLE on Dovecot, poll {args.poll} s, calendar {args.tick} s, `mailbot run` "
          f"subprocess): {wall / 60:.1f} min window after {startup:.0f} s start-up and one urgent mail "
          f"(alert in {alert:.2f} s); {len(rss)} samples; load {load[0]:.2f}")
    print(f"  CPU {used:.2f} s in {wall:.0f} s = {share:.3f} % of a core (target < 1 %: "
          f"{'met' if share < 1 else 'MISSED'}); busiest {args.interval:g}-s interval {100 * busiest:.1f} %")
    print(f"  RSS peak {max(rss) / 1024:.1f} MB, end {rss[-1] / 1024:.1f} MB (target < 150 MB: "
          f"{'met' if max(rss) < 150 * 1024 else 'MISSED'}); lifetime peak incl. start-up (VmHWM) {hwm / 1024:.1f} MB")


if __name__ == "__main__":
    main()
