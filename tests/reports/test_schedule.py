"""The monthly cycle's jobs on the calendar (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from mailbot.app import App
from mailbot.daemon.calendar import tick
from mailbot.reports import schedule
from tests.support.mailflow import Clock, outbox


def test_a_pass_builds_no_mail_whose_key_is_already_queued(app: App, clock: Clock,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # The daemon asks the calendar every few minutes. On the escalation day each unit that has not reported is due
    # a reminder (with its workbook, ~150 ms to build) and an escalation: the first pass builds and queues them, a
    # later pass finds their keys queued and builds nothing (bench/bench_calendar.py measures the pass).
    clock.set(2026, 11, 27, 9)
    built: list[str] = []
    for name in ("reminder_mail", "escalation_mail"):
        real = getattr(schedule, name)

        def counting(*a: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            built.append(_name)
            return _real(*a, **kw)

        monkeypatch.setattr(schedule, name, counting)
    tick(app)
    units = len(outbox(app, "request:2026-11:"))
    assert units == 6 and len(outbox(app, "reminder:2026-11:")) == len(outbox(app, "escalation:2026-11:")) == units
    assert sorted(built) == ["escalation_mail"] * units + ["reminder_mail"] * units
    built.clear()
    assert tick(app).queued == [] and built == []
