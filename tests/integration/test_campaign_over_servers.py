"""A whole national campaign with the real servers in the loop, on PostgreSQL: notices (plan and workbook attached)
sent through an SMTP server, feedback APPENDed to Dovecot (one with an error, then corrected, opening a 诉求), a
promotion event planned as a visit whose minutes come back by reply, a revised plan, a silent unit reminded and
escalated, the close and its report — each counted where a user would see it: on the SMTP server, in the IMAP
folders, in the PDF."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.campaigns.closing import close_campaign
from mailbot.campaigns.store import launch_campaign
from mailbot.daemon.scheduler import run_once
from mailbot.db.models import CampaignStage, Request
from mailbot.demo import replies
from tests.integration.harness import BOT, copies, folder_counts, sent_mails
from tests.servers.dovecot import Account, Dovecot
from tests.servers.smtpsink import SmtpSink
from mailbot.visits.store import plan_visit
from tests.support.campaigns import PLAN, filled, plan_file
from tests.support.mailflow import BJ, GD, LIUYANG, SUMMARY, Clock, pdf_text, write_plan

BJ_TO = (BJ[1], "zhoukai@bj.example.cn")   # 北京分公司 has two 联系人: both get its mails
# The event's notice: the three units' 联系人, the 总部对接人 and, in copy, the 部门负责人 and BJ's 单位负责人
# (the example plan's cc).
VISIT_TO = (*BJ_TO, GD[1], "wuhao@js.example.cn", LIUYANG[1], "zhangwei@hq.example.cn", "zhenght@bj.example.cn")


def received(sink: SmtpSink, app: App) -> list[tuple[str, str, tuple[str, ...], EmailMessage]]:
    """The campaign's mails on the SMTP server (the month's own mails go there too)."""
    return [m for m in sent_mails(sink, app) if m[0].startswith(("campaign-", "req-notice:", "visit"))]


def body(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def reply(msg: EmailMessage, sender: tuple[str, str], answers: dict[str, dict[int, str]], clock: Clock) -> bytes:
    """The unit's contact answers our mail in its thread, the form filled in the body."""
    return replies.build(sender=sender, to=BOT, subject="回复：" + str(msg["Subject"]), at=clock.now,
                         body=filled(body(msg), answers), in_reply_to=str(msg["Message-ID"]))


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_whole_campaign_over_imap_and_smtp(servers_app: App, clock: Clock, dovecot: Dovecot, account: Account,
                                             sink: SmtpSink, tmp_path: Path) -> None:
    app = servers_app
    clock.set(2026, 11, 13, 9)
    launch_campaign(app, plan_file(tmp_path))
    run_once(app)
    notices = {key: (rcpt, msg) for key, kind, rcpt, msg in received(sink, app) if kind == "campaign_notice"}
    assert {k: r for k, (r, _) in notices.items()} == {"campaign-notice:TG-2026-01-BJ": BJ_TO,
                                                       "campaign-notice:TG-2026-01-GD": (GD[1],)}
    gd = notices["campaign-notice:TG-2026-01-GD"][1]
    assert [p.get_filename() for p in gd.iter_attachments()] == ["冬季调峰气保供服务方案.pdf",
                                                                 "推广反馈表_TG-2026-01-GD.xlsx"]

    # 李明 answers with a stage that is not one of the seven: told what to fix; then corrects it, asking HQ for help.
    clock.set(2026, 11, 18, 10)
    dovecot.append(account.user, reply(gd, GD, {"S001": {1: "很有兴趣"}}, clock), date=clock.now)
    run_once(app)
    clock.set(2026, 11, 18, 11)
    dovecot.append(account.user, reply(gd, GD, {"S001": {1: "有意向", 2: "年增供约1亿方", 5: "2027年3月", 6: "是"},
                                                "S002": {1: "已宣贯"}}, clock), date=clock.now)
    run_once(app)
    # A 推广会 with 国家电网 on 11-20, planned as a visit of the campaign; BJ files its minutes by reply.
    plan_visit(app, write_plan(tmp_path / "event.yaml", campaign="TG-2026-01", topic="冬季调峰气保供服务方案推介会"))
    clock.set(2026, 11, 20, 14)
    run_once(app)
    (summary_request,) = [m for k, _, _, m in received(sink, app) if k == "visit:VIS-2026-0001:summary-request"]
    clock.set(2026, 11, 20, 16)
    dovecot.append(account.user, replies.build(
        sender=BJ, to=BOT, subject="回复：" + str(summary_request["Subject"]), at=clock.now, body=SUMMARY,
        in_reply_to=str(summary_request["Message-ID"])), date=clock.now)
    run_once(app)
    # BJ says nothing: reminded three days before the first feedback date (11月27日), in its notice's thread.
    clock.set(2026, 11, 24, 9)
    run_once(app)
    # HQ revises the plan: each unit is told what changed, with the new document.
    clock.set(2026, 11, 25, 9)
    launch_campaign(app, plan_file(tmp_path, PLAN + "changes: 调峰气量上限调整为每日80万方。\n",
                                   document=b"%PDF-1.4\n% plan v2\n"))
    run_once(app)
    # Still nothing from BJ after 11-27: its 单位负责人 on the next working day, Monday 11-30.
    clock.set(2026, 11, 30, 9)
    run_once(app)
    clock.set(2026, 12, 1, 10)
    close_campaign(app, "TG-2026-01")
    run_once(app)

    got = [(key.rsplit(":", 1)[0] if key.startswith(("campaign-ack", "campaign-error", "visit-reply")) else key, rcpt)
           for key, _, rcpt, _ in received(sink, app)]
    with app.sessions() as s:
        (req,) = s.scalars(select(Request).where(Request.source == "campaign"))
        number, assignee = req.number, req.assignee.email
        assert [row.stage for row in s.scalars(select(CampaignStage).order_by(CampaignStage.id))] == ["有意向", "已宣贯"]
    assert got == [
        ("campaign-notice:TG-2026-01-BJ", BJ_TO), ("campaign-notice:TG-2026-01-GD", (GD[1],)),
        ("campaign-error:TG-2026-01-GD", (GD[1],)),
        (f"req-notice:{number}:assigned", (assignee,)), ("campaign-ack:TG-2026-01-GD", (GD[1],)),
        ("visit:VIS-2026-0001:notice:seq0", VISIT_TO),
        ("visit:VIS-2026-0001:summary-request", (*BJ_TO, LIUYANG[1])), ("visit-reply", (*BJ_TO, LIUYANG[1])),
        ("campaign-reminder:TG-2026-01-BJ:r1:T-3", BJ_TO),
        ("campaign-update:TG-2026-01-BJ:v2", BJ_TO), ("campaign-update:TG-2026-01-GD:v2", (GD[1],)),
        ("campaign-escalation:TG-2026-01-BJ:r1", ("zhenght@bj.example.cn",)),
        ("campaign-report:TG-2026-01", tuple(app.directory.bulletin_addresses())),
    ]
    assert assignee == "liuyang@hq.example.cn" and set(copies(sink).values()) == {1}
    by_key = {key: msg for key, _, _, msg in received(sink, app)}
    reminder = by_key["campaign-reminder:TG-2026-01-BJ:r1:T-3"]
    assert reminder["In-Reply-To"] == notices["campaign-notice:TG-2026-01-BJ"][1]["Message-ID"]
    assert [p.get_filename() for p in reminder.iter_attachments()] == ["推广反馈表_TG-2026-01-BJ.xlsx"]
    error = next(m for k, m in by_key.items() if k.startswith("campaign-error:"))
    assert "很有兴趣" in body(error)
    (pdf,) = [p.get_content() for p in by_key["campaign-report:TG-2026-01"].iter_attachments()]
    page = pdf_text(pdf, tmp_path)
    assert "已结束" in page and "未开展 → 有意向" in page and number in page and "2027年3月" in page
    events = "".join(pdf_text(pdf, tmp_path, layout=False).split()).split("五、推广会、见面会")[1]
    assert events.startswith("日期活动客户所属单位进展2026-11-20VIS-2026-0001（拜访）") and "纪要已归档" in events[:80]
    assert folder_counts(dovecot, account.user) == {"INBOX": 0, "Processed": 3, "Quarantine": 0,
                                                    "Auto-replies": 0}
