"""`mailbot status`: one set of facts as text, as JSON (checked against docs/status.schema.json) and as an exit code
(0 healthy, 1 warning, 2 alarm) — each state reached the way it happens to an operator."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import jsonschema
import pytest

from mailbot.app import App
from mailbot.daemon import health
from mailbot.daemon.status import EXIT, gather_status, render_text
from mailbot.db.session import transaction
from mailbot.db.state import DbStateStore
from mailbot.demo import replies
from mailbot.outbox.queue import insert_row
from tests.support.mailflow import PROJECT, Clock, arrive, report

SCHEMA = json.loads((PROJECT / "docs" / "status.schema.json").read_text(encoding="utf-8"))


def status_of(app: App) -> tuple[str, list[str], dict[str, object]]:
    """(state, problems, JSON) — the JSON already checked against the published schema."""
    st = gather_status(app, "2026-11")
    data = json.loads(json.dumps(st.as_json(), ensure_ascii=False))
    jsonschema.validate(data, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert render_text(st).endswith("\n".join([f"state: {st.state.upper()}",
                                               *(f"  {lv}: {t}" for lv, t in st.problems)]))
    return st.state, [t for _, t in st.problems], data


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app()


def polled(app: App, ago: timedelta = timedelta(0)) -> None:
    health.record_ok(DbStateStore(app.sessions, app.now), app.now() - ago)


def test_each_state_and_its_exit_code(app: App, clock: Clock) -> None:
    # Never polled: a warning. Polled a minute ago, nothing waiting: healthy.
    state, problems, _ = status_of(app)
    assert (state, problems) == ("warning", ["the daemon has not polled yet"])
    polled(app, timedelta(minutes=1))
    assert status_of(app)[:2] == ("ok", [])
    # A stranger's mail in quarantine: look at it, nothing is lost.
    arrive(app, replies.build(sender=("陌生人", "x@elsewhere.example.com"), to="kcr@hq.example.cn",
                              subject="合作", body="你好", at=clock.now))
    polled(app)
    state, problems, data = status_of(app)
    assert (state, problems) == ("warning", ["1 message(s) in quarantine"])
    assert data["quarantine"][0]["who"] == "x@elsewhere.example.com"  # type: ignore[index]
    # A mail that could not be delivered: an alarm, whatever else is there.
    with transaction(app.sessions) as s:
        row, _ = insert_row(s, key="k", kind="ack", message_id="<m@x>", raw=b"x", subject="s",
                            recipients="a@b.cn", now=app.now())
        row.status, row.last_error = "dead", "550 5.1.1 user unknown"
    state, problems, data = status_of(app)
    assert state == "alarm" and problems[0] == "1 mail(s) could not be delivered (dead letters)"
    assert data["outbox"]["unsent"] == [{"ref": "k", "at": None, "who": "a@b.cn",  # type: ignore[index]
                                        "text": "550 5.1.1 user unknown", "state": "dead"}]
    assert [EXIT[x] for x in ("ok", "warning", "alarm")] == [0, 1, 2]


def test_silence_is_an_alarm(app: App) -> None:
    polled(app, timedelta(minutes=app.settings.health.silence_minutes + 1))
    state, problems, data = status_of(app)
    assert state == "alarm" and "no successful poll for longer than health.silence_minutes" in problems
    assert data["mailbox"]["silent"] is True  # type: ignore[index]


def test_units_missing_after_the_deadline_are_named(app: App, clock: Clock) -> None:
    report(app, {"S001": {"1": "已签订框架协议。", "风险等级": "一般", "需总部协调": "否"}})
    clock.set(2026, 12, 1, 9)
    polled(app)
    state, problems, data = status_of(app)
    assert state == "warning" and problems == ["missing after the deadline: BJ, JS, SC, SX, XJ"]
    assert [u["state"] for u in data["units"]] == ["missing", "on_time", "missing", "missing", "missing",  # type: ignore
                                                   "missing"]
