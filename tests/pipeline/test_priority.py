"""Urgent mail ahead of a backlog (SQLite and PostgreSQL): handed out first, handled first, its mails sent first
and at once — not after the rest of the pass."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from mailbot.app import App
from mailbot.db.models import InboundMessage, OutboxMail
from mailbot.demo import replies
from mailbot.outbox.queue import send_pending
from mailbot.pipeline import intake
from tests.support.mailflow import GD, HQ, SC, drop, outbox

URGENT = ("【紧急】大唐电厂停机", "大唐那边通知电厂明起停机三天。")


class Recorder:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, mail: OutboxMail) -> None:
        self.sent.append(mail.kind)


def backlog_then_urgent(app: App, n: int = 8) -> None:
    """`n` ordinary mails (GD writing to HQ), then one urgent mail from SC, delivered last."""
    for i in range(n):
        drop(app, replies.build(sender=GD, to=HQ, at=app.now(), subject=f"资料{i}", body="请查收。"),
             app.now() - timedelta(minutes=60 - i))
    drop(app, replies.build(sender=SC, to=HQ, at=app.now(), subject=URGENT[0], body=URGENT[1]), app.now())


def test_urgent_mail_is_handled_first_and_its_mails_sent_before_the_backlog_is_read(app: App) -> None:
    backlog_then_urgent(app)
    recorder = Recorder()
    seen_at_send: list[int] = []

    def deliver_urgent() -> None:
        with app.sessions() as s:
            seen_at_send.append(s.scalar(select(func.count()).select_from(InboundMessage)) or 0)
        send_pending(app.sessions, recorder, app.now(), max_attempts=3, urgent_only=True)

    outcomes = intake.run_pass(app, after_urgent=deliver_urgent)
    assert [o.urgent for o in outcomes] == [True] + [False] * 8, [(o.status, o.note) for o in outcomes]
    # Sent when only the urgent mail had been read: forward and acknowledgement, nothing of the backlog.
    assert seen_at_send == [1] and recorder.sent == ["urgent_forward", "urgent_ack"]
    assert len(outbox(app, kind="handover")) == 8


def test_the_outbox_sends_an_urgent_matters_mail_first(app: App) -> None:
    backlog_then_urgent(app, n=3)
    intake.run_pass(app)  # no hook: everything waits in the outbox
    recorder = Recorder()
    report = send_pending(app.sessions, recorder, app.now(), max_attempts=3, limit=2)
    assert recorder.sent == ["urgent_forward", "urgent_ack"] and report.more
    send_pending(app.sessions, recorder, app.now(), max_attempts=3)
    assert len(recorder.sent) == 2 + 3 * 2  # then each handover and its acknowledgement
