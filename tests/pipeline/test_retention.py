"""Raw mail past `limits.keep_raw_months`: its bytes are deleted, its record and everything filed from it kept;
nothing waiting or in open quarantine is touched; a pruned message cannot be reparsed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.db.models import InboundMessage, Submission
from mailbot.db.session import transaction
from mailbot.demo import replies
from mailbot.errors import MailbotError
from mailbot.pipeline.intake import reparse
from mailbot.pipeline.retention import months_before, prune_raw
from tests.support.mailflow import HQ, Clock, arrive, report


@pytest.mark.parametrize(("now", "months", "then"), [
    ((2028, 12, 7), 24, (2026, 12, 7)), ((2027, 3, 31), 1, (2027, 2, 28)), ((2028, 3, 31), 1, (2028, 2, 29)),
    ((2027, 1, 15), 2, (2026, 11, 15))])
def test_months_before_counts_calendar_months(now: tuple[int, int, int], months: int,
                                              then: tuple[int, int, int]) -> None:
    assert months_before(datetime(*now, 9), months) == datetime(*then, 9)


def test_old_raw_mail_is_pruned_and_its_records_stay(make_app: Callable[..., App], clock: Clock) -> None:
    app = make_app(limits={"keep_raw_months": 24})
    report(app, {"S001": {"1": "已签订框架协议。", "风险等级": "一般", "需总部协调": "否"}})       # processed
    arrive(app, replies.build(sender=("陌生人", "x@elsewhere.example.com"), to=HQ, at=clock.now,
                              subject="合作", body="你好"))                                         # quarantined
    arrive(app, replies.build(sender=("李明", "liming@gd.example.cn"), to=HQ, at=clock.now, subject="自动回复：出差",
                              body="我出差中。", extra={"Auto-Submitted": "auto-replied"}))        # ignored
    with transaction(app.sessions) as s:   # recorded, not yet processed (a pass stopped by a fault of ours)
        s.add(InboundMessage(mailbox="maildir", uid_key="waiting", raw=b"waiting", size=7, received_at=clock.now,
                             recorded_at=clock.now, status="received", sha256="0" * 64))
    prune_raw(app)
    assert _pruned(app) == []                                                                         # too young
    clock.set(2028, 11, 14, 9)
    prune_raw(app)
    with app.sessions() as s:
        rows = {m.subject: m for m in s.scalars(select(InboundMessage))}
        report_row = next(m for m in rows.values() if m.status == "processed")
        assert report_row.raw == b"" and report_row.raw_pruned_at is not None and report_row.from_addr
        assert s.scalar(select(Submission.inbound_id)) == report_row.id                               # still filed
    assert sorted(_pruned(app)) == ["ignored", "processed"]   # open quarantine, unprocessed mail: bytes kept
    with pytest.raises(MailbotError, match="bytes were deleted"):
        reparse(app, rows["自动回复：出差"].id)


def test_zero_keeps_raw_mail_for_ever(make_app: Callable[..., App], clock: Clock) -> None:
    app = make_app(limits={"keep_raw_months": 0})
    report(app, {"S001": {"1": "已签订框架协议。", "风险等级": "一般", "需总部协调": "否"}})
    clock.set(2036, 1, 1, 9)
    prune_raw(app)
    assert _pruned(app) == []


def _pruned(app: App) -> list[str]:
    with app.sessions() as s:
        return list(s.scalars(select(InboundMessage.status).where(InboundMessage.raw_pruned_at.is_not(None))))
