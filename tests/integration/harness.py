"""What the end-to-end tests share: the config file a real `mailbot` reads, the process that runs it, and
counting what actually reached the servers.

The tests look at outcomes where a user would: messages on the SMTP sink (by
Message-ID, labelled with the outbox row that produced them), messages in the
Dovecot folders, rows in the database. Outcomes are awaited against a
deadline (the few fixed sleeps in the tests are outage durations), so a slow
machine costs time, not flakiness, and a hang fails with what the daemon logged.
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, select

from mailbot.app import App
from mailbot.db.models import InboundMessage, OutboxMail
from mailbot.demo import replies
from tests.servers.dovecot import Account, Dovecot
from tests.servers.smtpsink import SmtpSink
from tests.support.mailflow import PROJECT

HERE = Path(__file__).resolve().parent
PW_ENV = "MAILBOT_TEST_IMAP_PW"   # the IMAP password reaches mailbot only through this variable
BOT = "kcr@hq.example.cn"
FOLDERS = ("INBOX", "Processed", "Quarantine", "Auto-replies")


def wait_until(check: Callable[[], Any], timeout: float, what: str, *, every: float = 0.05,
               explain: Callable[[], str] = lambda: "") -> Any:
    """Poll `check` until it returns something truthy; fail with `what` (and `explain()`) at the deadline."""
    end = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{explain()}")
        time.sleep(every)


# --- config ---------------------------------------------------------------------------------------


def write_config(root: Path, *, dovecot: Dovecot, account: Account, sink: SmtpSink, db_url: str,
                 poll_seconds: int = 30, tick_seconds: int = 3600, tls: bool = False,
                 backfill: bool = False, smtp_cooldown_seconds: float | None = None) -> Path:
    """A config file for the real `mailbot` command: IMAP on Dovecot, SMTP to the sink; no secret in it."""
    assert dovecot.ports is not None and dovecot.dir is not None
    mailbox: dict[str, Any] = {
        "backend": "imap", "host": dovecot.host, "username": account.user, "password": {"env": PW_ENV},
        "timeout": 10, "backfill": backfill}
    if tls:  # implicit TLS, trusting exactly the test server's self-signed certificate
        mailbox |= {"port": dovecot.ports.imaps, "security": "tls", "ca_file": str(dovecot.dir / "etc" / "cert.pem")}
    else:
        mailbox |= {"port": dovecot.ports.imap, "security": "plain"}
    config = {
        "data_dir": str(root / "data"),
        "database": {"url": db_url},
        "directory": str(PROJECT / "config" / "directory.example.yaml"),
        "identity": {"address": BOT, "token_secret_env": None},
        "mailbox": mailbox,
        "outbox": {"transport": "smtp", "host": "127.0.0.1", "port": sink.port, "security": "plain", "timeout": 10},
        "schedule": {"poll_seconds": poll_seconds, "tick_seconds": tick_seconds},
    }
    if smtp_cooldown_seconds is not None:
        config["outbox"]["cooldown_seconds"] = smtp_cooldown_seconds
    path = root / "mailbot.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    assert account.password not in path.read_text(encoding="utf-8")
    return path


def sqlite_url(root: Path) -> str:
    return f"sqlite:///{root / 'mailbot.sqlite3'}"


# --- the mailbot process --------------------------------------------------------------------------


class Mailbot:
    """One `mailbot` process (optionally through crash.py), its output in a log file the test reads."""

    def __init__(self, config: Path, args: list[str], *, account: Account, log: Path,
                 crash_after: str | None = None) -> None:
        prefix = [sys.executable, str(HERE / "crash.py"), crash_after] if crash_after else \
                 [sys.executable, "-m", "mailbot"]
        self.argv = [*prefix, "--config", str(config), *args]
        self.env = {**os.environ, PW_ENV: account.password, "PYTHONUNBUFFERED": "1",
                    "MAILBOT_HOME": str(PROJECT), "PYTHONPATH": str(PROJECT)}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Mailbot:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, cwd=PROJECT, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT)
        return self

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"mailbot did not exit within {timeout} s\n{self.tail()}") from None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 60) -> str:
        return f"--- {self.log.name} ---\n" + "\n".join(self.text().splitlines()[-lines:])

    def wait_log(self, needle: str, timeout: float, *, count: int = 1) -> None:
        """Until `needle` has appeared `count` times in the log; fails at once if the process died."""
        def seen() -> bool:
            if not self.alive and self.text().count(needle) < count:
                raise AssertionError(f"mailbot exited ({self.proc and self.proc.returncode}) before logging "
                                     f"{needle!r}\n{self.tail()}")
            return self.text().count(needle) >= count
        wait_until(seen, timeout, f"{needle!r} x{count} in {self.log.name}", explain=self.tail)

    def kill(self) -> None:
        """SIGKILL: no finally blocks, no goodbye to the servers — a power cut for this process."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def run_mailbot(config: Path, *args: str, account: Account, log: Path, crash_after: str | None = None,
                timeout: float = 60) -> tuple[int, str]:
    """Run a `mailbot` command to its end; returns (exit status, its log)."""
    m = Mailbot(config, list(args), account=account, log=log, crash_after=crash_after).start()
    rc = m.wait(timeout)
    return rc, m.text()


