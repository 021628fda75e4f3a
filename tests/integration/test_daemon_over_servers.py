"""`mailbot run` (and `run --once`, the cron mode) as a process, as deployed: IMAP on Dovecot, SMTP to a sink,
the real clock, a config file whose password comes from the environment — and the servers taken away under it.

What is counted is what the servers saw: messages accepted by the SMTP sink
(each urgent matter's forward to HQ staff and acknowledgement to the unit),
messages left in or moved out of INBOX, and the inbound rows. The daemons are
ended with SIGKILL by the `spawn` fixture: a crash is a case the design covers,
and SIGTERM is slow while idling (test_sigterm_stops_an_idling_daemon_promptly).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text as text_sql

from mailbot.db.session import make_engine
from tests.integration.harness import (
    Mailbot,
    every_row_on_the_sink_once,
    folder_counts,
    matters,
    outbox,
    run_mailbot,
    sqlite_url,
    statuses,
    wait_until,
    write_config,
)
from tests.servers.dovecot import Account, Dovecot
from tests.servers.smtpsink import SmtpSink
from tests.support.mailflow import PROJECT

Spawn = Callable[..., Mailbot]


def test_urgent_mail_is_forwarded_within_seconds_while_the_daemon_idles(
        tmp_path: Path, dovecot: Dovecot, account: Account, sink: SmtpSink, spawn: Spawn) -> None:
    # The daemon idles on Dovecot over TLS, polling only every 30 s: an urgent mail's forward reaches SMTP in < 5 s.
    config = write_config(tmp_path, dovecot=dovecot, account=account, sink=sink, db_url=sqlite_url(tmp_path),
                          poll_seconds=30, tls=True)
    daemon = spawn(config, "-v", "run")
    daemon.wait_log("+ idling", 30)  # -v logs the IMAP conversation: the server has said "+ idling"
    urgent = matters()[0]

    appended = time.monotonic()
    dovecot.append(account.user, urgent.raw)
    wait_until(lambda: urgent.forwarded(sink), 15, "the forward on the SMTP sink", explain=daemon.tail)
    elapsed = time.monotonic() - appended
    wait_until(lambda: urgent.acknowledged(sink), 5, "the acknowledgement on the SMTP sink", explain=daemon.tail)

    assert elapsed < 5, f"the forward took {elapsed:.1f} s: IDLE did not wake the daemon"
    assert (urgent.forwarded(sink), urgent.acknowledged(sink)) == (1, 1)
    assert folder_counts(dovecot, account.user) == {"INBOX": 0, "Processed": 1, "Quarantine": 0, "Auto-replies": 0}
    engine = make_engine(sqlite_url(tmp_path))
    assert statuses(engine) == ["processed"]
    every_row_on_the_sink_once(sink, engine)
    # Even at DEBUG, with the whole IMAP conversation logged, the password never reaches the log.
    assert re.search(r"> b'\w+ LOGIN ", daemon.text()) and account.password not in daemon.text()
    engine.dispose()


def test_imap_server_restart_mid_run_loses_nothing_and_repeats_nothing(
        tmp_path: Path, dovecot: Dovecot, account: Account, sink: SmtpSink, spawn: Spawn) -> None:
    # Dovecot goes away for longer than the daemon's reconnect attempts, then comes back: mail before and after
    # the outage is each processed once, and the daemon is still running.
    config = write_config(tmp_path, dovecot=dovecot, account=account, sink=sink, db_url=sqlite_url(tmp_path),
                          poll_seconds=3)
    daemon = spawn(config, "run")
    daemon.wait_log("baseline taken", 30)
    engine = make_engine(sqlite_url(tmp_path))
    before, after = matters()[:2]

    dovecot.append(account.user, before.raw)
    wait_until(lambda: before.forwarded(sink) and before.acknowledged(sink), 20, "the first matter handled",
               explain=daemon.tail)
    dovecot.stop()
    time.sleep(4)  # longer than the daemon's connect attempts (1 s, then 2 s apart): the pass fails and is retried
    dovecot.start(dovecot.dir, dovecot.ports)
    dovecot.append(account.user, after.raw)
    wait_until(lambda: after.forwarded(sink) and after.acknowledged(sink), 30, "the second matter handled",
               explain=daemon.tail)

    assert daemon.alive
    assert "mailbox pass failed" in daemon.text() or "connection lost" in daemon.text()  # the outage was seen
    assert statuses(engine) == ["processed", "processed"]
    assert [(m.forwarded(sink), m.acknowledged(sink)) for m in (before, after)] == [(1, 1), (1, 1)]
    every_row_on_the_sink_once(sink, engine)
    assert folder_counts(dovecot, account.user) == {"INBOX": 0, "Processed": 2, "Quarantine": 0, "Auto-replies": 0}
    engine.dispose()


def test_smtp_outage_holds_the_answers_and_delivers_each_once_when_it_returns(
        tmp_path: Path, dovecot: Dovecot, account: Account, sink: SmtpSink, spawn: Spawn) -> None:
    # The SMTP server is down while two urgent mails arrive: both are processed at once, their forwards and acks
    # wait in the outbox without using up retries, and are delivered exactly once after the server returns.
    config = write_config(tmp_path, dovecot=dovecot, account=account, sink=sink, db_url=sqlite_url(tmp_path),
                          poll_seconds=1, smtp_cooldown_seconds=4)
    daemon = spawn(config, "run")
    daemon.wait_log("baseline taken", 30)
    engine = make_engine(sqlite_url(tmp_path))
    sink.stop()
    sent_before = len(sink.messages)
    urgent = matters()[:2]

    for m in urgent:
        dovecot.append(account.user, m.raw)
    wait_until(lambda: statuses(engine) == ["processed", "processed"], 20, "both mails processed",
               explain=daemon.tail)
    wait_until(lambda: "transport unavailable" in daemon.text(), 10, "a delivery attempt", explain=daemon.tail)
    time.sleep(3)  # several passes hit the closed port (poll every second)
    assert len(sink.messages) == sent_before
    held = [(kind, status, attempts) for kind, status, attempts in outbox(engine)
            if kind in ("urgent_forward", "urgent_ack")]
    assert held == [("urgent_forward", "pending", 0), ("urgent_ack", "pending", 0)] * 2  # no retry used up
    assert folder_counts(dovecot, account.user)["Processed"] == 2  # mail handling does not wait for SMTP

    sink.start()
    # The transport's breaker keeps a dead server from being hammered: it tries again `cooldown_seconds` (30 by
    # default, 4 here) after the failure.
    wait_until(lambda: all(m.forwarded(sink) and m.acknowledged(sink) for m in urgent), 30,
               "forwards and acks delivered after the outage", explain=daemon.tail)
    time.sleep(2)  # more passes: nothing is sent a second time
    assert [(m.forwarded(sink), m.acknowledged(sink)) for m in urgent] == [(1, 1), (1, 1)]
    every_row_on_the_sink_once(sink, engine)
    assert {status for _, status, _ in outbox(engine)} == {"sent"}
    engine.dispose()


def test_sigterm_stops_an_idling_daemon_promptly(tmp_path: Path, dovecot: Dovecot, account: Account,
                                                 sink: SmtpSink, spawn: Spawn) -> None:
    # `systemctl stop` / `docker stop` while the daemon idles: it closes its sessions and exits within 5 s.
    config = write_config(tmp_path, dovecot=dovecot, account=account, sink=sink, db_url=sqlite_url(tmp_path),
                          poll_seconds=30)
    daemon = spawn(config, "-v", "run")
    daemon.wait_log("+ idling", 30)
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGTERM)
    try:
        rc: int | None = daemon.proc.wait(5)
    except subprocess.TimeoutExpired:
        rc = None
    assert rc == 0, "still running 5 s after SIGTERM"
    assert "LOGOUT" in daemon.text()  # it said goodbye to the IMAP server rather than being killed


def test_run_once_with_the_imap_server_down_still_delivers_the_outbox(tmp_path: Path, dovecot: Dovecot,
                                                                     account: Account, sink: SmtpSink) -> None:
    # Cron mode: mail answered while SMTP was down waits in the outbox; the next `run --once` finds the IMAP server
    # down and SMTP back — it still delivers what waits, and says what is wrong in one line.
    config = write_config(tmp_path, dovecot=dovecot, account=account, sink=sink, db_url=sqlite_url(tmp_path),
                          backfill=True)
    urgent = matters()[0]
    dovecot.append(account.user, urgent.raw)
    sink.stop()
    rc, log = run_mailbot(config, "run", "--once", account=account, log=tmp_path / "smtp-down.log")
    assert rc == 0 and "processed 1" in log, log

    sink.start()
    dovecot.stop()
    try:
        rc, log = run_mailbot(config, "run", "--once", account=account, log=tmp_path / "imap-down.log")
    finally:
        dovecot.start(dovecot.dir, dovecot.ports)
    assert "Traceback" not in log, log
    assert (urgent.forwarded(sink), urgent.acknowledged(sink)) == (1, 1), log


def test_sighup_reloads_the_directory_and_a_broken_file_is_refused(tmp_path: Path, dovecot: Dovecot,
                                                                   account: Account, sink: SmtpSink,
                                                                   spawn: Spawn,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # `systemctl reload` after editing directory.yaml: a new contact counts at once, the IMAP session is kept;
    # a file with a mistake is refused with the error, and the directory in force stays.
    monkeypatch.setenv("MAILBOT_ALLOW_EXAMPLE_DIRECTORY", "1")   # an edited copy of the example people, knowingly
    directory = tmp_path / "directory.yaml"
    directory.write_text((PROJECT / "config/directory.example.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    config = write_config(tmp_path, dovecot=dovecot, account=account, sink=sink, db_url=sqlite_url(tmp_path),
                          poll_seconds=1)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    config.write_text(yaml.safe_dump({**data, "directory": str(directory)}, allow_unicode=True), encoding="utf-8")
    daemon = spawn(config, "-v", "run")
    daemon.wait_log("+ idling", 30)
    assert daemon.proc is not None
    text = directory.read_text(encoding="utf-8")
    directory.write_text(text.replace("contacts: [{name: 李明, email: liming@gd.example.cn",
                                      "contacts: [{name: 何新, email: hexin@gd.example.cn}, "
                                      "{name: 李明, email: liming@gd.example.cn", 1), encoding="utf-8")
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_log("directory reloaded from", 30)
    with make_engine(sqlite_url(tmp_path)).connect() as c:
        assert c.scalar(text_sql("SELECT name FROM people WHERE email = 'hexin@gd.example.cn'")) == "何新"
    directory.write_text("units: [", encoding="utf-8")
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_log("directory not reloaded, the one in force stays", 30)
    assert daemon.alive and "LOGOUT" not in daemon.text()   # the IMAP session kept throughout
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.wait(10) == 0
