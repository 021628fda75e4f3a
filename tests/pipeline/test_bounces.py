"""A bounce of our own mail acts (SQLite and PostgreSQL): a hard bounce tells the operator once and reroutes the
unit's mail to its 单位负责人 until the address works again; a soft bounce is only recorded."""

from __future__ import annotations

from mailbot.app import App
from mailbot.daemon.calendar import tick
from mailbot.daemon.status import render_status
from mailbot.db.models import OutboxMail
from mailbot.demo import replies
from tests.support.mailflow import GD, HQ, Clock, arrive_one, outbox, report


def bounce_of(row: OutboxMail, to: str, *, permanent: bool = True) -> bytes:
    return replies.bounce(row.raw, recipient=to, at=row.created_at, permanent=permanent)


def test_a_hard_bounce_tells_the_operator_once_and_the_units_mail_reaches_its_leader(app: App, clock: Clock) -> None:
    clock.set(2026, 11, 13, 9)
    tick(app)  # the month's requests
    (request,) = outbox(app, "request:2026-11:GD")
    assert arrive_one(app, bounce_of(request, "liming@gd.example.cn")).status == "ignored"
    (notice,) = outbox(app, "operator:bounce:")
    assert "广东分公司" in notice.subject and "liming@gd.example.cn" in notice.raw.decode("utf-8", "replace")
    assert "liming@gd.example.cn (GD 李明)" in render_status(app, "2026-11")

    clock.set(2026, 11, 25, 9)  # T-3: the reminder goes to the unit leader instead of the dead address
    tick(app)
    (reminder,) = outbox(app, "reminder:2026-11:GD:")
    assert reminder.recipients == "huangzq@gd.example.cn"
    arrive_one(app, bounce_of(request, "liming@gd.example.cn"))  # the same address again: no second notice
    assert len(outbox(app, "operator:bounce:")) == 1

    # 李明 writes: the address works again, and the next mail to the unit goes to him.
    report(app, {"S001": {"1": "已执行。", "风险等级": "无", "需总部协调": "否"}})
    assert "bounced" not in render_status(app, "2026-11")
    assert outbox(app, kind="ack")[0].recipients == GD[1]


def test_a_soft_bounce_is_only_recorded(app: App, clock: Clock) -> None:
    clock.set(2026, 11, 13, 9)
    tick(app)
    (request,) = outbox(app, "request:2026-11:GD")
    o = arrive_one(app, bounce_of(request, "liming@gd.example.cn", permanent=False))
    assert (o.status, o.note) == ("ignored", "automatic: soft bounce of request:2026-11:GD for liming@gd.example.cn")
    assert outbox(app, "operator:") == []
    clock.set(2026, 11, 25, 9)
    tick(app)
    assert outbox(app, "reminder:2026-11:GD:")[0].recipients == "liming@gd.example.cn"


def test_a_bounce_of_mail_we_never_sent_changes_nothing(app: App) -> None:
    stray = replies.build(sender=("MAILER-DAEMON", "mailer-daemon@mx.gd.example.cn"), to=HQ, at=app.now(),
                          subject="Undelivered Mail Returned to Sender", body="<liming@gd.example.cn>: user unknown\n"
                          "Message-ID: <never-ours@elsewhere.example>")
    assert arrive_one(app, stray).note == "automatic: bounce (not of a mail we sent)"
    assert outbox(app) == []
