"""Monthly reports arriving: accepted and acknowledged, answered with what to fix, corrected (SQLite and PostgreSQL)."""

from __future__ import annotations

import email
import email.policy

from sqlalchemy import func, select

from mailbot.app import App
from mailbot.bulletin.gather import gather
from mailbot.bulletin.render import version_label
from mailbot.daemon.status import render_status
from mailbot.db.models import Period, ReportItem, Request, StrategicEntry, Submission
from mailbot.demo import replies
from mailbot.pipeline import intake
from mailbot.reports.schedule import send_requests
from tests.support import documents
from tests.support.mailflow import BJ, GD, GOOD, HQ, TZ, at, drop, outbox, parsed, request_message, request_raw, text


def test_accepted_report_is_stored_and_acknowledged_in_thread(app: App) -> None:
    # GD fills the form above an Outlook quote: stored item by item, acknowledged with a summary, filed away.
    send_requests(app, "2026-11")
    reply = replies.reply(request_raw(app, "GD"), sender=GD, at=at(2026, 11, 18, 10), answers=GOOD,
                            reporter=("李明", "020-38886666"))
    drop(app, reply, at(2026, 11, 18, 10))
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
    (ack,) = outbox(app, kind="ack")
    msg = parsed(ack)
    assert msg["To"] == "liming@gd.example.cn"
    assert msg["In-Reply-To"] == email.message_from_bytes(reply)["Message-ID"]
    assert "KCR-202611-GD" in msg["Subject"] and "已收到" in msg["Subject"]
    assert "请总部协调冬季保供气量。" in text(ack)
    # The unit learns the number of the 诉求 its "需总部协调：是" opened, who handles it and by when.
    with app.sessions() as s:
        due = s.scalar(select(Request.due_at))
    assert f"SQ-2026-0001 S001 国家电网有限公司：请总部协调冬季保供气量。（承办人刘洋，{due.astimezone(TZ).year}年" \
        in text(ack) and "前答复" in text(ack)
    done = app.settings.path(app.settings.mailbox.path) / ".Processed" / "cur"
    assert len(list(done.iterdir())) == 1


def test_report_with_errors_is_answered_with_places_and_the_form_kept(app: App) -> None:
    # BJ writes 较大 and 可能: one reply names S001/风险等级 and S001/需总部协调 and quotes the answers back.
    send_requests(app, "2026-11")
    bad = {"S001": {"1": "执行正常。", "风险等级": "较大", "需总部协调": "可能"}}
    drop(app, replies.reply(request_raw(app, "BJ"), sender=BJ, at=at(2026, 11, 19, 9), answers=bad,
                                reporter=("孙悦", "010-65558888")), at(2026, 11, 19, 9))
    (o,) = intake.run_pass(app)
    assert o.status == "answered"
    (err,) = outbox(app, kind="error_reply")
    said = text(err)
    # Each problem is one plain sentence naming the customer, the field, what was written and what to write.
    assert "S001 国家电网有限公司的“风险等级”填写为“较大”，不在可选范围内，请改为“无”“一般”或“重大”。" in said
    assert "S001 国家电网有限公司的“需总部协调”填写为“可能”，不在可选范围内，请改为“是”或“否”。" in said
    # In the HTML, the two wrong answers are marked in the form sent back.
    html = parsed(err).get_body(("html",)).get_content()
    assert html.count("background-color:#fdecea;") == 2 and "风险等级（无/一般/重大）：较大" in html
    assert "1. 全国性天然气产品及服务方案执行情况：执行正常。" in said  # the form comes back with answers kept
    assert "KCR-202611-BJ" in parsed(err)["Subject"]
    with app.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0


def test_corrected_resend_supersedes_and_keeps_history(app: App) -> None:
    # A second accepted report is version 2; version 1 stays, superseded; the unit counts as on time.
    send_requests(app, "2026-11")
    raw = request_raw(app, "GD")
    drop(app, replies.reply(raw, sender=GD, at=at(2026, 11, 18, 10), answers=GOOD,
                                reporter=("李明", "1")), at(2026, 11, 18, 10))
    fixed = {**GOOD, "S002": {"9": "补充：客户更换联系人。"}}
    drop(app, replies.reply(raw, sender=GD, at=at(2026, 11, 29, 10), answers=fixed,
                                reporter=("李明", "1")), at(2026, 11, 29, 10))
    assert [o.status for o in intake.run_pass(app)] == ["processed", "processed"]
    with app.sessions() as s:
        v1, v2 = s.scalars(select(Submission).order_by(Submission.version)).all()
        assert (v1.version, v1.superseded_by_id, v2.version, v2.superseded_by_id) == (1, v2.id, 2, None)
        assert (v1.on_time, v2.on_time) == (True, False)
    assert "第2版" in outbox(app, kind="ack")[1].subject


def test_a_reply_to_the_request_without_a_form_is_told_how_to_report(app: App) -> None:
    # In the request's thread with no form (the workbook forgotten): one reply saying what to do. Mail that does
    # not attempt a report goes to a person instead (tests/correspondence).
    send_requests(app, "2026-11")
    request = request_message(app)
    drop(app, replies.build(sender=GD, to=HQ, at=at(2026, 11, 19, 8), subject="回复：" + request["Subject"],
                            body="见附件。", in_reply_to=request["Message-ID"]), at(2026, 11, 19, 8))
    (o,) = intake.run_pass(app)
    assert o.status == "answered"
    assert "未找到填报单" in text(outbox(app, kind="error_reply")[0])


