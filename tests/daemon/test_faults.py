"""Faults of ours are not the message's fault: a killed database connection, a full disk, a read-only database.

Each scenario delivers valid monthly reports, breaks the storage at a chosen point of a pass — hooked
deterministically (an SQLAlchemy event before a given statement, the mailbox between two messages), never by
sleeping — and lets later passes run once the storage is healthy again. Every report must end processed exactly
once — one inbound row `processed`, one submission, one acknowledgement, nothing quarantined, the inbox empty —
without `mailbot reparse`. The control: a bug hit while handling a message's own content still quarantines it.
"""

from __future__ import annotations

import email
import errno
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg.errors
import pytest
import yaml
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.exc import DataError, OperationalError

from mailbot.app import App, build_app
from mailbot.daemon import health, scheduler
from mailbot.db.migrate import upgrade
from mailbot.db.models import InboundMessage, OutboxMail, Quarantine, Submission
from mailbot.db.session import make_engine, transaction
from mailbot.db.state import DbStateStore
from mailbot.demo import replies
from mailbot.directory.lookup import sync_directory
from mailbot.errors import ConfigError, PassStopped, our_fault
from mailbot.mailboxes.base import FetchedMail, Folder
from mailbot.mailboxes.maildir import deliver
from mailbot.pipeline import intake
from mailbot.reports import inbound as report_inbound
from mailbot.reports.schedule import send_requests
from tests.support.mailflow import PROJECT, Clock, at, test_settings

# One contact of each demo unit, and a strategic customer that unit serves.
REPORTERS = [("GD", ("李明", "liming@gd.example.cn"), "S001"), ("SC", ("王静", "wangjing@sc.example.cn"), "S002"),
             ("BJ", ("孙悦", "sunyue@bj.example.cn"), "S004"), ("JS", ("吴昊", "wuhao@js.example.cn"), "S006"),
             ("SX", ("马丽", "mali@sx.example.cn"), "S005"), ("XJ", ("艾力", "aili@xj.example.cn"), "S012")]


def reports_arrive(app: App, count: int) -> None:
    """This month's request to every unit, then `count` valid replies in the inbox, one unit each, oldest first."""
    send_requests(app, "2026-11")
    with app.sessions() as s:
        requests = dict(s.execute(select(OutboxMail.idem_key, OutboxMail.raw)
                                  .where(OutboxMail.kind == "request")).all())
    for i, (unit, sender, customer) in enumerate(REPORTERS[:count]):
        when = at(2026, 11, 18, 9, i)
        deliver(inbox(app), replies.reply(requests[f"request:2026-11:{unit}"], sender=sender, at=when,
                                            answers={customer: {"1": "执行正常。"}}, reporter=(sender[0], "1")),
                received_at=when)


def inbox(app: App) -> Path:
    return app.settings.path(app.settings.mailbox.path)


def waiting_in_inbox(app: App) -> int:
    return sum(1 for sub in ("new", "cur") for _ in (inbox(app) / sub).iterdir())


def statuses(app: App) -> list[str]:
    with app.sessions() as s:
        return list(s.scalars(select(InboundMessage.status).order_by(InboundMessage.id)))


def quarantined(app: App) -> int:
    with app.sessions() as s:
        return s.scalar(select(func.count()).select_from(Quarantine)) or 0


def assert_each_report_processed_once(app: App, count: int) -> None:
    with app.sessions() as s:
        assert s.scalars(select(InboundMessage.status)).all() == ["processed"] * count
        subs = s.execute(select(Submission.unit_id, Submission.version)).all()
        assert len(subs) == count and len({u for u, _ in subs}) == count and {v for _, v in subs} == {1}
        acks = s.scalars(select(OutboxMail.idem_key).where(OutboxMail.kind == "ack")).all()
        assert len(acks) == len(set(acks)) == count
        assert s.scalar(select(func.count()).select_from(Quarantine)) == 0
    assert waiting_in_inbox(app) == 0
    assert len(list((inbox(app) / ".Processed" / "cur").iterdir())) == count


# --- a killed PostgreSQL connection -----------------------------------------------------------------


Moment = Callable[[str], bool]  # given "COMMIT" or a statement's SQL: is this where the connection dies?


