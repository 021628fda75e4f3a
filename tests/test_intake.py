"""The inbound pipeline, stage by stage, on a real Maildir and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.daemon.calendar import tick
from mailbot.db.models import InboundMessage, OutboxMail, Quarantine, ReportItem, Request, StrategicEntry, Submission
from mailbot.db.session import transaction
from mailbot.demo import replies
from mailbot.directory.config import Contact
from mailbot.directory.lookup import sync_directory
from mailbot.mailboxes.maildir import deliver
from mailbot.pipeline import intake
from mailbot.reports import inbound as report_inbound
from mailbot.reports.schedule import send_requests

TZ = ZoneInfo("Asia/Shanghai")
GD = ("李明", "liming@gd.example.cn")
BJ = ("孙悦", "sunyue@bj.example.cn")
HQ = "kcr@hq.example.cn"
GOOD = {"S001": {"1": "已签订2027年度框架协议。", "4": "请总部协调冬季保供气量。", "风险等级": "一般", "需总部协调": "是"},
        "V001": {"问题或诉求": "高峰期增供500万方。", "本单位处理情况": "已协调本地资源。", "需总部协调": "否"}}


def at(*a: int) -> datetime:
    return datetime(*a, tzinfo=TZ)  # type: ignore[misc]


def requests_sent(app: App) -> None:
    send_requests(app, "2026-11")


def request_raw(app: App, unit: str) -> bytes:
    with app.sessions() as s:
        return s.scalar(select(OutboxMail.raw).where(OutboxMail.idem_key == f"request:2026-11:{unit}"))


def arrive(app: App, raw: bytes, when: datetime) -> None:
    deliver(app.settings.path(app.settings.mailbox.path), raw, received_at=when)


def outbox(app: App, kind: str | None = None) -> list[OutboxMail]:
    with app.sessions() as s:
        q = select(OutboxMail).order_by(OutboxMail.id)
        if kind:
            q = q.where(OutboxMail.kind == kind)
        return list(s.scalars(q))


def parsed(row: OutboxMail) -> email.message.EmailMessage:
    return email.message_from_bytes(row.raw, policy=email.policy.default)  # type: ignore[return-value]


def body(row: OutboxMail) -> str:
    return parsed(row).get_body(("plain",)).get_content().replace("\r\n", "\n")


def test_accepted_report_is_stored_and_acknowledged_in_thread(app: App) -> None:
    # GD fills the form above an Outlook quote: stored item by item, acknowledged with a summary, filed away.
    requests_sent(app)
    reply = replies.reply(request_raw(app, "GD"), sender=GD, at=at(2026, 11, 18, 10), answers=GOOD,
                            reporter=("李明", "020-38886666"))
    arrive(app, reply, at(2026, 11, 18, 10))
    (o,) = intake.run_pass(app)
    assert (o.status, o.folder) == ("processed", "processed")
    with app.sessions() as s:
        sub = s.scalar(select(Submission))
        assert (sub.unit.code, sub.version, sub.on_time, sub.reporter_phone) == ("GD", 1, True, "020-38886666")
        entry = s.scalar(select(StrategicEntry).join(StrategicEntry.customer).where(StrategicEntry.customer.has(code="S001")))
        assert (entry.risk, entry.needs_hq) == ("一般", True)
        assert {i.category: i.text for i in entry.items}[4] == "请总部协调冬季保供气量。"
        assert s.scalar(select(func.count()).select_from(ReportItem)) > 0
        req = s.scalar(select(Request))
        assert (req.source, req.customer.code, req.assignee.name) == ("strategic", "S001", "刘洋")
    (ack,) = outbox(app, "ack")
    msg = parsed(ack)
    assert msg["To"] == "liming@gd.example.cn"
    assert msg["In-Reply-To"] == email.message_from_bytes(reply)["Message-ID"]
    assert "KCR-202611-GD" in msg["Subject"] and "已收到" in msg["Subject"]
    assert "请总部协调冬季保供气量。" in body(ack)
    done = app.settings.path(app.settings.mailbox.path) / ".Processed" / "cur"
    assert len(list(done.iterdir())) == 1


def test_report_with_errors_is_answered_with_places_and_the_form_kept(app: App) -> None:
    # BJ writes 较大 and 可能: one reply names S001/风险等级 and S001/需总部协调 and quotes the answers back.
    requests_sent(app)
    bad = {"S001": {"1": "执行正常。", "风险等级": "较大", "需总部协调": "可能"}}
    arrive(app, replies.reply(request_raw(app, "BJ"), sender=BJ, at=at(2026, 11, 19, 9), answers=bad,
                                reporter=("孙悦", "010-65558888")), at(2026, 11, 19, 9))
    (o,) = intake.run_pass(app)
    assert o.status == "answered"
    (err,) = outbox(app, "error_reply")
    text = body(err)
    assert "S001 / 风险等级" in text and "S001 / 需总部协调" in text and "较大" in text
    assert "1. 全国性天然气产品及服务方案执行情况：执行正常。" in text  # the form comes back with answers kept
    assert "KCR-202611-BJ" in parsed(err)["Subject"]
    with app.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0


def test_corrected_resend_supersedes_and_keeps_history(app: App) -> None:
    # A second accepted report is version 2; version 1 stays, superseded; the unit counts as on time.
    requests_sent(app)
    raw = request_raw(app, "GD")
    arrive(app, replies.reply(raw, sender=GD, at=at(2026, 11, 18, 10), answers=GOOD,
                                reporter=("李明", "1")), at(2026, 11, 18, 10))
    fixed = {**GOOD, "S002": {"9": "补充：客户更换联系人。"}}
    arrive(app, replies.reply(raw, sender=GD, at=at(2026, 11, 29, 10), answers=fixed,
                                reporter=("李明", "1")), at(2026, 11, 29, 10))
    assert [o.status for o in intake.run_pass(app)] == ["processed", "processed"]
    with app.sessions() as s:
        v1, v2 = s.scalars(select(Submission).order_by(Submission.version)).all()
        assert (v1.version, v1.superseded_by_id, v2.version, v2.superseded_by_id) == (1, v2.id, 2, None)
        assert (v1.on_time, v2.on_time) == (True, False)
    assert "第2版" in outbox(app, "ack")[1].subject


def test_a_nul_in_the_subject_is_stored_without_it(app: App) -> None:
    # PostgreSQL refuses NUL in text: the report is filed and acknowledged, its subject stored without the NUL.
    requests_sent(app)
    reply = replies.reply(request_raw(app, "GD"), sender=GD, at=at(2026, 11, 18, 10), answers=GOOD,
                            reporter=("李明", "1"))
    head, body_ = reply.split(b"\r\n\r\n", 1) if b"\r\n\r\n" in reply else reply.split(b"\n\n", 1)
    head = head.replace(b"Subject: ", b"Subject: \x00", 1)
    arrive(app, head + b"\r\n\r\n" + body_, at(2026, 11, 18, 10))
    (o,) = intake.run_pass(app)
    assert o.status == "processed", o.note
    with app.sessions() as s:
        subject = s.scalar(select(InboundMessage.subject))
        assert subject and "\x00" not in subject
    assert len(outbox(app, "ack")) == 1


def test_stranger_is_quarantined_and_operator_told(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # Mail from an address that is no unit's contact is set aside with a reason; the stranger gets nothing, and
    # the operator reads it in the next digest (an hour later by default).
    clock.set(2026, 11, 20, 9)
    arrive(app, replies.build(sender=("某人", "someone@other.example.com"), to=HQ, at=at(2026, 11, 20, 9),
                                subject="合作邀请", body="您好"), at(2026, 11, 20, 9))
    (o,) = intake.run_pass(app)
    assert (o.status, o.folder) == ("quarantined", "quarantine")
    assert outbox(app) == []
    clock.set(2026, 11, 20, 10)
    tick(app)
    (note,) = outbox(app, "operator")
    assert note.recipients == app.settings.operator and "someone@other.example.com" in body(note)
    with app.sessions() as s:
        assert "不是登记的联系人" in s.scalar(select(Quarantine.reason))


def test_a_contact_added_to_the_directory_is_known_from_the_next_pass(app: App) -> None:
    # A pass keeps the directory it loaded; the next pass reads it again, so a new contact's report is accepted.
    requests_sent(app)
    new = ("陈晨", "chenchen@gd.example.cn")
    arrive(app, replies.reply(request_raw(app, "GD"), sender=new, at=at(2026, 11, 18, 9), answers=GOOD,
                                reporter=("陈晨", "1")), at(2026, 11, 18, 9))
    assert [o.status for o in intake.run_pass(app)] == ["quarantined"]
    d = app.directory
    units = tuple(u.model_copy(update={"contacts": (*u.contacts, Contact(name=new[0], email=new[1]))})
                  if u.code == "GD" else u for u in d.units)
    with transaction(app.sessions) as s:
        sync_directory(s, d.model_copy(update={"units": units}))
    arrive(app, replies.reply(request_raw(app, "GD"), sender=new, at=at(2026, 11, 18, 10), answers=GOOD,
                                reporter=("陈晨", "1")), at(2026, 11, 18, 10))
    assert [o.status for o in intake.run_pass(app)] == ["processed"]


def test_contact_of_another_unit_cannot_report_for_it(app: App) -> None:
    # BJ's contact answering GD's request (GD's token and thread) is quarantined, not filed under GD.
    requests_sent(app)
    arrive(app, replies.reply(request_raw(app, "GD"), sender=BJ, at=at(2026, 11, 18, 10), answers=GOOD,
                                reporter=("孙悦", "1")), at(2026, 11, 18, 10))
    (o,) = intake.run_pass(app)
    assert o.status == "quarantined"
    with app.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0


def test_out_of_office_is_recorded_and_never_answered(app: App) -> None:
    # An auto-reply from a registered contact is filed under Auto-replies with no answer.
    arrive(app, replies.build(sender=GD, to=HQ, at=at(2026, 11, 14, 9), subject="自动回复: 月报",
                                body="我正在休假。", extra={"Auto-Submitted": "auto-replied"}), at(2026, 11, 14, 9))
    (o,) = intake.run_pass(app)
    assert (o.status, o.folder) == ("ignored", "auto")
    assert outbox(app) == []


def test_same_message_twice_is_processed_once(app: App) -> None:
    # The same report dropped twice (a second delivery) yields one submission and one acknowledgement.
    requests_sent(app)
    reply = replies.reply(request_raw(app, "GD"), sender=GD, at=at(2026, 11, 18, 10), answers=GOOD,
                            reporter=("李明", "1"))
    arrive(app, reply, at(2026, 11, 18, 10))
    arrive(app, reply, at(2026, 11, 18, 10, 5))
    statuses = [o.status for o in intake.run_pass(app)]
    assert statuses == ["processed", "duplicate"]
    assert len(outbox(app, "ack")) == 1


def test_a_stage_that_crashes_quarantines_and_the_loop_goes_on(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first message makes a stage raise: it is quarantined with the traceback; the second is still handled.
    requests_sent(app)
    real = report_inbound.handle_report
    calls = []

    def boom(*a: object, **kw: object) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("simulated bug in a stage")
        return real(*a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(report_inbound, "handle_report", boom)
    for unit, sender, h in (("GD", GD, 9), ("BJ", BJ, 10)):
        arrive(app, replies.reply(request_raw(app, unit), sender=sender, at=at(2026, 11, 18, h),
                                    answers={"S001": {"1": "正常。"}}, reporter=(sender[0], "1")), at(2026, 11, 18, h))
    assert [o.status for o in intake.run_pass(app)] == ["quarantined", "processed"]
    with app.sessions() as s:
        q = s.scalar(select(Quarantine))
        assert "simulated bug in a stage" in q.detail and "Traceback" in q.detail
        assert s.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.kind == "ack")) == 1
    assert len(outbox(app, "operator")) == 1


def test_crash_after_recording_is_finished_on_the_next_pass(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    # Killed between record and process: the row stays 'received', the mail stays in the inbox; next pass finishes it once.
    requests_sent(app)
    arrive(app, replies.reply(request_raw(app, "GD"), sender=GD, at=at(2026, 11, 18, 10), answers=GOOD,
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
    assert len(outbox(app, "ack")) == 1


def test_urgent_mail_reaches_the_customers_hq_staff_with_the_original(app: App) -> None:
    # 【紧急】 about S005 goes to its designated HQ staff (张伟) at once, original attached; the sender gets a number.
    raw = replies.build(sender=("马丽", "mali@sx.example.cn"), to=HQ, at=at(2026, 11, 19, 8, 40),
                          subject="【紧急】国家能源集团榆林项目供气中断风险", body="S005 客户通知可能中断供气三天，请总部协调。\n\n马丽")
    arrive(app, raw, at(2026, 11, 19, 8, 40))
    (o,) = intake.run_pass(app)
    assert o.status == "processed"
    (fwd,) = outbox(app, "urgent_forward")
    assert fwd.recipients == "zhangwei@hq.example.cn"
    att = list(parsed(fwd).iter_attachments())
    assert att and att[0].get_content_type() == "message/rfc822"
    (ack,) = outbox(app, "urgent_ack")
    with app.sessions() as s:
        req = s.scalar(select(Request))
        assert req.urgent and req.customer.code == "S005" and req.number in ack.subject


def test_urgent_mail_without_a_customer_goes_to_the_duty_list(app: App) -> None:
    # No customer can be identified: the duty list gets it.
    arrive(app, replies.build(sender=GD, to=HQ, at=at(2026, 11, 19, 8), subject="紧急：管线第三方施工挖断",
                                body="今晨某工地挖断支线，已抢修。"), at(2026, 11, 19, 8))
    intake.run_pass(app)
    (fwd,) = outbox(app, "urgent_forward")
    assert fwd.recipients == "zhaolei@hq.example.cn,zhangwei@hq.example.cn"


def test_mail_without_a_form_from_a_contact_is_told_how_to_report(app: App) -> None:
    # A contact writing plain text (no form, not urgent) gets one reply saying what to do.
    arrive(app, replies.build(sender=GD, to=HQ, at=at(2026, 11, 19, 8), subject="月报", body="见附件。"),
           at(2026, 11, 19, 8))
    (o,) = intake.run_pass(app)
    assert o.status == "answered"
    assert "未找到填报单" in body(outbox(app, "error_reply")[0])


def test_a_sender_who_loops_gets_no_more_than_the_hourly_limit(make_app) -> None:  # type: ignore[no-untyped-def]
    # Ten form-less mails in an hour: 3 answers, then silence, and the operator is told once.
    app = make_app(limits={"auto_answers_per_hour": 3})
    for i in range(10):
        arrive(app, replies.build(sender=GD, to=HQ, at=at(2026, 11, 19, 8, i), subject=f"月报{i}", body="见附件。"),
               at(2026, 11, 19, 8, i))
    intake.run_pass(app)
    assert len(outbox(app, "error_reply")) == 3
    assert len(outbox(app, "operator")) == 1


def test_oversized_mail_is_quarantined_and_the_sender_told_once(make_app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Over the size limit: not downloaded, quarantined, one reply to the sender.
    app = make_app(mailbox={"path": str(tmp_path / "mail"), "max_message_bytes": 2000})
    arrive(app, replies.build(sender=GD, to=HQ, at=at(2026, 11, 19, 8), subject="月报", body="很长" * 2000),
           at(2026, 11, 19, 8))
    (o,) = intake.run_pass(app)
    assert o.status == "quarantined"
    assert len(outbox(app, "error_reply")) == 1
    with app.sessions() as s:
        assert "邮件过大" in s.scalar(select(Quarantine.reason))


def test_reparse_takes_a_message_out_of_quarantine(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    # After a bug is fixed, `reparse` runs the stored message again and the report is accepted.
    requests_sent(app)
    monkeypatch.setattr(report_inbound, "handle_report", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("bug")))
    arrive(app, replies.reply(request_raw(app, "GD"), sender=GD, at=at(2026, 11, 18, 10), answers=GOOD,
                                reporter=("李明", "1")), at(2026, 11, 18, 10))
    (o,) = intake.run_pass(app)
    monkeypatch.undo()
    assert o.status == "quarantined"
    again = intake.reparse(app, o.inbound_id)
    assert again.status == "processed"
    with app.sessions() as s:
        assert s.scalar(select(Quarantine.released_at)) is not None
        assert s.scalar(select(func.count()).select_from(Submission)) == 1


def test_a_unit_may_return_the_filled_workbook_instead_of_the_body(app: App) -> None:
    # The request carries the form as .xlsx; GD fills it in Excel and replies "见附件": accepted like a body reply.
    import io
    from email.message import EmailMessage

    from openpyxl import load_workbook

    requests_sent(app)
    request = email.message_from_bytes(request_raw(app, "GD"), policy=email.policy.default)
    (xlsx,) = [p for p in request.iter_attachments() if p.get_filename().endswith(".xlsx")]
    book = load_workbook(io.BytesIO(xlsx.get_content()))
    sheet = book.active
    block = ""
    for a, b in sheet.iter_rows(min_row=1, max_col=2):
        text = str(a.value or "")
        if text.startswith("【战略客户】"):
            block = text[6:10]
        elif block == "S001" and text.startswith("4."):
            b.value = "请总部协调冬季保供气量。"
        elif block == "S001" and text.startswith("需总部协调"):
            b.value = "是"
    out = io.BytesIO()
    book.save(out)
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = "李明 <liming@gd.example.cn>", HQ, "回复：" + request["Subject"]
    reply["Message-ID"], reply["In-Reply-To"] = "<wb1@gd.example.cn>", request["Message-ID"]
    reply.set_content("张处长：月报见附件。")
    reply.add_attachment(out.getvalue(), maintype="application",
                         subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename=xlsx.get_filename())
    arrive(app, reply.as_bytes(), at(2026, 11, 18, 10))
    (o,) = intake.run_pass(app)
    assert o.status == "processed", o.note
    with app.sessions() as s:
        entry = s.scalar(select(StrategicEntry).where(StrategicEntry.customer.has(code="S001")))
        assert entry.needs_hq is True
        assert {i.category: i.text for i in entry.items} == {4: "请总部协调冬季保供气量。"}


