"""Urgent matters pushed to 企业微信, 钉钉 and 飞书 group robots, through the outbox, against a loopback robot that
checks each payload and signature the way the real services document them (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from mailbot.app import App
from mailbot.demo import replies
from mailbot.outbox.push import check_url
from mailbot.outbox.queue import send_pending
from mailbot.pipeline import intake
from tests.support.mailflow import HQ, SC, drop, outbox

SECRET = "SEC0123456789abcdef"


class Robot(http.server.BaseHTTPRequestHandler):
    """One robot endpoint per path (/wecom, /dingtalk, /feishu): checks the format and the signature."""

    received: list[tuple[str, dict[str, object]]] = []
    answer: dict[str, object] = {"errcode": 0}

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        parts = urlsplit(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        kind = parts.path.strip("/")
        now = time.time()
        if kind == "dingtalk":
            q = parse_qs(parts.query)
            stamp = q["timestamp"][0]
            expected = base64.b64encode(hmac.new(SECRET.encode(), f"{stamp}\n{SECRET}".encode(),
                                                 hashlib.sha256).digest()).decode()
            assert q["sign"][0] == expected and abs(now * 1000 - int(stamp)) < 3_600_000  # parse_qs unquoted it
            assert body["msgtype"] == "markdown" and body["markdown"]["title"]  # type: ignore[index]
        elif kind == "feishu":
            stamp = str(body["timestamp"])
            expected = base64.b64encode(hmac.new(f"{stamp}\n{SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
            assert body["sign"] == expected and abs(now - int(stamp)) < 3600
            assert body["msg_type"] == "text" and body["content"]["text"]  # type: ignore[index]
        else:
            assert body["msgtype"] == "markdown" and body["markdown"]["content"]  # type: ignore[index]
        Robot.received.append((kind, body))
        data = json.dumps(Robot.answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def robot(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    Robot.received, Robot.answer = [], {"errcode": 0}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Robot)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    for kind in ("wecom", "dingtalk", "feishu"):
        monkeypatch.setenv(f"PUSH_{kind.upper()}_URL", f"{base}/{kind}?key=k")
    monkeypatch.setenv("PUSH_SECRET", SECRET)
    yield base
    server.shutdown()
    server.server_close()


def app_with_robots(make_app: Callable[..., App]) -> App:
    return make_app(push=[{"name": "wecom", "kind": "wecom", "url_env": "PUSH_WECOM_URL"},
                          {"name": "dingtalk", "kind": "dingtalk", "url_env": "PUSH_DINGTALK_URL",
                           "secret_env": "PUSH_SECRET"},
                          {"name": "feishu", "kind": "feishu", "url_env": "PUSH_FEISHU_URL",
                           "secret_env": "PUSH_SECRET"}])


def urgent(app: App) -> None:
    drop(app, replies.build(sender=SC, to=HQ, at=app.now(), subject="【紧急】大唐电厂停机", body="大唐那边电厂明起停机。"))
    intake.run_pass(app)


def test_an_urgent_matter_reaches_each_robot_signed_and_first(make_app: Callable[..., App], robot: str) -> None:
    app = app_with_robots(make_app)
    urgent(app)
    pushes = outbox(app, kind="push")
    assert [p.recipients for p in pushes] == ["wecom", "dingtalk", "feishu"] and {p.priority for p in pushes} == {1}
    report = send_pending(app.sessions, app.transport, app.now(), max_attempts=3)
    assert report.sent == 5 and report.dead == []  # three pushes, the forward and the acknowledgement
    assert [kind for kind, _ in Robot.received] == ["wecom", "dingtalk", "feishu"]
    text = json.dumps([body for _, body in Robot.received], ensure_ascii=False)
    assert "SQ-2026-0001" in text and "中国大唐集团有限公司" in text and "陈静" in text
    # The mail went its own way (the Maildir transport), untouched by the robots.
    assert {m.status for m in outbox(app)} == {"sent"}


def test_a_robot_that_refuses_is_retried_and_holds_up_no_mail(make_app: Callable[..., App], robot: str) -> None:
    app = app_with_robots(make_app)
    Robot.answer = {"errcode": 310000, "errmsg": "keywords not in content"}
    urgent(app)
    report = send_pending(app.sessions, app.transport, app.now(), max_attempts=3)
    assert (report.sent, report.retried) == (2, 3)
    assert {(m.kind, m.status) for m in outbox(app)} == {("push", "pending"), ("urgent_forward", "sent"),
                                                         ("urgent_ack", "sent")}
    assert all(m.attempts == 1 and "310000" in (m.last_error or "") for m in outbox(app, kind="push"))


def test_a_webhook_must_be_https_beyond_this_machine() -> None:
    check_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x")
    check_url("http://127.0.0.1:8080/wecom")
    with pytest.raises(ValueError, match="https"):
        check_url("http://oapi.dingtalk.com/robot/send?access_token=x")