class Terminator:
    """Terminates the bot's own PostgreSQL backend from another connection right before a chosen statement, as
    `pg_terminate_backend` by an operator or a server restart would; the statement then meets a dead connection."""

    def __init__(self, engine: Engine, admin: Engine) -> None:
        self.admin = admin
        self.moment: Moment | None = None
        self.fired = 0
        self.writes_inbound = False
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)

    def arm(self, moment: Moment) -> None:
        self.moment = moment

    def _statement(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.writes_inbound |= statement.startswith("UPDATE inbound_messages")
        self._maybe_kill(conn, statement)

    def _commit(self, conn: Any) -> None:
        self._maybe_kill(conn, "COMMIT after UPDATE inbound_messages" if self.writes_inbound else "COMMIT")
        self.writes_inbound = False

    def _rollback(self, _conn: Any) -> None:
        self.writes_inbound = False

    def _maybe_kill(self, conn: Any, what: str) -> None:
        if self.moment is None or not self.moment(what):
            return
        self.moment = None
        pid = conn.connection.dbapi_connection.info.backend_pid
        with self.admin.connect() as c:  # the 5 s timeout makes it wait until the backend has exited
            assert c.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        self.fired += 1


def nth(prefix: str, n: int = 1) -> Moment:
    seen = 0

    def moment(what: str) -> bool:
        nonlocal seen
        seen += what.startswith(prefix)
        return seen == n and what.startswith(prefix)
    return moment


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_killed_connections_stop_the_pass_and_later_passes_process_every_report_once(
        make_app: Callable[..., App], db_url: str) -> None:
    # Four passes each lose the bot's connection at a different point — recording the 2nd report, inside handling,
    # at the COMMIT that would mark a report processed, at the pass's very first statement. Each pass stops with
    # the message in flight still `received` and in the inbox; the fifth pass, undisturbed, finishes the rest.
    app = make_app()
    reports_arrive(app, 6)
    admin = make_engine(db_url)
    killer = Terminator(app.engine, admin)
    try:
        for moment, after in ((nth("INSERT INTO inbound_messages", 2), ["processed"]),
                              (nth("INSERT INTO submissions"), ["processed", "received"]),
                              (nth("COMMIT after UPDATE inbound_messages"), ["processed", "received"]),
                              (nth(""), ["processed", "received"])):
            killer.arm(moment)
            with pytest.raises(PassStopped, match="AdminShutdown|connection"):
                intake.run_pass(app)
            killer.arm(lambda _: False)
            assert (statuses(app), quarantined(app), waiting_in_inbox(app)) == (after, 0, 5)
        assert killer.fired == 4
        assert [o.status for o in intake.run_pass(app)] == ["processed"] * 5
    finally:
        admin.dispose()
    assert_each_report_processed_once(app, 6)


# --- a full disk ---------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 8 MB tmpfs of its own, unmounted afterwards (request it before `make_app`, which closes the database
    first)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        reason = f"cannot mount a small tmpfs here: {mounted.stderr.strip() or mounted.returncode}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI runs as root and must run the full-disk test)")
        pytest.skip(reason)
    yield disk
    if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path) -> Path:
    """Write a filler file until the disk refuses another byte."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    return filler


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_full_disk_leaves_the_report_in_flight_received_and_the_next_pass_finishes(
        small_disk: Path, make_app: Callable[..., App]) -> None:
    # SQLite on a small disk that fills up while the 3rd of 6 reports is being handled. Space comes back a moment
    # later (a rotated log, a deleted temp file) — here, at the moment anything would write a quarantine row, so
    # blaming the message would stick. The pass stops instead: the 3rd report stays `received` and in the inbox,
    # the 4th to 6th wait; once space is freed the next pass handles each of them once.
    app = make_app(database={"url": f"sqlite:///{small_disk / 'mailbot.sqlite3'}"})
    reports_arrive(app, 6)
    filler: list[Path] = []
    submissions = nth("INSERT INTO submissions", 3)

    @event.listens_for(app.engine, "before_cursor_execute")
    def _disk(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if submissions(statement):
            filler.append(fill(small_disk))
        elif statement.startswith("INSERT INTO quarantine") and filler:
            filler.pop().unlink()

    with pytest.raises(PassStopped, match="SQLITE_FULL"):
        intake.run_pass(app)
    assert (statuses(app), quarantined(app), waiting_in_inbox(app)) == (["processed", "processed", "received"], 0, 4)
    assert filler, "the disk was filled"
    filler.pop().unlink()
    assert [o.status for o in intake.run_pass(app)] == ["processed"] * 4
    assert_each_report_processed_once(app, 6)


# --- a read-only database under the daemon -------------------------------------------------------


class ReadOnlySwitch:
    """Opens the SQLite file read-only or read-write, as the file's permissions would; `set` reconnects."""

    def __init__(self, path: Path) -> None:
        self.path, self.read_only = path, False
        self.engine = make_engine(f"sqlite:///{path}", creator=self.connect)

    def connect(self) -> sqlite3.Connection:
        mode = "ro" if self.read_only else "rwc"
        return sqlite3.connect(f"file:{self.path}?mode={mode}", uri=True, timeout=30, check_same_thread=False)

    def set(self, read_only: bool) -> None:
        self.read_only = read_only
        self.engine.dispose()  # the session of a pass holds no connection between two messages


