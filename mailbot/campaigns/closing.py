"""Ending a campaign, and its report: `campaign close` stops the feedback and the chasing and mails the report PDF
to the bulletin list (once: its key is the campaign's number); `campaign report` writes the PDF at any time, as
the board stands while the campaign runs.

Apart from `store` because the report needs the board, and the board reads the store.
"""

from __future__ import annotations

from pathlib import Path

from mailbot.app import App
from mailbot.campaigns import mails, report
from mailbot.campaigns.board import board, board_of
from mailbot.campaigns.store import CampaignChange, current_stage, find_campaign
from mailbot.db.session import transaction
from mailbot.errors import MailbotError
from mailbot.outbox.compose import Draft


def close_campaign(app: App, number: str, *, dry_run: bool = False) -> CampaignChange:
    """`mailbot campaign close TG-…`: no more feedback is asked for or counted; the report goes out."""
    with transaction(app.sessions, dry_run=dry_run) as s:
        campaign = find_campaign(s, number)
        if campaign is None:
            raise MailbotError(f"没有编号为 {number} 的全国性产品及服务方案")
        change = CampaignChange(campaign.number)
        if campaign.status == "closed":
            change.said.append("此前已结束")
            return change
        campaign.status, campaign.closed_at = "closed", app.now()
        active = [t for t in campaign.targets if t.active]
        signed = sum(1 for t in active if current_stage(t) in ("已签约", "执行中"))
        change.said.append(f"已结束：{len(active)} 个目标客户，其中 {signed} 个已签约或执行中")
        s.flush()
        # The figures as they stand at the close, taken now: the PDF itself is rendered when the mail is composed.
        data = board_of(s, campaign, app.tz, app.today(), app.calendar, now=app.now())

        def report_mail() -> Draft:
            pdf = report.report_pdf(data, app.department, app.now())
            return mails.report_mail(app.department, app.directory.bulletin_addresses(), data, pdf,
                                     report.report_filename(data))

        change.plan.queue(s, f"campaign-report:{campaign.number}", "campaign_report", report_mail,
                          sender=app.identity, now=app.now())
        return change


def write_report(app: App, number: str, out: Path | None = None) -> Path:
    """`mailbot campaign report TG-… [--out FILE]`: the report PDF as the board stands now."""
    data = board(app, number)
    path = out or report.default_path(app.settings.path(app.settings.data_dir), data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(report.report_pdf(data, app.department, app.now()))
    return path
