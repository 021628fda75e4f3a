"""The daemon's edges: health alarms, the leader lock, and the loop itself on the embedded default."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from mailbot.app import App
from mailbot.daemon import health
from mailbot.daemon.leader import FileLeadership, PgLeadership
from mailbot.daemon.scheduler import check_health, poll, run_daemon
from mailbot.db.models import InboundMessage, OutboxMail
from mailbot.db.session import make_engine
from mailbot.db.state import DbStateStore, FallbackStore
from mailbot.demo import replies
from mailbot.mailboxes.base import LoginFailed
from mailbot.mailboxes.maildir import deliver

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def test_silence_alarm_once_per_incident() -> None:
    # 31 quiet minutes raise one alarm whose key names the incident; a later poll success ends it.
    h = health.Health(last_ok=T0)
    kw = {"started": T0, "silence": timedelta(minutes=30), "login_failures": 3}
    assert health.alarms(h, T0 + timedelta(minutes=29), **kw) == []
    (a,) = health.alarms(h, T0 + timedelta(minutes=31), **kw)
    (b,) = health.alarms(h, T0 + timedelta(hours=5), **kw)
    assert a.key == b.key  # same incident, same key: the outbox sends it once
    assert health.alarms(health.Health(last_ok=T0 + timedelta(hours=5)), T0 + timedelta(hours=5), **kw) == []


def test_login_failures_alarm_after_the_configured_count(app: App) -> None:
    # Three failed logins in a row (an expired token) mail the operator once, however long it lasts.
    state = DbStateStore(app.sessions, app.now)
    for i in range(5):
        health.record_failure(state, T0 + timedelta(minutes=i), "LOGIN failed", login=True)
        check_health(app, state, started=T0)
    with app.sessions() as s:
        keys = s.scalars(select(OutboxMail.idem_key).where(OutboxMail.kind == "operator")).all()
    assert [k for k in keys if k.startswith("operator:login:")] == ["operator:login:20261120T080000"]


class BrokenMailbox:
    name = "broken"

    def fetch_new(self):  # type: ignore[no-untyped-def]
        raise LoginFailed("AUTHENTICATE failed")


def test_a_failing_mailbox_is_recorded_not_raised(app: App) -> None:
    # The loop survives a login failure and `status` can show it.
    app.__dict__["mailbox"] = BrokenMailbox()
    state = DbStateStore(app.sessions, app.now)
    assert poll(app, state) == []
    h = health.load(state)
    assert (h.login_failures, h.last_error) == (1, "AUTHENTICATE failed")


def test_file_lock_admits_one_daemon(tmp_path: Path) -> None:
    # Two daemons on one SQLite machine: the second waits until the first releases.
    a, b = FileLeadership(tmp_path / "lock"), FileLeadership(tmp_path / "lock")
    assert a.hold() and a.hold()
    assert not b.hold()
    a.release()
    assert b.hold()


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_postgres_lock_admits_one_daemon_and_passes_on_death(db_url: str) -> None:
    # Two daemons on one PostgreSQL: one holds the advisory lock; when its session dies the other takes over.
    e1, e2 = make_engine(db_url), make_engine(db_url)
    a, b = PgLeadership(e1), PgLeadership(e2)
    try:
        assert a.hold() and not b.hold()
        a.conn.invalidate()  # type: ignore[union-attr]  # the process died: its session ends
        assert b.hold()
        assert not a.hold()  # the first notices it lost the lock (and the daemon stops acting)
    finally:
        a.release(), b.release()
        e1.dispose(), e2.dispose()


def test_daemon_processes_mail_dropped_while_it_runs(make_app) -> None:  # type: ignore[no-untyped-def]
    # `mailbot run` on the embedded default: a reply dropped into data/mail/new is handled and answered within a poll.
    from mailbot.app import system_clock

    app = make_app(schedule={"poll_seconds": 1, "tick_seconds": 3600})
    app.clock = system_clock
    stop = threading.Event()
    t = threading.Thread(target=run_daemon, args=(app, stop), daemon=True)
    t.start()
    try:
        raw = replies.build(sender=("李明", "liming@gd.example.cn"), to="kcr@hq.example.cn", at=app.now(),
                              subject="【紧急】管线泄漏", body="S001 支线泄漏，已关阀。")
        deliver(app.settings.path(app.settings.mailbox.path), raw)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with app.sessions() as s:
                if s.scalar(select(OutboxMail.status).where(OutboxMail.kind == "urgent_forward")) == "sent":
                    break
            time.sleep(0.2)
        with app.sessions() as s:
            assert s.scalar(select(InboundMessage.status)) == "processed"
            assert s.scalar(select(OutboxMail.status).where(OutboxMail.kind == "urgent_forward")) == "sent"
    finally:
        stop.set()
        t.join(timeout=10)
    assert not t.is_alive()


class SwitchableStore:
    """A state store whose database can be made to refuse everything, as a full or read-only one does."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise OperationalError("UPDATE state …", {}, Exception("database or disk is full"))

    def get(self, key: str) -> str | None:
        self._check()
        return self.data.get(key)

    def set(self, key: str, value: str) -> None:
        self._check()
        self.data[key] = value


def test_health_is_kept_in_memory_while_the_database_refuses_it_and_written_when_it_takes_writes() -> None:
    # Three failed polls while the database is down are counted, not lost; the first write that succeeds stores them.
    durable = SwitchableStore()
    store = FallbackStore(durable)
    health.record_ok(store, T0)
    durable.down = True
    for i in range(1, 4):
        health.record_failure(store, T0 + timedelta(minutes=i), "intake stopped: DiskFull", login=False)
    h = health.load(store)
    assert store.behind and (h.failures, h.last_ok, h.failing_since) == (3, T0, T0 + timedelta(minutes=1))
    durable.down = False
    assert store.flush() and not store.behind
    assert health.load(durable) == h
    durable.set = lambda key, value: 1 / 0  # type: ignore[method-assign]  # a bug is not absorbed
    with pytest.raises(ZeroDivisionError):
        health.record_ok(store, T0)
