"""A power cut at each hand-off of the pipeline, then a normal restart, on PostgreSQL, Dovecot and an SMTP sink.

`crash.py` runs `mailbot run --once` and SIGKILLs it right after one stage:
the raw message recorded, its effects committed, the message moved on the
server, or one mail accepted by the SMTP server. A second, normal run must
finish the work: every message processed once (one inbound row each, one
urgent request each, moved out of INBOX once) and every mail delivered once —
except in the one window the design documents (outbox/smtp.py, "Sending
twice"): the server accepted DATA and the process died before the row was
marked sent. That mail is sent again with the same bytes and Message-ID, so
clients thread it with the first; the test pins exactly that one duplicate.
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailbot.db.migrate import upgrade
from mailbot.db.models import InboundMessage, OutboxMail, Request
from mailbot.db.session import make_engine
from tests.integration.harness import (
    copies,
    folder_counts,
    matters,
    message_id,
    outbox,
    run_mailbot,
    statuses,
    write_config,
)
from tests.servers.dovecot import Account, Dovecot
from tests.servers.smtpsink import SmtpSink

# What the servers and the database hold right after each crash: inbound statuses, INBOX / Processed, mails on the
# sink, outbox rows. It shows the kill happened where it was meant to, before anything was finished.
PENDING, SENT = ("pending", 0), ("sent", 1)
AFTER_CRASH = {
    "recorded": (["received"], (2, 0), 0, []),        # the first message stored, nothing decided, nothing moved
    "processed": (["processed"], (2, 0), 0, [PENDING] * 2),  # its forward and ack queued, the message still in INBOX
    # Urgent matters' mails are delivered the moment each is decided (the priority lane), mid-pass:
    "marked_done": (["processed", "processed"], (0, 2), 4, [SENT] * 4),  # both moved in one MOVE, 4 mails sent
    "sent": (["processed"], (2, 0), 1, [PENDING] * 2),  # the first handled, its forward accepted by SMTP but the row
                                                        # not marked; the second not read yet, nothing moved
}


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("stage", list(AFTER_CRASH))
def test_sigkill_after_a_stage_then_restart_finishes_once(stage: str, db_url: str, tmp_path: Path,
                                                          dovecot: Dovecot, account: Account, sink: SmtpSink) -> None:
    # kill -9 right after one pipeline stage, then run again: each message handled once, each mail sent once
    # (twice, byte for byte, only when the kill fell between SMTP's "250" and the row being marked sent).
    engine = make_engine(db_url)
    upgrade(engine)
    config = write_config(tmp_path, dovecot=dovecot, account=account, sink=sink, db_url=db_url, backfill=True)
    urgent = matters()[:2]
    for m in urgent:
        dovecot.append(account.user, m.raw)

    rc, log = run_mailbot(config, "run", "--once", account=account, log=tmp_path / "crashed.log", crash_after=stage)
    assert rc == -signal.SIGKILL and f"crash: SIGKILL after {stage}" in log, log
    inbound, (inbox, processed), on_sink, urgent_rows = AFTER_CRASH[stage]
    folders = folder_counts(dovecot, account.user)
    assert (statuses(engine), (folders["INBOX"], folders["Processed"]), len(sink.messages)) == \
           (inbound, (inbox, processed), on_sink)
    assert [(status, attempts) for kind, status, attempts in outbox(engine) if kind.startswith("urgent")] == \
           urgent_rows

    rc, log = run_mailbot(config, "run", "--once", account=account, log=tmp_path / "again.log")
    assert rc == 0, log

    # Each message processed exactly once: one row, one urgent request, moved out of INBOX once.
    assert statuses(engine) == ["processed", "processed"]
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(Request).where(Request.urgent.is_(True))) == 2
        assert c.scalar(select(func.count()).select_from(InboundMessage)) == 2
        rows = c.execute(select(OutboxMail.message_id, OutboxMail.status).order_by(OutboxMail.id)).all()
    assert folder_counts(dovecot, account.user) == {"INBOX": 0, "Processed": 2, "Quarantine": 0, "Auto-replies": 0}
    assert {status for _, status in rows} == {"sent"}

    # Each mail on the SMTP server once — but for the documented window, where the first mail arrives twice.
    seen = copies(sink)
    assert set(seen) == {mid for mid, _ in rows}
    assert all((m.forwarded(sink), m.acknowledged(sink)) >= (1, 1) for m in urgent)
    if stage == "sent":
        first = rows[0].message_id
        assert seen[first] == 2 and Counter(seen.values()) == Counter({2: 1, 1: len(rows) - 1})
        twice = [r.raw for r in sink.messages if message_id(r.raw) == first]
        assert twice[0] == twice[1]  # the same bytes, the same Message-ID: the recipient's client threads them
    else:
        assert Counter(seen.values()) == Counter({1: len(rows)})
    engine.dispose()
