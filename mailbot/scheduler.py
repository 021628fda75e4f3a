"""The daemon: the mailbox loop in the foreground, APScheduler as the calendar's clock in the background.

The foreground loop reads the mailbox, delivers the outbox, then waits on the
mailbox (IMAP IDLE / EWS streaming wake it at once; otherwise `poll_seconds`).
The wait is only a wake-up: every pass polls, so a lost IDLE never loses mail.
The calendar job has a fixed id, coalesces missed runs and never overlaps;
what is due is computed from the database (`jobs.tick`), so a restart catches
up and repeats nothing. Only the daemon holding the leader lock acts; another
one started beside it waits and takes over when the first dies.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailbot import health, jobs, mails
from mailbot.app import App
from mailbot.db.session import transaction
from mailbot.intake import Outcome, resume_unfinished, run_pass
from mailbot.leader import leadership
from mailbot.mailboxes.base import LoginFailed, MailboxUnavailable
from mailbot.outbox.queue import SendReport, enqueue, send_pending
from mailbot.state import DbStateStore

log = logging.getLogger(__name__)

_delivering = threading.Lock()  # the loop and the calendar thread must not hand the same row to the transport


@dataclass(frozen=True)
class PassReport:
    outcomes: list[Outcome]
    plan: jobs.Plan
    sent: SendReport
    mailbox_error: str | None = None

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        seen = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
        return (f"inbound: {len(self.outcomes)} ({seen}); calendar queued {len(self.plan.queued)}; "
                f"outbox delivered {self.sent.sent}, retrying {self.sent.retried}, dead {len(self.sent.dead)}")


def deliver(app: App) -> SendReport:
    with _delivering:
        report = send_pending(app.sessions, app.transport, app.now(), max_attempts=app.settings.outbox.max_attempts)
    if report.dead:
        with transaction(app.sessions) as s:
            for mail_id in report.dead:
                enqueue(s, key=f"operator:dead:{mail_id}", kind="operator", sender=app.identity, now=app.now(),
                        draft=mails.operator_mail(app.settings.identity.department, app.settings.operator,
                                                  "邮件无法投递", f"发件箱第 {mail_id} 封邮件已放弃投递，请查看 mailbot status。"))
    return report


def poll(app: App, state: DbStateStore) -> list[Outcome]:
    """One pass over the mailbox, with its result recorded for the health check."""
    try:
        outcomes = run_pass(app)
    except LoginFailed as e:
        health.record_failure(state, app.now(), str(e), login=True)
        log.error("mailbox login failed: %s", e)
        return []
    except MailboxUnavailable as e:  # an outage, expected now and then: one line, no traceback
        health.record_failure(state, app.now(), str(e), login=False)
        log.warning("mailbox unavailable: %s", e)
        return []
    except Exception as e:  # noqa: BLE001 - the loop edge: a server problem must not stop the daemon
        health.record_failure(state, app.now(), f"{type(e).__name__}: {e}", login=False)
        log.exception("mailbox pass failed")
        return []
    health.record_ok(state, app.now())
    return outcomes


def check_health(app: App, state: DbStateStore, started: datetime) -> None:
    h = health.load(state)
    cfg = app.settings.health
    for alarm in health.alarms(h, app.now(), started=started,
                               silence=timedelta(minutes=cfg.silence_minutes), login_failures=cfg.login_failures):
        with transaction(app.sessions) as s:
            enqueue(s, key=alarm.key, kind="operator", sender=app.identity, now=app.now(),
                    draft=mails.operator_mail(app.settings.identity.department, app.settings.operator,
                                              alarm.title, alarm.reason))


def calendar_tick(app: App, state: DbStateStore, started: datetime) -> None:
    try:
        jobs.tick(app)
        check_health(app, state, started)
    except Exception:  # noqa: BLE001 - the next tick tries again; nothing is half-sent (outbox rows are atomic)
        log.exception("calendar tick failed")
    deliver(app)


def run_once(app: App) -> PassReport:
    """One pass for cron: the mailbox, the calendar, the outbox. A mailbox outage skips only the mailbox."""
    state = DbStateStore(app.sessions, app.now)
    before = health.load(state).failures
    outcomes = resume_unfinished(app) + poll(app, state)
    after = health.load(state)
    plan = jobs.tick(app)
    check_health(app, state, started=app.now())  # from cron, silence counts from the last successful poll
    error = after.last_error if after.failures > before else None
    return PassReport(outcomes, plan, deliver(app), error)


def run_daemon(app: App, stop: threading.Event | None = None) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():  # tests run the daemon in a thread
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    leader = leadership(app.engine, app.settings.path(app.settings.data_dir))
    state = DbStateStore(app.sessions, app.now)
    s = app.settings.schedule
    while not stop.is_set() and not leader.hold():
        log.info("another mailbot holds the lock; standing by")
        stop.wait(10)
    if stop.is_set():
        return
    started = app.now()
    log.info("mailbot active: mailbox %s, poll every %ss, calendar every %ss", app.mailbox.name,
             s.poll_seconds, s.tick_seconds)
    resume_unfinished(app)
    sched = BackgroundScheduler(timezone=app.settings.timezone,
                                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
    sched.add_job(calendar_tick, "interval", args=[app, state, started], seconds=s.tick_seconds, id="calendar",
                  replace_existing=True, next_run_time=app.now())
    sched.start()
    try:
        while not stop.is_set():
            if not leader.hold():
                log.error("lost the daemon lock; stopping so the other daemon acts alone")
                break
            poll(app, state)
            deliver(app)
            if not stop.is_set():
                app.mailbox.wait(s.poll_seconds, stop)
    finally:
        sched.shutdown(wait=True)
        app.mailbox.close()
        leader.release()