def test_a_unit_may_return_the_filled_workbook_instead_of_the_body(app: App) -> None:
    # The request carries the form as .xlsx; GD fills it in Excel and replies "见附件": accepted like a body reply.
    import io
    from email.message import EmailMessage

    from openpyxl import load_workbook

    send_requests(app, "2026-11")
    request = email.message_from_bytes(request_raw(app, "GD"), policy=email.policy.default)
    (xlsx,) = [p for p in request.iter_attachments() if p.get_filename().endswith(".xlsx")]
    book = load_workbook(io.BytesIO(xlsx.get_content()))
    sheet = book.active
    block = ""
    for a, b in sheet.iter_rows(min_row=1, max_col=2):
        label = str(a.value or "")
        if label.startswith("【战略客户】"):
            block = label[6:10]
        elif block == "S001" and label.startswith("4."):
            b.value = "请总部协调冬季保供气量。"
        elif block == "S001" and label.startswith("需总部协调"):
            b.value = "是"
    out = io.BytesIO()
    book.save(out)
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = "李明 <liming@gd.example.cn>", HQ, "回复：" + request["Subject"]
    reply["Message-ID"], reply["In-Reply-To"] = "<wb1@gd.example.cn>", request["Message-ID"]
    reply.set_content("张处长：月报见附件。")
    reply.add_attachment(out.getvalue(), maintype="application",
                         subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename=xlsx.get_filename())
    drop(app, reply.as_bytes(), at(2026, 11, 18, 10))
    (o,) = intake.run_pass(app)
    assert o.status == "processed", o.note
    with app.sessions() as s:
        entry = s.scalar(select(StrategicEntry).where(StrategicEntry.customer.has(code="S001")))
        assert entry.needs_hq is True
        assert {i.category: i.text for i in entry.items} == {4: "请总部协调冬季保供气量。"}





def test_a_version_counts_accepted_reports_only(app: App) -> None:
    # The rule (README "What a month looks like"): 第N版 is the unit's Nth accepted report of the month. A report
    # answered with mistakes was not accepted, so its corrected resend is 第1版 — in the acknowledgement, in
    # `mailbot status` and in the bulletin (首报) alike; the next accepted one is 第2版（更正）.
    send_requests(app, "2026-11")
    raw = request_raw(app, "GD")
    wrong = {"S001": {"1": "执行正常。", "风险等级": "较大"}}
    for when, answers in ((at(2026, 11, 18, 9), wrong), (at(2026, 11, 18, 10), GOOD)):
        drop(app, replies.reply(raw, sender=GD, at=when, answers=answers, reporter=("李明", "1")), when)
    assert [o.status for o in intake.run_pass(app)] == ["answered", "processed"]
    (ack,) = outbox(app, kind="ack")
    assert "第1版" in ack.subject and "更正后重新报送" not in text(ack)
    assert "v1 on time" in render_status(app, "2026-11")
    with app.sessions() as s:
        (gd,) = [u for u in gather(s, s.scalars(select(Period)).one(), department="资源与市场部", tz=TZ,
                                   now=at(2026, 12, 1, 9)).units if u.code == "GD"]
    assert version_label(gd.version) == "首报"

    drop(app, replies.reply(raw, sender=GD, at=at(2026, 11, 19, 9), answers=GOOD, reporter=("李明", "1")),
         at(2026, 11, 19, 9))
    intake.run_pass(app)
    assert "第2版" in outbox(app, kind="ack")[1].subject and "更正后重新报送" in text(outbox(app, kind="ack")[1])
    assert "v2 on time" in render_status(app, "2026-11")


def test_a_report_that_arrives_only_as_a_word_document_is_accepted_naming_the_file(app: App) -> None:
    # A new mail (no thread, no number in the subject) from WPS with the form typed into a table in a .docx.
    send_requests(app, "2026-11")
    _, request = replies.text_of(request_raw(app, "GD"))
    form = request[request.index("【重点客户月报填报单】"):request.index("【填报结束】") + len("【填报结束】")]
    filled = replies.fill_form(form, {"S001": {"4": "请总部协调冬季保供气量。", "风险等级": "一般", "需总部协调": "是"}},
                               reporter=("李明", "020-38886666"))
    mail = email.message_from_bytes(replies.build(sender=GD, to=HQ, at=at(2026, 11, 18, 10), subject="广东分公司11月月报",
                                                  body="王处长：\n11月月报见附件。"), policy=email.policy.SMTP)
    mail.add_attachment(documents.docx(documents.form_as_table(filled), app="wps"), maintype="application",
                        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document", filename="11月月报.docx")
    drop(app, mail.as_bytes(), at(2026, 11, 18, 10))
    (o,) = intake.run_pass(app)
    assert o.status == "processed", o.note
    with app.sessions() as s:
        entry = s.scalar(select(StrategicEntry).where(StrategicEntry.customer.has(code="S001")))
        assert (entry.risk, entry.needs_hq) == ("一般", True)
    (ack,) = outbox(app, kind="ack")
    assert "填报单读取自附件“11月月报.docx”" in text(ack) and "请总部协调冬季保供气量。" in text(ack)
