"""The campaign feedback form (CAMPAIGN.md) as our mails carry it, and the forms that ride in the monthly request.

A campaign whose feedback comes "with the monthly request" (`feedback: with_monthly_request`, `every_days` NULL)
sends no rounds of its own after its notice: while it is open, each unit's 月度报送通知 and its reminders carry
the unit's 【推广反馈】 form above the monthly form, and its workbook beside the monthly one, so one reply answers
both. A separate workbook rather than a second sheet: `parsers.xlsxform` reads the monthly form from the first
sheet that holds it and nothing else of that file, while a workbook holding only the feedback form is read by
the campaign reader — so a unit returning both files is read whole.

Here, below the campaigns capability, because the layers put reports under campaigns: the request is written
here, and `campaigns.mails` writes its own notices with the same functions, so both carry one form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from parsers.campaign import render_campaign_form
from parsers.campaigntext import NO_INTENTION, STAGES, campaign_rows

from mailbot.db.models import Campaign, CampaignTarget, Unit
from mailbot.outbox.compose import Attachment
from mailbot.render.workbook import CONTENT_TYPE, Choice, build_form_workbook

WORKBOOK_INSTRUCTIONS = ("填写说明：请在右侧白色单元格中填写（单元格内换行：Alt+Enter），进展阶段、需总部支持可从下拉列表选择；"
                         f"与上次相比没有变化的可不填，填“{NO_INTENTION}”的请在“本期进展”中写明原因；"
                         "填好后保存，作为附件回复本邮件即可，无需再在邮件正文中填写。")
# The stages as the list offers them; the reader also takes their synonyms, typed into the mail body.
STAGE_CHOICE = Choice(STAGES, "进展阶段只能填写")
HQ_CHOICE = Choice(("是", "否"), "需总部支持只能填写")


def token_of(campaign: Campaign, unit: Unit) -> str:
    return f"{campaign.number}-{unit.code}"


def unit_targets(campaign: Campaign, unit_id: int) -> list[CampaignTarget]:
    """The unit's active targets, in the order its form lists them (by customer code)."""
    return sorted((t for t in campaign.targets if t.unit_id == unit_id and t.active), key=lambda t: t.customer.code)


def form_text(campaign: Campaign, token: str, targets: Sequence[CampaignTarget]) -> str:
    return render_campaign_form(token=token, campaign=campaign.number, title=campaign.title,
                                targets=[(t.customer.code, t.customer.name) for t in targets])


def workbook_filename(token: str) -> str:
    return f"推广反馈表_{token}.xlsx"


def campaign_workbook(campaign: Campaign, token: str, targets: Sequence[CampaignTarget]) -> Attachment:
    """The same form as an .xlsx a unit may fill and return instead of the mail body: labels and 【…】 rows in
    column A, answers in column B, as `parsers.xlsxform` reads a campaign form back."""
    rows = campaign_rows(token=token, campaign=campaign.number, title=campaign.title,
                         targets=[(t.customer.code, t.customer.name) for t in targets])
    data = build_form_workbook(rows, sheet_title="推广反馈表", instructions=WORKBOOK_INSTRUCTIONS,
                               doc_title=f"推广反馈 {token}", choices={"stage": STAGE_CHOICE, "hq": HQ_CHOICE},
                               short_keys=frozenset({"signing"}), tall_keys=frozenset({"progress"}))
    return Attachment(workbook_filename(token), data, *CONTENT_TYPE)


@dataclass(frozen=True)
class RidingForm:
    """One campaign's feedback form as it rides in a unit's monthly request."""

    number: str
    title: str
    token: str
    form_text: str
    workbook: Attachment

    def view(self) -> dict[str, str]:
        """What the request's templates show of it."""
        return {"number": self.number, "title": self.title, "token": self.token, "form_text": self.form_text,
                "workbook": self.workbook.filename}


def riding_forms(s: Session, unit: Unit, today: date) -> list[RidingForm]:
    """The feedback forms of every open campaign answered with the monthly request in which the unit has active
    targets, by campaign number."""
    campaigns = s.scalars(select(Campaign).where(Campaign.status == "open", Campaign.every_days.is_(None),
                                                 Campaign.start_date <= today).order_by(Campaign.number))
    out: list[RidingForm] = []
    for campaign in campaigns:
        targets = unit_targets(campaign, unit.id)
        if targets:
            token = token_of(campaign, unit)
            out.append(RidingForm(campaign.number, campaign.title, token, form_text(campaign, token, targets),
                                  campaign_workbook(campaign, token, targets)))
    return out
