"""Two `mailbot run` daemons on one PostgreSQL database, one mailbox and one SMTP server: a hot standby.

Only the holder of the advisory lock acts; the other logs that it stands by
and tries again every 10 s. When the active one is killed outright, its
database session ends, the lock with it, and the standby takes over — finishing
nothing twice, because everything it could repeat is keyed in the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mailbot.db.migrate import upgrade
from mailbot.db.session import make_engine
from tests.integration.harness import (
    Mailbot,
    delivered,
    every_row_on_the_sink_once,
    folder_counts,
    matters,
    statuses,
    wait_until,
    write_config,
)
from tests.servers.dovecot import Account, Dovecot
from tests.servers.smtpsink import SmtpSink

ACTIVE, STANDBY = "mailbot active", "another mailbot holds the lock; standing by"


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_standby_takes_over_after_kill_9_and_sends_nothing_twice(db_url: str, tmp_path: Path, dovecot: Dovecot,
                                                                 account: Account, sink: SmtpSink,
                                                                 spawn: Callable[..., Mailbot]) -> None:
    # Two daemons, same config: one acts, one stands by; kill -9 the active one and the other takes over within
    # 60 s, handling the mail that arrived after the kill; every mail reaches the SMTP server once.
    engine = make_engine(db_url)
    upgrade(engine)
    config = write_config(tmp_path, dovecot=dovecot, account=account, sink=sink, db_url=db_url, poll_seconds=5)
    first = spawn(config, "run", name="first")
    first.wait_log("baseline taken", 30)
    second = spawn(config, "run", name="second")
    second.wait_log(STANDBY, 30)
    before, after = matters()[:2]

    dovecot.append(account.user, before.raw)
    wait_until(lambda: before.forwarded(sink) and before.acknowledged(sink), 20, "the first daemon's answers",
               explain=first.tail)
    assert ACTIVE in first.text() and "msg=1 " in first.text()
    assert ACTIVE not in second.text() and "msg=" not in second.text()  # the standby touched nothing
    # Killed once its outbox is marked sent: a kill between SMTP's "250" and that mark is the one window where a
    # mail goes twice (test_crash_recovery pins it); this test is about the takeover.
    wait_until(lambda: delivered(engine), 10, "the first daemon's outbox marked sent", explain=first.tail)

    first.kill()
    killed = time.monotonic()
    dovecot.append(account.user, after.raw)
    second.wait_log(ACTIVE, 60)
    wait_until(lambda: after.forwarded(sink) and after.acknowledged(sink), max(1.0, 60 - (time.monotonic() - killed)),
               "the standby's answers", explain=second.tail)
    took = time.monotonic() - killed
    assert took < 60, f"the standby needed {took:.0f} s"
    assert "msg=2 " in second.text() and "msg=1 " not in second.text()

    assert statuses(engine) == ["processed", "processed"]
    assert [(m.forwarded(sink), m.acknowledged(sink)) for m in (before, after)] == [(1, 1), (1, 1)]
    every_row_on_the_sink_once(sink, engine)
    assert folder_counts(dovecot, account.user) == {"INBOX": 0, "Processed": 2, "Quarantine": 0, "Auto-replies": 0}
    engine.dispose()
