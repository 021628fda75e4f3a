"""Fixtures for the SMTP transport: sinks on 127.0.0.1, transports pointed at them, and outbox rows to send."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mailbot.db.models import OutboxMail
from mailbot.outbox.compose import Draft, Identity, compose
from mailbot.outbox.smtp import SmtpTransport
from tests.servers.smtpsink import HOST, SmtpSink, client_context, make_cert

BOT = Identity("kcr@hq.example.cn", "总部资源与市场部")


@pytest.fixture(scope="session")
def sink_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One self-signed certificate for 127.0.0.1 per test session."""
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def make_sink(sink_cert: tuple[Path, Path]) -> Iterator[Callable[..., SmtpSink]]:
    """Start a sink with the given options; every sink is stopped after the test."""
    sinks: list[SmtpSink] = []

    def make(**kw: Any) -> SmtpSink:
        if kw.get("tls"):
            kw.setdefault("cert", sink_cert)
        sink = SmtpSink(**kw).start()
        sinks.append(sink)
        return sink

    yield make
    for s in sinks:
        s.stop()


@pytest.fixture
def sink(make_sink: Callable[..., SmtpSink]) -> SmtpSink:
    """A plain sink without TLS or AUTH."""
    return make_sink()


@pytest.fixture
def make_transport(sink_cert: tuple[Path, Path]) -> Iterator[Callable[..., SmtpTransport]]:
    """A transport for a sink: plain unless told otherwise, short timeouts, no breaker, trusting the test CA."""
    transports: list[SmtpTransport] = []

    def make(sink: SmtpSink, **kw: Any) -> SmtpTransport:
        options: dict[str, Any] = {"host": HOST, "port": sink.port, "envelope_from": BOT.address,
                                   "security": "plain", "timeout": 5.0, "local_hostname": "mailbot.test",
                                   "cooldown": 0.0, "ssl_context": client_context(sink_cert[0])}
        options.update(kw)
        t = SmtpTransport(**options)
        transports.append(t)
        return t

    yield make
    for t in transports:
        t.close()


@pytest.fixture
def make_mail(clock: Callable[[], datetime]) -> Callable[..., OutboxMail]:
    """An outbox row (not stored) composed the way enqueue() composes it."""
    counter = iter(range(1, 1000))

    def make(to: tuple[str, ...] = ("liming@gd.example.cn",), subject: str = "[重点客户月报] 2026年11月 请报送",
             text: str = "李明同志：\n请于28日前报送。\n", **kw: Any) -> OutboxMail:
        draft = Draft(to=list(to), subject=subject, text=text, html=f"<p>{text}</p>", **kw)
        mail = compose(draft, BOT, clock())
        n = next(counter)
        return OutboxMail(id=n, idem_key=f"test:{n}", kind="test", message_id=mail.message_id,
                          recipients=",".join(to), subject=subject, raw=mail.raw, created_at=clock(),
                          status="pending", attempts=0, next_attempt_at=clock())

    return make
