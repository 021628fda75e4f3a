"""The inbound pipeline, stage by stage, on a real Maildir and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.daemon.calendar import tick
from mailbot.db.models import InboundMessage, OutboxMail, Quarantine, Submission
from mailbot.db.session import transaction
from mailbot.demo import replies
from mailbot.directory.config import Contact
from mailbot.directory.lookup import sync_directory
from mailbot.pipeline import intake
from mailbot.reports import inbound as report_inbound
from mailbot.reports.schedule import send_requests
from tests.support.mailflow import BJ, GD, GOOD, HQ, at, drop, outbox, parsed, request_message, request_raw, text


def test_a_nul_in_the_subject_is_stored_without_it(app: App) -> None:
    # PostgreSQL refuses NUL in text: the report is filed and acknowledged, its subject stored without the NUL.
    send_requests(app, "2026-11")
    reply = replies.reply(request_raw(app, "GD"), sender=GD, at=at(2026, 11, 18, 10), answers=GOOD,
                            reporter=("李明", "1"))
    head, body_ = reply.split(b"\r\n\r\n", 1) if b"\r\n\r\n" in reply else reply.split(b"\n\n", 1)
    head = head.replace(b"Subject: ", b"Subject: \x00", 1)
    drop(app, head + b"\r\n\r\n" + body_, at(2026, 11, 18, 10))
    (o,) = intake.run_pass(app)
    assert o.status == "processed", o.note
    with app.sessions() as s:
        subject = s.scalar(select(InboundMessage.subject))
        assert subject and "\x00" not in subject
    assert len(outbox(app, kind="ack")) == 1


def test_stranger_is_quarantined_and_operator_told(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # Mail from an address that is no unit's contact is set aside with a reason; the stranger gets nothing, and
    # the operator reads it in the next digest (an hour later by default).
    clock.set(2026, 11, 20, 9)
    drop(app, replies.build(sender=("某人", "someone@other.example.com"), to=HQ, at=at(2026, 11, 20, 9),
                                subject="合作邀请", body="您好"), at(2026, 11, 20, 9))
    (o,) = intake.run_pass(app)
    assert (o.status, o.folder) == ("quarantined", "quarantine")
    assert outbox(app) == []
    clock.set(2026, 11, 20, 10)
    tick(app)
    (note,) = outbox(app, kind="operator")
    assert note.recipients == app.settings.operator and "someone@other.example.com" in text(note)
    with app.sessions() as s:
        assert "不是登记的联系人" in s.scalar(select(Quarantine.reason))


def test_a_contact_added_to_the_directory_is_known_from_the_next_pass(app: App) -> None:
    # A pass keeps the directory it loaded; the next pass reads it again, so a new contact's report is accepted.
    send_requests(app, "2026-11")
    new = ("陈晨", "chenchen@gd.example.cn")
    drop(app, replies.reply(request_raw(app, "GD"), sender=new, at=at(2026, 11, 18, 9), answers=GOOD,
                                reporter=("陈晨", "1")), at(2026, 11, 18, 9))
    assert [o.status for o in intake.run_pass(app)] == ["quarantined"]
    d = app.directory
    units = tuple(u.model_copy(update={"contacts": (*u.contacts, Contact(name=new[0], email=new[1]))})
                  if u.code == "GD" else u for u in d.units)
    with transaction(app.sessions) as s:
        sync_directory(s, d.model_copy(update={"units": units}))
    drop(app, replies.reply(request_raw(app, "GD"), sender=new, at=at(2026, 11, 18, 10), answers=GOOD,
                                reporter=("陈晨", "1")), at(2026, 11, 18, 10))
    assert [o.status for o in intake.run_pass(app)] == ["processed"]


def test_contact_of_another_unit_cannot_report_for_it(app: App) -> None:
    # BJ's contact answering GD's request (GD's token and thread) is quarantined, not filed under GD.
    send_requests(app, "2026-11")
    drop(app, replies.reply(request_raw(app, "GD"), sender=BJ, at=at(2026, 11, 18, 10), answers=GOOD,
                                reporter=("孙悦", "1")), at(2026, 11, 18, 10))
    (o,) = intake.run_pass(app)
    assert o.status == "quarantined"
    with app.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0


def test_out_of_office_is_recorded_and_never_answered(app: App) -> None:
    # An auto-reply from a registered contact is filed under Auto-replies with no answer.
    drop(app, replies.build(sender=GD, to=HQ, at=at(2026, 11, 14, 9), subject="自动回复: 月报",
                                body="我正在休假。", extra={"Auto-Submitted": "auto-replied"}), at(2026, 11, 14, 9))
    (o,) = intake.run_pass(app)
    assert (o.status, o.folder) == ("ignored", "auto")
    assert outbox(app) == []


def test_same_message_twice_is_processed_once(app: App) -> None:
    # The same report dropped twice (a second delivery) yields one submission and one acknowledgement.
    send_requests(app, "2026-11")
    reply = replies.reply(request_raw(app, "GD"), sender=GD, at=at(2026, 11, 18, 10), answers=GOOD,
                            reporter=("李明", "1"))
    drop(app, reply, at(2026, 11, 18, 10))
    drop(app, reply, at(2026, 11, 18, 10, 5))
    statuses = [o.status for o in intake.run_pass(app)]
    assert statuses == ["processed", "duplicate"]
    assert len(outbox(app, kind="ack")) == 1


def test_a_stage_that_crashes_quarantines_and_the_loop_goes_on(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first message makes a stage raise: it is quarantined with the traceback; the second is still handled.
    send_requests(app, "2026-11")
    real = report_inbound.handle_report
    calls = []

    def boom(*a: object, **kw: object) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("simulated bug in a stage")
        return real(*a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(report_inbound, "handle_report", boom)
    for unit, sender, h in (("GD", GD, 9), ("BJ", BJ, 10)):
        drop(app, replies.reply(request_raw(app, unit), sender=sender, at=at(2026, 11, 18, h),
                                    answers={"S001": {"1": "正常。"}}, reporter=(sender[0], "1")), at(2026, 11, 18, h))
    assert [o.status for o in intake.run_pass(app)] == ["quarantined", "processed"]
    with app.sessions() as s:
        q = s.scalar(select(Quarantine))
        assert "simulated bug in a stage" in q.detail and "Traceback" in q.detail
        assert s.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.kind == "ack")) == 1
    (notice,) = outbox(app, kind="operator")
    # The notice says why once, what to do next, and carries the mail itself.
    said = text(notice)
    assert said.count("处理时程序出错") == 1 and notice.subject == "【运维通知】邮件已隔离：处理时程序出错"
    assert f"mailbot reparse {q.inbound_id}" in said and "原件附后" in said
    assert "发件人：liming@gd.example.cn" in said and "主题：回复：[重点客户月报]" in said  # though the stage crashed
    (original,) = [p for p in parsed(notice).iter_attachments() if p.get_content_type() == "message/rfc822"]
    assert original.get_content()["From"] == "李明 <liming@gd.example.cn>"


def test_crash_after_recording_is_finished_on_the_next_pass(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    # Killed between record and process: the row stays 'received', the mail stays in the inbox; next pass finishes it once.
    send_requests(app, "2026-11")
    drop(app, replies.reply(request_raw(app, "GD"), sender=GD, at=at(2026, 11, 18, 10), answers=GOOD,
                                reporter=("李明", "1")), at(2026, 11, 18, 10))

    def killed(app: App, s: Session, inbound_id: int, tag: str = "") -> intake.Outcome:
        raise SystemExit("killed")

    monkeypatch.setattr(intake, "process", killed)
    with pytest.raises(SystemExit):
        intake.run_pass(app)
    monkeypatch.undo()
    with app.sessions() as s:
        assert s.scalar(select(InboundMessage.status)) == "received"
    assert [o.status for o in intake.run_pass(app)] == ["processed"]
    assert len(outbox(app, kind="ack")) == 1


def test_a_sender_who_loops_gets_no_more_than_the_hourly_limit(make_app) -> None:  # type: ignore[no-untyped-def]
    # Ten form-less replies to the request in an hour: 3 answers, then silence, and the operator is told once.
    app = make_app(limits={"auto_answers_per_hour": 3})
    send_requests(app, "2026-11")
    request = request_message(app)
    for i in range(10):
        drop(app, replies.build(sender=GD, to=HQ, at=at(2026, 11, 19, 8, i), subject=f"月报{i}", body="见附件。",
                                in_reply_to=request["Message-ID"]), at(2026, 11, 19, 8, i))
    intake.run_pass(app)
    assert len(outbox(app, kind="error_reply")) == 3
    assert len(outbox(app, kind="operator")) == 1


def test_oversized_mail_is_quarantined_and_the_sender_told_once(make_app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Over the size limit: not downloaded, quarantined, one reply to the sender.
    app = make_app(mailbox={"path": str(tmp_path / "mail"), "max_message_bytes": 2000})
    drop(app, replies.build(sender=GD, to=HQ, at=at(2026, 11, 19, 8), subject="月报", body="很长" * 2000),
           at(2026, 11, 19, 8))
    (o,) = intake.run_pass(app)
    assert o.status == "quarantined"
    assert len(outbox(app, kind="error_reply")) == 1
    with app.sessions() as s:
        assert "邮件过大" in s.scalar(select(Quarantine.reason))


def test_reparse_takes_a_message_out_of_quarantine(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    # After a bug is fixed, `reparse` runs the stored message again and the report is accepted.
    send_requests(app, "2026-11")
    monkeypatch.setattr(report_inbound, "handle_report", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("bug")))
    drop(app, replies.reply(request_raw(app, "GD"), sender=GD, at=at(2026, 11, 18, 10), answers=GOOD,
                                reporter=("李明", "1")), at(2026, 11, 18, 10))
    (o,) = intake.run_pass(app)
    monkeypatch.undo()
    assert o.status == "quarantined"
    again = intake.reparse(app, o.inbound_id)
    assert again.status == "processed"
    with app.sessions() as s:
        assert s.scalar(select(Quarantine.released_at)) is not None
        assert s.scalar(select(func.count()).select_from(Submission)) == 1

