"""The demo's simulated days: each day the calendar runs at 09:00, the day's mail arrives, the pipeline runs at 18:00.

What happens on a day comes from scripts: HQ's own steps in the morning (`Morning`: planning a visit, launching
a campaign — before the calendar runs, so what they queue goes out that day) and the mail people send
(`Arrivals`). The month, the campaign and the tests compose them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mailbot.app import App
from mailbot.daemon.scheduler import run_once
from mailbot.mailboxes.maildir import deliver

TZ = ZoneInfo("Asia/Shanghai")
Mail = tuple[datetime, bytes]
At = Callable[[date, int, int], datetime]              # (day, hour, minute) → that moment in Beijing time
Morning = Callable[[App, date], list[str]]             # HQ's steps on a day: lines for the story
Arrivals = Callable[[App, date, At], list[Mail]]       # the mail that arrives on a day
Drop = Callable[[datetime, bytes], None]               # puts one mail into the mailbox


class SimClock:
    """The demo's clock: the days are played, not waited for."""

    def __init__(self) -> None:
        self.now = datetime(2000, 1, 1, tzinfo=TZ)

    def __call__(self) -> datetime:
        return self.now


def at(d: date, h: int, m: int = 0) -> datetime:
    return datetime.combine(d, time(h, m), TZ)


def play_days(app: App, clock: SimClock, first: date, last: date, out: Callable[[str], None], *,
              morning: Sequence[Morning] = (), arrivals: Sequence[Arrivals] = (), drop: Drop | None = None) -> None:
    """Play `first`..`last`; `drop` puts mail into the mailbox (default: the Maildir; the integration tests APPEND
    over IMAP)."""
    inbox = app.settings.path(app.settings.mailbox.path)

    def into_maildir(when: datetime, raw: bytes) -> None:
        deliver(inbox, raw, received_at=when)

    put = drop or into_maildir
    day = first
    while day <= last:
        clock.now = at(day, 9)
        for step in morning:
            for line in step(app, day):
                out(f"  {day} {line}")
        for line in run_once(app).plan.lines():
            out(f"  {day} queued {line}")
        for script in arrivals:
            for when, raw in script(app, day, at):
                put(when, raw)
        clock.now = at(day, 18)
        for o in run_once(app).outcomes:
            out(f"  {day} inbound #{o.inbound_id}: {o.status} — {o.note}")
        day += timedelta(days=1)
