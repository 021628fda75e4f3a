"""A secret that cannot be read, or a login refused, stops the outbox's pass without using up any mail's retries.

Such a problem is the same for every mail, so counting it as a failed attempt of each would kill the whole queue
within the hour of backoff. The pass stops as it does for a server that is down; the problem is logged once per
pass as an error and shown by `mailbot status`; once the setting is fixed, every queued mail goes out once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import requests_mock
from sqlalchemy import select

from mailbot.app import App
from mailbot.daemon.status import render_status
from mailbot.db.models import OutboxMail
from mailbot.db.session import transaction
from mailbot.errors import ConfigError
from mailbot.mailboxes.exchange import EwsLogin
from mailbot.outbox.compose import Draft, Identity, compose
from mailbot.outbox.ews import EwsTransport
from mailbot.outbox.queue import PermanentFailure, TransportUnavailable, enqueue, send_pending
from tests.mailboxes import ews_fixtures as ews
from tests.servers.smtpsink import HOST, TEST_USER, SmtpSink
from tests.support.mailflow import Clock

BOT = Identity("kcr@hq.example.cn", "总部资源与市场部")


@pytest.fixture
def smtp_app(make_app: Callable[..., App], make_sink: Callable[..., SmtpSink], sink_cert: tuple[Path, Path],
             tmp_path: Path) -> Callable[[dict[str, str]], tuple[App, SmtpSink]]:
    """An App whose outbox is SMTP with STARTTLS and AUTH to a real sink, the password coming from `secret`."""
    def make(secret: dict[str, str]) -> tuple[App, SmtpSink]:
        sink = make_sink(tls="starttls", user=TEST_USER)
        app = make_app(outbox={"transport": "smtp", "host": HOST, "port": sink.port, "security": "starttls",
                               "ca_file": str(sink_cert[0]), "username": TEST_USER.login, "password": secret,
                               "timeout": 5, "cooldown_seconds": 0, "path": str(tmp_path / "outbox")})
        return app, sink

    return make


def queue_three(app: App) -> list[int]:
    ids = []
    with transaction(app.sessions) as s:
        for code in ("GD", "BJ", "SC"):
            draft = Draft(to=[f"contact@{code.lower()}.example.cn"], subject=f"[重点客户月报] 2026年11月 {code} 请报送",
                          text="请报送。\n", html="<p>请报送。</p>")
            row, _ = enqueue(s, key=f"request:2026-11:{code}", kind="request", draft=draft, sender=app.identity,
                             now=app.now())
            s.flush()
            ids.append(row.id)
    return ids


def rows(app: App, ids: list[int]) -> list[tuple[str, int]]:
    with app.sessions() as s:
        return [(m.status, m.attempts)
                for m in s.scalars(select(OutboxMail).where(OutboxMail.id.in_(ids)).order_by(OutboxMail.id))]


@pytest.mark.parametrize("broken", ["file-is-a-directory", "env-not-set"])
def test_an_unreadable_smtp_secret_uses_no_retries_and_is_reported(
        smtp_app: Callable[[dict[str, str]], tuple[App, SmtpSink]], clock: Clock, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, broken: str) -> None:
    # Six hourly passes with the broken secret (backoff would have killed each mail by then): nothing is sent,
    # no attempt counted, one ERROR per pass naming the setting; fixed, the three mails go out once each.
    secret_file = tmp_path / "smtp-password"
    if broken == "file-is-a-directory":
        secret_file.mkdir()
        app, sink = smtp_app({"file": str(secret_file)})
        setting = f"outbox.password.file: cannot read a secret from {secret_file}"
    else:
        monkeypatch.delenv("KCR_TEST_SMTP_PW", raising=False)
        app, sink = smtp_app({"env": "KCR_TEST_SMTP_PW"})
        setting = "outbox.password.env: environment variable KCR_TEST_SMTP_PW is not set"
    ids = queue_three(app)
    caplog.set_level(logging.INFO)
    for _ in range(6):
        caplog.clear()
        report = send_pending(app.sessions, app.transport, app.now(), max_attempts=app.settings.outbox.max_attempts)
        assert (report.sent, report.retried, list(report.dead)) == (0, 0, [])
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and setting in errors[0], errors
        clock.now += timedelta(hours=1)
    assert rows(app, ids) == [("pending", 0)] * 3
    assert sink.messages == []
    status = render_status(app, "2026-11")
    assert f"  not sending since 2026-11-13 09:00: SmtpUnavailable: AUTH: (test): {setting}" in status.splitlines()

    if broken == "file-is-a-directory":
        secret_file.rmdir()
        secret_file.write_text(TEST_USER.password + "\n", encoding="utf-8")
    else:
        monkeypatch.setenv("KCR_TEST_SMTP_PW", TEST_USER.password)
    report = send_pending(app.sessions, app.transport, app.now(), max_attempts=app.settings.outbox.max_attempts)
    assert (report.sent, report.retried) == (3, 0)
    assert rows(app, ids) == [("sent", 1)] * 3
    assert len(sink.messages) == 3 and {m.login for m in sink.messages} == {TEST_USER.login}
    assert "not sending" not in render_status(app, "2026-11")
    assert TEST_USER.password not in caplog.text


# --- EWS: the same rule (no Exchange server here: canned SOAP over requests-mock) --------------------------


@pytest.fixture
def fake() -> Iterator[ews.FakeEws]:
    with requests_mock.Mocker() as m:
        yield ews.FakeEws().install(m)


def ews_mail() -> OutboxMail:
    draft = Draft(to=["zs@bj.example.cn"], subject="【提醒】2026年11月重点客户月报", text="请回复。\n", html="<p>请回复。</p>")
    raw = compose(draft, BOT, datetime(2026, 11, 13, 1, 0, tzinfo=timezone.utc)).raw
    return OutboxMail(id=7, idem_key="reminder:2026-11:BJ:T-3", kind="reminder", message_id="<x@hq>",
                      recipients="zs@bj.example.cn", subject=draft.subject, raw=raw)


def ews_login(password: Callable[[], str]) -> EwsLogin:
    return EwsLogin(service_endpoint=ews.URL, username="HQ\\kcrbot", primary_smtp_address=BOT.address,
                    password=password, auth_type="basic", version="15.1.2507.6")


def test_ews_secret_that_cannot_be_read_is_the_transport_not_the_mail(fake: ews.FakeEws) -> None:
    # The password file is unreadable: no request is made and the outbox is told to stop the pass.
    def unreadable() -> str:
        raise ConfigError("mailbot.yaml: mailbox.password.file: cannot read a secret from /etc/kcr/ews")

    with pytest.raises(TransportUnavailable, match="mailbox.password.file") as e:
        EwsTransport(ews_login(unreadable)).send(ews_mail())
    assert e.value.needs_operator and fake.seen == []


@pytest.mark.parametrize(("reply", "needs_operator"), [
    ((401, b"", {}), True),
    (ews.create_item_error("ErrorSendAsDenied", "The user account does not have the right to send mail on behalf "
                                                "of the specified sending account."), True),
    (requests.exceptions.ConnectionError("connection reset"), False),
], ids=["login-refused", "send-as-denied", "connection-error"])
def test_ews_login_refused_or_server_unreachable_stops_the_pass(fake: ews.FakeEws, reply: object,
                                                                needs_operator: bool) -> None:
    # Every mail would fail the same way: TransportUnavailable (never PermanentFailure); a refusal of our
    # credentials or sender is for the operator to fix, an unreachable server passes by itself.
    fake.queue("CreateItem", reply, reply, reply)
    with pytest.raises(TransportUnavailable) as e:
        EwsTransport(ews_login(lambda: "s3cret-pw")).send(ews_mail())
    assert not isinstance(e.value, PermanentFailure)
    assert e.value.needs_operator is needs_operator
    assert "s3cret-pw" not in str(e.value)
