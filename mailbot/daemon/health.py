"""Silence is an alarm: the daemon records each poll, and the operator is mailed when the mailbox goes quiet.

Two incidents are watched: no successful poll for `health.silence_minutes`, and
`health.login_failures` failed logins in a row (an expired password or OAuth
token). Each incident is mailed once — its idempotency key names the moment it
began — and a successful poll ends it. A pass that a fault of ours stopped (the
database, the disk) is a failed poll too: the inbox is read but nothing gets
done, which is silence all the same. Where the record lives while the database
is the thing that failed is `scheduler.Watch`'s business.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailbot.mailboxes.base import StateStore

KEY = "health"


@dataclass(frozen=True)
class Health:
    last_ok: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failures: int = 0               # consecutive failed polls
    login_failures: int = 0         # consecutive failed logins
    failing_since: datetime | None = None

    def to_json(self) -> str:
        return json.dumps({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()})

    @classmethod
    def from_json(cls, text: str | None) -> Health:
        if not text:
            return cls()
        d = json.loads(text)
        for k in ("last_ok", "last_error_at", "failing_since"):
            d[k] = datetime.fromisoformat(d[k]) if d.get(k) else None
        return cls(**d)


def load(state: StateStore) -> Health:
    return Health.from_json(state.get(KEY))


def record_ok(state: StateStore, now: datetime) -> None:
    h = load(state)
    state.set(KEY, Health(last_ok=now, last_error=h.last_error, last_error_at=h.last_error_at).to_json())


def record_failure(state: StateStore, now: datetime, error: str, *, login: bool) -> None:
    h = load(state)
    state.set(KEY, Health(last_ok=h.last_ok, last_error=error[:500], last_error_at=now, failures=h.failures + 1,
                          login_failures=h.login_failures + 1 if login else 0,
                          failing_since=h.failing_since or now).to_json())


@dataclass(frozen=True)
class Alarm:
    key: str          # idempotency key: one mail per incident
    title: str
    reason: str


def alarms(h: Health, now: datetime, *, started: datetime, silence: timedelta, login_failures: int) -> list[Alarm]:
    """What the operator must hear about now (pure). `started` is when the daemon began, for a mailbox never read."""
    out = []
    quiet_since = h.last_ok or started
    if now - quiet_since >= silence:
        out.append(Alarm(f"operator:silence:{quiet_since:%Y%m%dT%H%M%S}", "邮件长时间未能收取处理",
                         f"自 {quiet_since:%Y-%m-%d %H:%M} 起没有一次成功读取并处理邮箱"
                         "（邮箱服务器、数据库或磁盘出错都会如此）；未处理的邮件留在收件箱，恢复后自动处理。"
                         f"最近的错误：{h.last_error or '（无）'}"))
    if h.login_failures >= login_failures and h.failing_since:
        out.append(Alarm(f"operator:login:{h.failing_since:%Y%m%dT%H%M%S}", "邮箱登录连续失败",
                         f"已连续 {h.login_failures} 次登录失败（密码或 OAuth 令牌可能已过期）。最近的错误：{h.last_error}"))
    return out
