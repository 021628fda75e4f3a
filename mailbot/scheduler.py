"""The daemon: APScheduler as a clock, nothing more.

Two fixed jobs — read the mailbox, check the calendar — each followed by
delivering the outbox. What is due is computed from the database on every
tick (`jobs.tick`), so a restart catches up and never repeats; the jobs have
fixed ids, coalesce missed runs into one and never overlap.
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass

from mailbot import jobs
from mailbot.app import App
from mailbot.intake import Outcome, resume_unfinished, run_pass
from mailbot.outbox.queue import SendReport, send_pending

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PassReport:
    outcomes: list[Outcome]
    plan: jobs.Plan
    sent: SendReport

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        seen = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
        return (f"inbound: {len(self.outcomes)} ({seen}); calendar queued {len(self.plan.queued)}; "
                f"outbox delivered {self.sent.sent}, retrying {self.sent.retried}, dead {len(self.sent.dead)}")


def deliver(app: App) -> SendReport:
    return send_pending(app.sessions, app.transport, app.now(), max_attempts=app.settings.outbox.max_attempts)


def poll(app: App) -> list[Outcome]:
    outcomes = run_pass(app)
    deliver(app)
    return outcomes


def tick(app: App) -> jobs.Plan:
    plan = jobs.tick(app)
    deliver(app)
    return plan


def run_once(app: App) -> PassReport:
    outcomes = resume_unfinished(app) + run_pass(app)
    plan = jobs.tick(app)
    return PassReport(outcomes, plan, deliver(app))


def run_daemon(app: App) -> None:
    from apscheduler.schedulers.blocking import BlockingScheduler

    resume_unfinished(app)
    sched = BlockingScheduler(timezone=app.settings.timezone,
                              job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
    s = app.settings.schedule
    sched.add_job(poll, "interval", args=[app], seconds=s.poll_seconds, id="poll", replace_existing=True,
                  next_run_time=app.now())
    sched.add_job(tick, "interval", args=[app], seconds=s.tick_seconds, id="tick", replace_existing=True,
                  next_run_time=app.now())

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping after the job in hand", signum)
        sched.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    log.info("mailbot running: mailbox %s, poll every %ss, calendar every %ss", app.mailbox.name,
             s.poll_seconds, s.tick_seconds)
    sched.start()