# --- mail and what reached the servers ------------------------------------------------------------


def urgent_mail(sender: tuple[str, str], subject: str, body: str, at: datetime | None = None) -> bytes:
    """An urgent matter from a unit's contact, as their client would send it."""
    return replies.build(sender=sender, to=BOT, subject=subject, body=body, at=at or datetime.now().astimezone())


def message_id(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    return str(msg["Message-ID"]).strip()


def sent_mails(sink: SmtpSink, app: App) -> list[tuple[str, str, tuple[str, ...], EmailMessage]]:
    """(outbox key, kind, envelope recipients, message) of each mail on the SMTP server, in arrival order."""
    with app.sessions() as s:
        rows = {r.message_id: (r.idem_key, r.kind) for r in s.scalars(select(OutboxMail))}
    out = []
    for m in list(sink.messages):
        key, kind = rows[message_id(m.raw)]
        parsed = email.message_from_bytes(m.raw, policy=email.policy.default)
        out.append((key, kind, m.rcpt_tos, parsed))
    return out  # type: ignore[return-value]


def copies(sink: SmtpSink) -> Counter[str]:
    """How many times each Message-ID arrived at the sink."""
    return Counter(message_id(r.raw) for r in list(sink.messages))


def statuses(engine: Engine) -> list[str]:
    """The status of each inbound row, oldest first."""
    with engine.connect() as c:
        return list(c.scalars(select(InboundMessage.status).order_by(InboundMessage.id)))


def outbox(engine: Engine) -> list[tuple[str, str, int]]:
    """(kind, status, attempts) of each outbox row, oldest first."""
    with engine.connect() as c:
        rows = c.execute(select(OutboxMail.kind, OutboxMail.status, OutboxMail.attempts).order_by(OutboxMail.id))
        return [(r.kind, r.status, r.attempts) for r in rows]


def delivered(engine: Engine) -> dict[str, str]:
    """Outbox Message-ID → status once nothing is pending (else empty, for wait_until)."""
    with engine.connect() as c:
        rows = dict(c.execute(select(OutboxMail.message_id, OutboxMail.status)).all())
    return rows if "pending" not in rows.values() else {}


def every_row_on_the_sink_once(sink: SmtpSink, engine: Engine) -> None:
    """Once the outbox is delivered, the sink holds exactly the rows marked sent, one copy each."""
    rows = wait_until(lambda: delivered(engine), 10, "the outbox delivered")
    with engine.connect() as c:
        kinds = dict(c.execute(select(OutboxMail.message_id, OutboxMail.kind)).all())
    assert Counter(kinds.get(m, "?") for m in copies(sink).elements()) == \
           Counter(kinds[m] for m, status in rows.items() if status == "sent")
    assert copies(sink) == {m: 1 for m, status in rows.items() if status == "sent"}


def folder_counts(dovecot: Dovecot, user: str) -> dict[str, int]:
    """Messages in the watched folder and in each done folder, as the server sees them."""
    with dovecot.client(user) as c:
        return {f: int(c.folder_status(f, ["MESSAGES"])[b"MESSAGES"]) if c.folder_exists(f) else 0
                for f in FOLDERS}


# --- urgent matters: each one mail in, a forward to HQ staff and an acknowledgement out -------------------------


class Matter:
    """One urgent matter from a unit's contact about one customer; distinct matters never merge into one request."""

    def __init__(self, sender: tuple[str, str], subject: str, body: str, hq_staff: str) -> None:
        self.sender, self.subject, self.body, self.hq_staff = sender, subject, body, hq_staff
        self.raw = urgent_mail(sender, subject, body)
        self.message_id = message_id(self.raw)

    def on_sink(self, sink: SmtpSink, to: str) -> int:
        """Messages on the sink addressed to `to` that carry this matter (threaded to it or attaching it)."""
        return sum(to in r.rcpt_tos and self.message_id.encode() in r.raw for r in list(sink.messages))

    def forwarded(self, sink: SmtpSink) -> int:
        return self.on_sink(sink, self.hq_staff)

    def acknowledged(self, sink: SmtpSink) -> int:
        return self.on_sink(sink, self.sender[1])


def matters() -> list[Matter]:
    """Four urgent matters from four units about four customers (each customer's designated HQ staff differs)."""
    return [
        Matter(("李明", "liming@gd.example.cn"), "【紧急】S001 国家电网供气支线泄漏",
               "S001 国家电网某变电站供气支线泄漏，已关阀，请总部协调抢修。", "liuyang@hq.example.cn"),
        Matter(("吴昊", "wuhao@js.example.cn"), "【紧急】S006 宝武南京基地临时停产",
               "S006 宝武集团南京基地通知临时停产三天，合同气量需调整。", "wangfang@hq.example.cn"),
        Matter(("孙悦", "sunyue@bj.example.cn"), "【紧急】S010 北京燃气冬季保供缺口",
               "S010 北京燃气提出冬季高峰期增供需求约300万方，本地资源不足。", "zhangwei@hq.example.cn"),
        Matter(("马丽", "mali@sx.example.cn"), "【紧急】S004 华能电厂气款拖欠",
               "S004 华能某电厂拖欠气款约8000万元，已发函催收，请总部协调。", "chenjing@hq.example.cn"),
    ]