class BeforeMessage:
    """The mailbox, with `action` run once, right before the `n`th message of a pass is handed out."""

    def __init__(self, inner: Any, n: int, action: Callable[[], None]) -> None:
        self.inner, self.n, self.action = inner, n, action
        self.name = inner.name

    def fetch_new(self) -> Iterator[FetchedMail]:
        for i, mail in enumerate(self.inner.fetch_new(), 1):
            if i == self.n and self.action is not None:
                action, self.action = self.action, None
                action()
            yield mail

    def mark_done(self, ref: str, folder: Folder) -> None:
        self.inner.mark_done(ref, folder)

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        return bool(self.inner.wait(timeout, stop))

    def close(self) -> None:
        self.inner.close()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    end = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return result


def test_a_read_only_database_keeps_the_daemon_up_and_alarms_once_it_is_writable(
        tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # The SQLite file turns read-only after the first of three reports. The daemon logs each refused pass at ERROR
    # and keeps looping; its health lives in memory meanwhile. Two hours later the silence alarm is due but cannot
    # be queued; once the file is writable again the next pass handles the other two reports once, the alarm is
    # queued, every mail is delivered once, and the health state on disk names the error.
    switch = ReadOnlySwitch(tmp_path / "mailbot.sqlite3")
    settings = test_settings(tmp_path, f"sqlite:///{switch.path}", schedule={"poll_seconds": 1, "tick_seconds": 3600})
    app = build_app(settings, clock=clock, engine=switch.engine)
    upgrade(app.engine)
    with transaction(app.sessions) as s:
        sync_directory(s, app.directory)
    reports_arrive(app, 3)
    app.__dict__["mailbox"] = BeforeMessage(app.mailbox, 2, lambda: switch.set(read_only=True))
    # The calendar thread is not under test; its own delivery of the first acknowledgement would race the switch.
    monkeypatch.setattr(scheduler, "calendar_tick", lambda *a, **k: None)
    caplog.set_level(logging.WARNING)

    def logged(level: int, needle: str) -> int:
        return sum(1 for r in caplog.records if r.levelno == level and needle in r.getMessage())

    stop, crashed = threading.Event(), []

    def daemon() -> None:
        try:
            scheduler.run_daemon(app, stop)
        except BaseException as e:  # noqa: BLE001 - reported by the test below
            crashed.append(e)

    t = threading.Thread(target=daemon, daemon=True)
    t.start()
    try:
        wait_for(lambda: logged(logging.ERROR, "intake stopped") >= 1, "a pass refused by the database")
        assert (statuses(app), quarantined(app)) == (["processed"], 0)
        clock.now += timedelta(hours=2)
        wait_for(lambda: logged(logging.WARNING, "operator:silence:") >= 1, "the silence alarm held back")
        with app.sessions() as s:
            assert s.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.kind == "operator")) == 0
        assert t.is_alive() and not crashed
        switch.set(read_only=False)

        def settled() -> bool:
            with app.sessions() as s:
                pending = s.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.status != "sent"))
                alarms = s.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.kind == "operator"))
            return statuses(app) == ["processed"] * 3 and alarms == 1 and pending == 0
        wait_for(settled, "the reports handled, the alarm queued and everything delivered")
    finally:
        stop.set()
        t.join(timeout=10)
    assert not t.is_alive() and not crashed, crashed
    assert_each_report_processed_once(app, 3)
    with app.sessions() as s:
        (alarm,) = s.scalars(select(OutboxMail.idem_key).where(OutboxMail.kind == "operator")).all()
        sent = s.scalars(select(OutboxMail.message_id)).all()
    assert alarm.startswith("operator:silence:")
    delivered = [email.message_from_bytes(f.read_bytes())["Message-ID"] for f in (tmp_path / "outbox/new").iterdir()]
    assert sorted(delivered) == sorted(sent)  # each mail once: none sent twice while its row could not say so
    h = health.load(DbStateStore(app.sessions, app.now))
    assert h.last_ok == clock.now and "readonly" in (h.last_error or "") and h.failures == 0


