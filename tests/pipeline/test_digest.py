"""The operator's digest (SQLite and PostgreSQL): a burst of quarantines and the mail handed to HQ staff is one
mail per interval, with each reason, the next step and the quarantined originals attached."""

from __future__ import annotations

from datetime import timedelta

from mailbot.app import App
from mailbot.daemon.calendar import tick
from mailbot.demo import replies
from mailbot.pipeline.digest import ORIGINALS
from tests.support.mailflow import GD, HQ, SC, Clock, arrive, drop, outbox, parsed, text


def test_a_burst_of_quarantines_and_handovers_is_one_digest(app: App, clock: Clock) -> None:
    clock.set(2026, 11, 20, 9)
    for n in range(25):
        drop(app, replies.build(sender=("广告", f"news{n}@list.example"), to=HQ, subject=f"年终促销 {n}",
                                at=clock.now, body="优惠"))
    drop(app, replies.build(sender=GD, to=HQ, subject="关于VIP客户填报范围的请示", at=clock.now, body="请问……"))
    arrive(app, replies.build(sender=SC, to=HQ, subject="下周赴京出差安排", at=clock.now, body="下周二到京。"))
    assert outbox(app, kind="operator") == []  # nothing here needs the operator at once

    clock.now += timedelta(minutes=30)
    tick(app)
    assert outbox(app, kind="operator") == []  # the oldest has not waited the hour yet
    clock.now += timedelta(minutes=31)
    tick(app)
    (digest,) = outbox(app, kind="operator")
    said = text(digest)
    assert "隔离邮件 25 封" in digest.subject and "已转交来信 2 封" in digest.subject
    assert said.count("不是登记的联系人") == 25 and "mailbot reparse 编号" in said
    assert "转交：liuyang@hq.example.cn" in said and "转交：wangfang@hq.example.cn" in said
    originals = [p for p in parsed(digest).iter_attachments() if p.get_content_type() == "message/rfc822"]
    assert len(originals) == ORIGINALS and f"前 {ORIGINALS} 封原件附后" in said

    clock.now += timedelta(hours=2)
    tick(app)
    assert len(outbox(app, kind="operator")) == 1  # each row is in one digest only
