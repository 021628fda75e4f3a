"""A unit contact's mail that is not a report goes to a person at HQ, never answered as a failed report
(DESIGN §8.2.1; SQLite and PostgreSQL)."""

from __future__ import annotations

import email
import email.policy

from sqlalchemy import select

from mailbot.app import App
from mailbot.daemon.status import render_status
from mailbot.db.models import Handover
from mailbot.demo import replies
from mailbot.reports.schedule import send_requests
from tests.support.mailflow import GD, GOOD, HQ, SC, arrive_one, outbox, parsed, reply_to, report, text


def test_a_question_to_hq_is_handed_to_the_units_designated_staff_with_the_original(app: App) -> None:
    # 李明 asks HQ how to fill in VIP customers, in a new mail: 刘洋 (广东分公司's 总部对接人) gets it with the
    # original attached and can answer 李明 directly (Reply-To); 李明 is told who has it; nothing says "report".
    question = replies.build(sender=GD, to=HQ, at=app.now(), subject="关于VIP客户填报范围的请示",
                             body="刘处长：\nVIP客户中已停止用气的，本月是否还需要填报？\n\n李明\n电话：020-38886666")
    o = arrive_one(app, question)
    assert (o.status, o.folder) == ("handed_over", "processed")
    (fwd,) = outbox(app, kind="handover")
    assert fwd.recipients == "liuyang@hq.example.cn"
    msg = parsed(fwd)
    assert msg["Reply-To"] == "李明 <liming@gd.example.cn>" and "关于VIP客户填报范围的请示" in msg["Subject"]
    (original,) = [a for a in msg.iter_attachments() if a.get_content_type() == "message/rfc822"]
    assert original.get_content().get("Subject") == "关于VIP客户填报范围的请示"
    assert "VIP客户中已停止用气的，本月是否还需要填报？" in text(fwd)
    (ack,) = outbox(app, kind="handover_ack")
    assert ack.recipients == "liming@gd.example.cn" and "已转交总部对接人刘洋阅处" in text(ack)
    assert parsed(ack)["In-Reply-To"] == email.message_from_bytes(question, policy=email.policy.default)["Message-ID"]
    assert outbox(app, kind="error_reply") == []
    with app.sessions() as s:
        h = s.scalars(select(Handover)).one()
        assert (h.unit.code, h.recipients, h.inbound.status) == ("GD", "liuyang@hq.example.cn", "handed_over")
    assert "handed over" in render_status(app, "2026-11") and "liuyang@hq.example.cn" in render_status(app, "2026-11")


def test_a_unit_without_designated_staff_goes_to_the_correspondence_list(app: App) -> None:
    arrive_one(app, replies.build(sender=SC, to=HQ, at=app.now(), subject="下周赴京出差安排", body="王处长好，下周二到京。"))
    (fwd,) = outbox(app, kind="handover")
    assert fwd.recipients == "wangfang@hq.example.cn"
    assert "已转交总部王芳阅处" in text(outbox(app, kind="handover_ack")[0])


def test_thanks_after_an_accepted_report_is_never_told_the_report_failed(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # The unit's month is accepted and acknowledged; days later 李明 answers the acknowledgement (our thread, our
    # report number in the subject): a person gets it, and no answer contradicts the accepted month.
    clock.set(2026, 11, 18, 10)
    report(app, GOOD)
    (ack,) = outbox(app, kind="ack")
    clock.set(2026, 11, 23, 9)
    o = arrive_one(app, reply_to(ack, GD, "收到，谢谢！另：12月起我单位联系人将调整为陈晨。", clock.now))
    assert o.status == "handed_over"
    assert outbox(app, kind="error_reply") == []
    assert all("暂未能受理" not in text(row) for row in outbox(app))


def test_only_a_real_attempt_at_the_report_is_told_how_to_report(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # In the request's thread, or with a file that looks like the form, a mail without a readable form is a failed
    # report and told what to fix; the same words with a travel plan attached are correspondence.
    clock.set(2026, 11, 18, 10)
    send_requests(app, "2026-11")
    (request,) = outbox(app, "request:2026-11:GD")
    assert arrive_one(app, reply_to(request, GD, "见附件。", clock.now)).status == "answered"
    assert "未找到填报单" in text(outbox(app, kind="error_reply")[0])

    def with_file(name: str, n: int) -> bytes:
        mail = email.message_from_bytes(replies.build(sender=GD, to=HQ, at=clock.now, subject=f"材料{n}",
                                                      body="见附件。"), policy=email.policy.SMTP)
        mail.add_attachment(b"PK\x03\x04 not really", maintype="application", subtype="octet-stream", filename=name)
        return mail.as_bytes()

    assert arrive_one(app, with_file("11月填报单.docx", 1)).status == "answered"
    assert arrive_one(app, with_file("出差计划.docx", 2)).status == "handed_over"
    assert len(outbox(app, kind="error_reply")) == 2 and len(outbox(app, kind="handover")) == 1