# --- `mailbot run --once` ----------------------------------------------------------------------------------


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_run_once_exits_non_zero_with_one_line_when_the_database_refuses_the_pass(
        make_app: Callable[..., App], db_url: str, tmp_path: Path) -> None:
    # The server answers the report's and the health record's writes as a full disk does (SQLSTATE 53100).
    # `mailbot run --once` says so in one line and exits 1; the report waits `received`, the calendar and the
    # outbox wait too. With the disk "freed" the next run handles both reports, once.
    app = make_app()
    reports_arrive(app, 2)
    config = tmp_path / "mailbot.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(tmp_path), "database": {"url": db_url}, "mailbox": {"path": str(inbox(app))},
        "outbox": {"path": str(tmp_path / "outbox")}, "directory": str(PROJECT / "config/directory.example.yaml"),
        "identity": {"address": "kcr@hq.example.cn", "token_secret_env": None}}, allow_unicode=True),
        encoding="utf-8")
    with app.engine.begin() as c:
        c.execute(text("CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
                       "'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$"))
        for table in ("submissions", "state"):
            c.execute(text(f"CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE ON {table} "
                           "FOR EACH ROW EXECUTE FUNCTION disk_full()"))
    r = subprocess.run([sys.executable, "-m", "mailbot", "--config", str(config), "run", "--once"],
                       capture_output=True, text=True, cwd=PROJECT, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(PROJECT), "MAILBOT_HOME": str(PROJECT)})
    said = [line for line in r.stderr.splitlines() if line.startswith("mailbot:")]
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert len(said) == 1 and "DiskFull 53100" in said[0], r.stderr
    assert r.stdout.startswith("inbound: 0 (none); calendar queued 0; outbox delivered 0"), r.stdout
    assert (statuses(app), quarantined(app), waiting_in_inbox(app)) == (["received"], 0, 2)
    with app.engine.begin() as c:
        c.execute(text("DROP FUNCTION disk_full CASCADE"))
    report = scheduler.run_once(app)
    assert report.error is None and [o.status for o in report.outcomes] == ["processed", "duplicate", "processed"]
    assert_each_report_processed_once(app, 2)


# --- whose fault: the classification, and the message-fault control --------------------------------------


def _driver_error(exc: BaseException) -> OperationalError:
    return OperationalError("INSERT …", {}, exc)


def _sqlite_error(tmp_path: Path, sql: str, *params: object, mode: str = "rwc") -> BaseException:
    db = tmp_path / "c.sqlite3"
    sqlite3.connect(db).execute("CREATE TABLE IF NOT EXISTS t (x)").connection.commit()
    try:
        sqlite3.connect(f"file:{db}?mode={mode}", uri=True).execute(sql, params)
    except sqlite3.Error as e:
        return e
    raise AssertionError(f"{sql} did not fail")


def test_whose_fault(tmp_path: Path) -> None:
    # Ours: the database refusing or losing us (by SQLSTATE class or SQLite result code), the disk, the installation.
    # The message's: what its content can provoke — bad data, a constraint, a SQL-level refusal, a plain bug.
    ours = [_driver_error(psycopg.errors.AdminShutdown("terminating connection")),
            _driver_error(psycopg.errors.DiskFull("could not extend file")),
            _driver_error(psycopg.errors.SerializationFailure("could not serialize")),
            _driver_error(psycopg.errors.ReadOnlySqlTransaction("read-only transaction")),
            _driver_error(psycopg.OperationalError("server closed the connection unexpectedly")),
            _driver_error(_sqlite_error(tmp_path, "INSERT INTO t VALUES (1)", mode="ro")),
            OSError(errno.ENOSPC, "No space left on device"), ConfigError("mailbot.yaml: database.url: …")]
    theirs = [_driver_error(psycopg.errors.ProgramLimitExceeded("index row size 6416 exceeds maximum 2704")),
              DataError("INSERT …", {}, psycopg.errors.UntranslatableCharacter("NUL")),
              _driver_error(_sqlite_error(tmp_path, "SELECT 'x' LIKE ?", "%" * 60000)),  # SQLITE_ERROR
              OSError("Not a gzipped file"), ValueError("embedded null character"), KeyError("S999"), MemoryError()]
    assert [e for e in ours if not our_fault(e)] == []
    assert [e for e in theirs if our_fault(e)] == []


def test_a_database_error_provoked_by_the_content_still_quarantines(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    # The database refuses what one report carries (a value too big for an index): that report is quarantined as
    # "处理时程序出错" with the traceback, and the next one is handled in the same pass.
    reports_arrive(app, 2)
    real, calls = report_inbound.handle_report, []

    def refused(*a: Any, **kw: Any) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise _driver_error(psycopg.errors.ProgramLimitExceeded("index row size 6416 exceeds maximum 2704"))
        return real(*a, **kw)

    monkeypatch.setattr(report_inbound, "handle_report", refused)
    assert [o.status for o in intake.run_pass(app)] == ["quarantined", "processed"]
    with app.sessions() as s:
        q = s.scalar(select(Quarantine))
        assert q.reason == "处理时程序出错" and "index row size" in (q.detail or "")
