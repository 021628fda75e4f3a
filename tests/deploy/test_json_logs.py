"""JSON log lines (`--log-format json`, `MAILBOT_LOG_FORMAT=json`): a collector reads one object a line and finds
the lines about a message by its inbound id, the lines about a mail by its outbox id.

One daemon pass over one message, logged through the formatter `mailbot --log-format json` installs; the command
line and the environment variable choose it (the daemon started as its unit starts it, tests/deploy/
test_unit_start.py, logs JSON because its EnvironmentFile says so).
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from mailbot import logformat
from mailbot.app import App
from mailbot.cli import build_parser
from mailbot.daemon.scheduler import run_once
from mailbot.demo import replies
from tests.support.mailflow import GD, HQ, drop


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logformat.formatter("json"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_pass_logs_one_json_object_a_line_with_the_inbound_and_outbox_ids(app: App, json_lines: io.StringIO) -> None:
    drop(app, replies.build(sender=GD, to=HQ, subject="关于冬季保供的请示", body="请问本月用气计划何时下达？\n谢谢",
                            at=app.now()))
    report = run_once(app)
    ((inbound_id, status),) = [(o.inbound_id, o.status) for o in report.outcomes]
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]   # each line one object
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert all(line["time"].endswith("+00:00") for line in lines)
    about = [line for line in lines if line.get("inbound_id") == inbound_id]
    assert status == "handed_over" and about, lines
    assert about[-1]["message"].startswith(f"msg={inbound_id} status=handed_over outcome=handed over to ")
    assert about[-1]["logger"] == "mailbot.pipeline.intake" and about[-1]["level"] == "INFO"
    sent = {line["outbox_id"]: line["message"] for line in lines if "outbox_id" in line}
    assert len(sent) == report.sent.sent >= 2   # the hand-over and the sender's acknowledgement
    assert all(message.startswith(f"outbox={i} key=") for i, message in sent.items())


def test_a_traceback_stays_inside_its_line() -> None:
    # An exception logged at the loop's edge: one line still, the traceback in `exc`, Chinese left readable.
    record = logging.LogRecord("mailbot.pipeline.intake", logging.ERROR, __file__, 1, "msg=%s crashed; quarantined",
                               (7,), None)
    try:
        raise ValueError("第二行\n出错")
    except ValueError:
        record.exc_info = sys.exc_info()
    record.inbound_id = 7
    line = logformat.formatter("json").format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert (data["message"], data["inbound_id"]) == ("msg=7 crashed; quarantined", 7)
    assert "ValueError: 第二行\n出错" in data["exc"] and "第二行" in line


def test_the_command_line_and_the_environment_choose_the_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(logformat.ENV, raising=False)
    assert build_parser().parse_args(["status"]).log_format == "text"
    monkeypatch.setenv(logformat.ENV, "json")
    assert build_parser().parse_args(["status"]).log_format == "json"
    assert build_parser().parse_args(["--log-format", "text", "status"]).log_format == "text"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--log-format", "xml", "status"])
