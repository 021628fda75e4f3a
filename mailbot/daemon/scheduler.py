"""The daemon: the mailbox loop in the foreground, APScheduler as the calendar's clock in the background.

The foreground loop reads the mailbox, delivers the outbox, then waits on the
mailbox (IMAP IDLE / EWS streaming wake it at once; otherwise `poll_seconds`).
The wait is only a wake-up: every pass polls, so a lost IDLE never loses mail.
The calendar job has a fixed id, coalesces missed runs and never overlaps;
what is due is computed from the database (`tick`), so a restart catches
up and repeats nothing. Only the daemon holding the leader lock acts; another
one started beside it waits and takes over when the first dies.

A pass that a fault of ours stops (the database, the disk: `errors.PassStopped`)
is a failed poll, like a mailbox outage: logged at ERROR, recorded for the health
check, and the next poll finishes what it left — rows left `received` first, then
the inbox. `Watch` keeps that record, and the alarms it raises, when the database
is the thing that failed.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailbot.app import App
from mailbot.daemon import health
from mailbot.daemon.calendar import tick
from mailbot.daemon.leader import leadership
from mailbot.daemon.observe import start_http
from mailbot.db.session import transaction
from mailbot.db.state import DbStateStore, FallbackStore
from mailbot.directory.config import load_directory
from mailbot.directory.lookup import sync_directory
from mailbot.errors import ConfigError, PassStopped, describe, our_fault
from mailbot.mailboxes.base import LoginFailed, MailboxUnavailable, StateStore
from mailbot.outbox.operator import operator_mail
from mailbot.outbox.queue import Plan, SendReport, enqueue, send_pending
from mailbot.pipeline.intake import Outcome, resume_unfinished, run_pass

log = logging.getLogger(__name__)

_delivering = threading.Lock()  # the loop and the calendar thread must not hand the same row to the transport


@dataclass(frozen=True)
class PassReport:
    outcomes: list[Outcome]
    plan: Plan
    sent: SendReport
    mailbox_error: str | None = None
    stopped: str | None = None  # a fault of ours stopped the pass (the database, the disk): why

    @property
    def error(self) -> str | None:
        """What `run --once` reports on one line and exits 1 for."""
        if self.stopped is not None:
            return f"intake stopped, the rest waits for the next run: {self.stopped}"
        return f"mailbox: {self.mailbox_error}" if self.mailbox_error is not None else None

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        seen = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
        return (f"inbound: {len(self.outcomes)} ({seen}); calendar queued {len(self.plan.queued)}; "
                f"outbox delivered {self.sent.sent}, retrying {self.sent.retried}, dead {len(self.sent.dead)}")


def deliver(app: App, *, urgent_only: bool = False) -> SendReport:
    with _delivering:
        report = send_pending(app.sessions, app.transport, app.now(), max_attempts=app.settings.outbox.max_attempts,
                              urgent_only=urgent_only)
    if report.dead:
        with transaction(app.sessions) as s:
            for mail_id in report.dead:
                enqueue(s, key=f"operator:dead:{mail_id}", kind="operator", sender=app.identity, now=app.now(),
                        draft=operator_mail(app.department, app.settings.operator,
                                                  "邮件无法投递", f"发件箱第 {mail_id} 封邮件已放弃投递，请查看 mailbot status。"))
    return report


@dataclass(frozen=True)
class Polled:
    outcomes: list[Outcome]
    error: str | None = None     # why the poll failed; None when it succeeded
    stopped: bool = False        # the failure was a fault of ours that stopped the pass


def poll(app: App, state: StateStore, *, resume: bool = False) -> list[Outcome]:
    """One pass over the mailbox, with its result recorded for the health check.

    `resume` first finishes rows left `received` (by a crash, or by a pass a fault of ours stopped) whose mail may
    no longer be in the inbox.
    """
    return _poll(app, state, resume=resume).outcomes


def _poll(app: App, state: StateStore, *, resume: bool) -> Polled:
    try:
        outcomes = resume_unfinished(app) if resume else []
        # An urgent matter's forward goes out the moment it is decided, not after the rest of a backlog.
        outcomes += run_pass(app, after_urgent=lambda: _deliver_urgent(app))
    except LoginFailed as e:
        health.record_failure(state, app.now(), str(e), login=True)
        log.error("mailbox login failed: %s", e)
        return Polled([], str(e))
    except MailboxUnavailable as e:  # an outage, expected now and then: one line, no traceback
        health.record_failure(state, app.now(), str(e), login=False)
        log.warning("mailbox unavailable: %s", e)
        return Polled([], str(e))
    except PassStopped as e:  # ours, not the message's: nothing was blamed on it, the next pass retries
        health.record_failure(state, app.now(), str(e), login=False)
        log.error("intake stopped; the message in flight stays received and the rest of the inbox waits for the "
                  "next pass: %s", e)
        log.debug("intake stopped", exc_info=True)
        return Polled(e.done, str(e), stopped=True)
    except Exception as e:  # noqa: BLE001 - the loop edge: a server problem must not stop the daemon
        health.record_failure(state, app.now(), f"{type(e).__name__}: {e}", login=False)
        log.exception("mailbox pass failed")
        return Polled([], f"{type(e).__name__}: {e}")
    health.record_ok(state, app.now())
    return Polled(outcomes)


def check_health(app: App, state: StateStore, started: datetime,
                 held: dict[str, health.Alarm] | None = None) -> None:
    """Queue the alarms that are due.

    An alarm the database will not take waits in `held` (when the caller keeps one) and is queued by a later
    call, even once its incident has ended: it happened, and the operator must hear of it.
    """
    held = {} if held is None else held
    h = health.load(state)
    cfg = app.settings.health
    for alarm in health.alarms(h, app.now(), started=started,
                               silence=timedelta(minutes=cfg.silence_minutes), login_failures=cfg.login_failures):
        held.setdefault(alarm.key, alarm)
    for key, alarm in list(held.items()):
        try:
            with transaction(app.sessions) as s:
                enqueue(s, key=alarm.key, kind="operator", sender=app.identity, now=app.now(),
                        draft=operator_mail(app.department, app.settings.operator,
                                                  alarm.title, alarm.reason))
        except Exception as e:
            if not our_fault(e):
                raise
            log.warning("alarm %s is kept until the database takes writes again: %s", key, describe(e))
            return
        del held[key]


class Watch:
    """The daemon's health — each poll's result, and the alarms still to be queued — kept when the database fails.

    Health is written through a `FallbackStore`: when the database refuses the write, the record lives in memory
    and reaches the database with the first write that succeeds (so `mailbot status` shows it afterwards). Alarms
    are checked after every poll, not only on the calendar's tick; one that falls due while the database refuses
    writes is held here and queued after the first poll that finds the database writable again, even if that
    poll ended the incident.

    Why queue the alarm rather than send it straight through the transport: the outbox is what makes an alarm go
    out once per incident, across restarts and a second daemon; a direct send would need a memory of its own,
    lost at restart, and on the embedded default the transport writes to the very disk that may be full. While
    the database is down, what tells the operator is the ERROR line each stopped pass logs (journald, cron mail).

    While the database refuses writes (`writable` is False: the last health record did not reach it), the
    calendar and the outbox wait: the outbox marks a mail sent only after the transport took it, so delivering
    then would send mails whose "sent" cannot be recorded, and send them again later.
    """

    def __init__(self, app: App, started: datetime) -> None:
        self.app, self.started = app, started
        self.state = FallbackStore(DbStateStore(app.sessions, app.now))
        self.held: dict[str, health.Alarm] = {}
        self._resume = True             # the first poll, and each after a failed one, finish rows left `received`
        self._lock = threading.Lock()   # the loop and the calendar thread both check

    @property
    def writable(self) -> bool:
        return not self.state.behind

    def poll(self) -> Polled:
        polled = _poll(self.app, self.state, resume=self._resume)
        self._resume = polled.error is not None
        self.check()
        return polled

    def check(self) -> None:
        with self._lock:
            try:
                check_health(self.app, self.state, self.started, self.held)
            except Exception:  # noqa: BLE001 - the loop edge: a broken alarm must not stop the daemon
                log.exception("health check failed")


def calendar_tick(app: App, watch: Watch) -> None:
    if not watch.writable:  # what is due is computed from the database, so waiting misses nothing
        log.warning("calendar waits: the database does not take writes")
        watch.check()
        return
    try:
        tick(app)
    except Exception:  # noqa: BLE001 - the next tick tries again; nothing is half-sent (outbox rows are atomic)
        log.exception("calendar tick failed")
    watch.check()
    _deliver_at_loop_edge(app)


def _deliver_urgent(app: App) -> None:
    try:
        deliver(app, urgent_only=True)
    except Exception:  # noqa: BLE001 - inside a pass: the rows wait for the delivery at the loop's edge
        log.exception("urgent delivery failed")


def _deliver_at_loop_edge(app: App) -> bool:
    """Deliver what is due; True when more is due at once (the daemon then goes round again without waiting)."""
    try:
        return deliver(app).more
    except Exception:  # noqa: BLE001 - the loop edge: the rows wait for the next delivery
        log.exception("outbox delivery failed")
        return False


def run_once(app: App) -> PassReport:
    """One pass for cron: the mailbox, the calendar, the outbox.

    A mailbox outage skips only the mailbox. A pass that a fault of ours stopped is reported (`error`); the
    calendar and the outbox then run only if the database still takes writes, as in the daemon.
    """
    watch = Watch(app, started=app.now())  # from cron, silence counts from the last successful poll
    polled = watch.poll()
    if polled.stopped and not watch.writable:
        return PassReport(polled.outcomes, Plan(), SendReport(0, 0, []), stopped=polled.error)
    plan = tick(app)
    return PassReport(polled.outcomes, plan, deliver(app), mailbox_error=None if polled.stopped else polled.error,
                      stopped=polled.error if polled.stopped else None)


def reload_directory(app: App) -> bool:
    """Read directory.yaml again and load it into the database; a file with a mistake is refused with the error
    logged, and the directory in force stays. Returns whether the new one was taken."""
    path = app.settings.path(app.settings.directory)
    try:
        directory = load_directory(path)
        with transaction(app.sessions) as s:
            sync_directory(s, directory)
    except ConfigError as e:
        log.error("directory not reloaded, the one in force stays: %s", e)
        return False
    app.directory = directory
    log.info("directory reloaded from %s: %d units, %d customers", path, len(directory.units),
             len(directory.customers.strategic) + len(directory.customers.vip))
    return True


def run_daemon(app: App, stop: threading.Event | None = None) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    stop = stop or threading.Event()
    reload = threading.Event()
    if threading.current_thread() is threading.main_thread():  # tests run the daemon in a thread
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        # `systemctl reload` / `kill -HUP`: directory.yaml is read again before the next pass (within
        # schedule.poll_seconds), the mailbox connection kept.
        signal.signal(signal.SIGHUP, lambda *_: reload.set())
    leader = leadership(app.engine, app.settings.path(app.settings.data_dir))
    s = app.settings.schedule
    acting = threading.Event()          # /metrics says whether this daemon is the one acting
    http = start_http(app, acting.is_set)
    while not stop.is_set() and not leader.hold():
        log.info("another mailbot holds the lock; standing by")
        stop.wait(10)
    if stop.is_set():
        if http is not None:
            http.shutdown()
        return
    acting.set()
    watch = Watch(app, started=app.now())
    log.info("mailbot active: mailbox %s, poll every %ss, calendar every %ss", app.mailbox.name,
             s.poll_seconds, s.tick_seconds)
    sched = BackgroundScheduler(timezone=app.settings.timezone,
                                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
    sched.add_job(calendar_tick, "interval", args=[app, watch], seconds=s.tick_seconds, id="calendar",
                  replace_existing=True, next_run_time=app.now())
    sched.start()
    try:
        while not stop.is_set():
            if not leader.hold():
                log.error("lost the daemon lock; stopping so the other daemon acts alone")
                break
            if reload.is_set():
                reload.clear()
                reload_directory(app)
            watch.poll()  # a failed pass is recorded, not raised; the next one retries
            more = watch.writable and _deliver_at_loop_edge(app)
            if not stop.is_set() and not more:  # never back to waiting while deliverable mail is queued
                app.mailbox.wait(s.poll_seconds, stop)
    finally:
        acting.clear()
        sched.shutdown(wait=True)
        app.mailbox.close()
        leader.release()
        if http is not None:
            http.shutdown()
