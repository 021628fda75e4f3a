"""Alerts people act on, with the real servers in the loop and the clock under the test's control, on PostgreSQL:
an urgent mail APPENDed to Dovecot is forwarded and acknowledged through the SMTP server; nobody at HQ answers,
so it climbs the ladder in working hours (over a weekend); the week's first working day brings the digests —
each counted on the SMTP server, once, however often the daemon passes."""

from __future__ import annotations

import pytest

from mailbot.app import App
from mailbot.daemon.scheduler import run_once
from mailbot.demo import replies
from tests.integration.harness import BOT, copies, sent_mails
from tests.servers.dovecot import Account, Dovecot
from tests.servers.smtpsink import SmtpSink
from tests.support.mailflow import SC, Clock


def alerts(sink: SmtpSink, app: App) -> list[tuple[str, str, tuple[str, ...]]]:
    """The urgent matter's mails on the SMTP server: forward, acknowledgement, ladder steps, digests."""
    return [(key, kind, rcpt) for key, kind, rcpt, _ in sent_mails(sink, app)
            if kind in ("urgent_forward", "urgent_ack", "request_digest") or key.startswith("req-ladder:")]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_an_unanswered_urgent_matter_climbs_the_ladder_and_reaches_the_digests_over_the_servers(
        servers_app: App, clock: Clock, dovecot: Dovecot, account: Account, sink: SmtpSink) -> None:
    app = servers_app
    clock.set(2026, 11, 27, 16, 0)
    run_once(app)   # the daemon's first pass: the mailbox's baseline (earlier mail is not ours to answer)
    # Friday 27 November 16:30: SC reports a 大唐 (S007, 陈静's) plant outage; the daemon passes a minute later.
    clock.set(2026, 11, 27, 16, 30)
    dovecot.append(account.user, replies.build(sender=SC, to=BOT, at=clock.now, subject="【紧急】大唐电厂停机",
                                               body="大唐那边电厂停机，请总部协调。"), date=clock.now)
    clock.set(2026, 11, 27, 16, 31)
    run_once(app)
    assert [(kind, rcpt) for _, kind, rcpt in alerts(sink, app)] == [
        ("urgent_forward", ("chenjing@hq.example.cn",)), ("urgent_ack", (SC[1],))]
    # Nobody answers. 17:20 Friday is within 2 working hours (08:30–17:30 days): nothing more.
    clock.set(2026, 11, 27, 17, 20)
    run_once(app)
    assert len(alerts(sink, app)) == 2
    # Monday 09:20, the week's first working day after 09:00: the digests — 陈静's one open 诉求 and the
    # 部门负责人's board — but no ladder step yet (1 h 50 min of working time have passed).
    clock.set(2026, 11, 30, 9, 20)
    run_once(app)
    assert [(key, rcpt) for key, _, rcpt in alerts(sink, app)][2:] == [
        ("req-digest:2026-W49:chenjing@hq.example.cn", ("chenjing@hq.example.cn",)),
        ("req-board:2026-W49", ("zhangwei@hq.example.cn",))]
    # 09:31: the 部门负责人; 11:31: the duty list — each once, however often the daemon passes.
    for moment in ((2026, 11, 30, 9, 31), (2026, 11, 30, 9, 45), (2026, 11, 30, 11, 31), (2026, 11, 30, 12, 0)):
        clock.set(*moment)
        run_once(app)
    assert [(key, rcpt) for key, _, rcpt in alerts(sink, app)][4:] == [
        ("req-ladder:SQ-2026-0001:1", ("zhangwei@hq.example.cn",)),
        ("req-ladder:SQ-2026-0001:2", ("zhaolei@hq.example.cn", "zhangwei@hq.example.cn"))]
    # The next week's first working day: the digests again (the 诉求 now overdue), once.
    for moment in ((2026, 12, 7, 8, 0), (2026, 12, 7, 9, 0), (2026, 12, 7, 10, 0)):
        clock.set(*moment)
        run_once(app)
    assert [(key, rcpt) for key, _, rcpt in alerts(sink, app)][6:] == [
        ("req-digest:2026-W50:chenjing@hq.example.cn", ("chenjing@hq.example.cn",)),
        ("req-board:2026-W50", ("zhangwei@hq.example.cn",))]
    assert set(copies(sink).values()) == {1}
