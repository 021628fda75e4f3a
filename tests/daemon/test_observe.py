"""The daemon's /healthz and Prometheus /metrics over real HTTP on loopback, after mail went through: the counts
are the database's, the urgent forward's latency is in its histogram, an alarm turns /healthz to 503."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailbot.app import App, deliver_now
from mailbot.daemon import health
from mailbot.daemon.observe import start_http
from mailbot.db.session import transaction
from mailbot.db.state import DbStateStore
from mailbot.demo import replies
from mailbot.outbox.queue import insert_row
from tests.servers.ports import free_port
from tests.support.mailflow import HQ, SC, Clock, arrive, report

NOTHING_WRONG = {"S001": {"1": "已签订框架协议。", "风险等级": "一般", "需总部协调": "否"}}


@pytest.fixture
def served(make_app: Callable[..., App]) -> Iterator[tuple[App, str]]:
    app = make_app(health={"http_port": free_port()})
    server = start_http(app, leader=lambda: True)
    assert server is not None
    yield app, f"http://127.0.0.1:{app.settings.health.http_port}"
    server.shutdown()
    server.server_close()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_what_the_database_holds_and_healthz_follows_the_status(served: tuple[App, str],
                                                                               clock: Clock) -> None:
    app, base = served
    report(app, NOTHING_WRONG)                                                     # accepted: processed
    arrive(app, replies.build(sender=SC, to=HQ, at=clock.now, subject="【紧急】大唐电厂停机", body="电厂停机。"))
    arrive(app, replies.build(sender=("陌生人", "x@elsewhere.example.com"), to=HQ, at=clock.now,
                              subject="合作", body="你好"))                         # a stranger: quarantined
    deliver_now(app)
    health.record_ok(DbStateStore(app.sessions, app.now), app.now())

    code, text = get(f"{base}/metrics")
    got = samples(text)
    assert code == 200
    assert got[("mailbot_inbound_messages_total", (("status", "processed"),))] == 2
    assert got[("mailbot_inbound_messages_total", (("status", "quarantined"),))] == 1
    assert got[("mailbot_quarantine_open", ())] == 1 and got[("mailbot_leader", ())] == 1
    assert got[("mailbot_outbox_mails", (("status", "pending"),))] == 0
    assert got[("mailbot_outbox_mails", (("status", "sent"),))] >= 3              # requests, the ack, the forward…
    assert got[("mailbot_last_poll_age_seconds", ())] == 0
    # The urgent forward left at once (the test clock stands still): one observation, in the first bucket.
    assert got[("mailbot_urgent_forward_seconds_count", ())] == 1
    assert got[("mailbot_urgent_forward_seconds_bucket", (("le", "1.0"),))] == 1

    code, body = get(f"{base}/healthz")
    assert code == 200 and json.loads(body)["state"] == "warning"                  # the quarantined stranger
    with transaction(app.sessions) as s:
        row, _ = insert_row(s, key="k", kind="ack", message_id="<m@x>", raw=b"x", subject="s",
                            recipients="a@b.cn", now=app.now())
        row.status = "dead"
    code, body = get(f"{base}/healthz")
    assert code == 503 and json.loads(body)["state"] == "alarm"
    assert samples(get(f"{base}/metrics")[1])[("mailbot_outbox_mails", (("status", "dead"),))] == 1
    assert get(f"{base}/anything")[0] == 404


def test_no_port_no_server(make_app: Callable[..., App]) -> None:
    assert start_http(make_app()) is None
