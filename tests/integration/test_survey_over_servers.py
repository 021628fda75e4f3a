"""A whole satisfaction survey with the real servers in the loop, on PostgreSQL: forms sent through an SMTP server,
answers APPENDed to Dovecot (one wrong, then corrected; one late, filled in by the unit), reminders, the close and
its report — each counted where a user would see it: on the SMTP server, in the IMAP folders, in the PDF."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.daemon.scheduler import run_once
from mailbot.db.models import Request
from mailbot.demo import replies
from mailbot.surveys.closing import close_survey
from mailbot.surveys.store import launch_survey
from tests.integration.harness import BOT, copies, folder_counts, sent_mails
from tests.servers.dovecot import Account, Dovecot
from tests.servers.smtpsink import SmtpSink
from tests.support.mailflow import GD, Clock, pdf_text
from tests.support.surveys import ZHAOMIN, filled, survey_file

SURVEY_KINDS = ("survey_form", "survey_reminder", "survey_pending", "ack", "error_reply", "survey_report",
                "request_notice")


def received(sink: SmtpSink, app: App) -> list[tuple[str, str, tuple[str, ...], EmailMessage]]:
    """The survey's mails on the SMTP server (the month's own mails go there too)."""
    return [m for m in sent_mails(sink, app) if m[1] in SURVEY_KINDS and m[0].startswith(("survey-", "req-notice:"))]


def body(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def reply(msg: EmailMessage, sender: tuple[str, str], answers: dict[str, str], clock: Clock) -> bytes:
    """The recipient answers our mail in its thread, the form filled in the body."""
    return replies.build(sender=sender, to=BOT, subject="回复：" + str(msg["Subject"]), at=clock.now,
                         body=filled(body(msg), answers), in_reply_to=str(msg["Message-ID"]))


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_whole_survey_over_imap_and_smtp(servers_app: App, clock: Clock, dovecot: Dovecot, account: Account,
                                           sink: SmtpSink, tmp_path: Path) -> None:
    app = servers_app
    clock.set(2026, 11, 13, 9)
    launch_survey(app, survey_file(tmp_path))
    run_once(app)
    forms = {key: (rcpt, msg) for key, kind, rcpt, msg in received(sink, app) if kind == "survey_form"}
    assert {k: r for k, (r, _) in forms.items()} == {"survey-form:MY-2026-01-S001": (ZHAOMIN[1],),
                                                     "survey-form:MY-2026-01-V002": (GD[1],)}
    s001, v002 = forms["survey-form:MY-2026-01-S001"][1], forms["survey-form:MY-2026-01-V002"][1]
    assert [p.get_filename() for p in s001.iter_attachments()] == ["满意度调查表_MY-2026-01-S001.xlsx"]

    # 赵敏 answers with a score out of range: told what to fix; then corrects it (a low score among them).
    clock.set(2026, 11, 16, 10)
    dovecot.append(account.user, reply(s001, ZHAOMIN, {"1. ": "6", "2. ": "2", "3. ": "4"}, clock), date=clock.now)
    run_once(app)
    clock.set(2026, 11, 16, 11)
    dovecot.append(account.user, reply(s001, ZHAOMIN, {"1. ": "5", "2. ": "2", "3. ": "满意",
                                                       "4. ": "调度响应慢。"}, clock), date=clock.now)
    run_once(app)
    # T-3: GD hears V002 has not answered (S001 has); nobody else does.
    clock.set(2026, 11, 17, 9)
    run_once(app)
    # After the deadline GD fills V002 in, late; then HQ closes the survey.
    clock.set(2026, 11, 23, 10)
    dovecot.append(account.user, reply(v002, GD, {"1. ": "4", "2. ": "不了解", "3. ": "3"}, clock), date=clock.now)
    run_once(app)
    close_survey(app, "MY-2026-01")
    run_once(app)

    got = [(key.rsplit(":", 1)[0] if key.startswith(("survey-ack", "survey-error")) else key, rcpt)
           for key, _, rcpt, _ in received(sink, app)]
    with app.sessions() as s:
        (req,) = s.scalars(select(Request).where(Request.source == "survey"))
        number, assignee = req.number, req.assignee.email
    assert got == [
        ("survey-form:MY-2026-01-S001", (ZHAOMIN[1],)), ("survey-form:MY-2026-01-V002", (GD[1],)),
        ("survey-error:MY-2026-01-S001", (ZHAOMIN[1],)),
        (f"req-notice:{number}:assigned", (assignee,)), ("survey-ack:MY-2026-01-S001", (ZHAOMIN[1],)),
        ("survey-pending:MY-2026-01:GD:T-3", (GD[1],)),
        ("survey-ack:MY-2026-01-V002", (GD[1],)),
        ("survey-report:MY-2026-01", tuple(app.directory.bulletin_addresses())),
    ]
    assert assignee == "liuyang@hq.example.cn" and set(copies(sink).values()) == {1}
    by_key = {key: msg for key, _, _, msg in received(sink, app)}
    late_ack = next(m for k, m in by_key.items() if k.startswith("survey-ack:MY-2026-01-V002"))
    assert "已过截止日期" in body(late_ack) and "广东分公司代填" in body(late_ack)
    (pdf,) = [p.get_content() for p in by_key["survey-report:MY-2026-01"].iter_attachments()]
    page = pdf_text(pdf, tmp_path)
    assert "4.50" in page and "2.00" in page and "调度响应慢。" in page and "逾期 1" in page
    assert folder_counts(dovecot, account.user) == {"INBOX": 0, "Processed": 3, "Quarantine": 0,
                                                    "Auto-replies": 0}
