"""What a campaign mails: the notice with the plan and the unit's feedback form (in the body and as an .xlsx), the
update after an edit, the acknowledgement of feedback, the reply asking for a correction, the reminder, the
escalation, and the report to the bulletin list when the campaign closes.

Every mail to a unit carries its feedback 编号 (`TG-2026-01-GD`) in the subject and the form, so a reply finds
its way back whatever the client does to the thread; the form is always the unit's whole current list of
targets, so the latest mail is the one to answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from parsers import ParsedMessage

from mailbot.db.models import Campaign, CampaignTarget, Unit
from mailbot.directory.lookup import unit_recipients
from mailbot.outbox.compose import Attachment, Draft, Thread
from mailbot.outbox.drafts import draft, echoed_subject, thread_of, unit_context
from mailbot.reports.campaign_forms import campaign_workbook, form_text, workbook_filename


def campaign_view(campaign: Campaign) -> dict[str, object]:
    return {"number": campaign.number, "title": campaign.title, "description": campaign.description or "",
            "end_date": campaign.end_date, "every_days": campaign.every_days}


def _customers(targets: Sequence[CampaignTarget]) -> list[dict[str, str]]:
    return [{"code": t.customer.code, "name": t.customer.name} for t in targets]


def notice_mail(department: str, campaign: Campaign, unit: Unit, token: str, targets: Sequence[CampaignTarget],
                documents: Sequence[Attachment], due: date | None) -> Draft:
    return draft("campaign_notice", unit_recipients(unit),
                 attachments=[*documents, campaign_workbook(campaign, token, targets)],
                 department=department, campaign=campaign_view(campaign), unit=unit_context(unit), token=token,
                 customers=_customers(targets), documents=[d.filename for d in documents], due=due,
                 form_text=form_text(campaign, token, targets), workbook=workbook_filename(token))


def update_mail(department: str, campaign: Campaign, unit: Unit, token: str, targets: Sequence[CampaignTarget],
                new: Sequence[CampaignTarget], revision: Sequence[str], changes: str | None,
                documents: Sequence[Attachment], due: date | None) -> Draft:
    """`revision` empty: only new targets; else the plan's new version, what changed, its documents attached."""
    return draft("campaign_update", unit_recipients(unit),
                 attachments=[*documents, campaign_workbook(campaign, token, targets)],
                 department=department, campaign=campaign_view(campaign), unit=unit_context(unit), token=token,
                 new_customers=_customers(new), revision=list(revision), changes=changes or "",
                 version=campaign.versions[-1].version, documents=[d.filename for d in documents], due=due,
                 form_text=form_text(campaign, token, targets), workbook=workbook_filename(token))


def ack_mail(department: str, p: ParsedMessage, campaign: Campaign, unit: Unit, token: str, *, version: int,
             rows: Sequence[dict[str, object]], unchanged: int, warnings: Sequence[str]) -> Draft:
    """`rows`: each block as understood (customer, stage line, the answers, the 诉求 it opened or joined)."""
    return draft("campaign_ack", [p.envelope.from_addr], thread=thread_of(p), department=department,
                 campaign=campaign_view(campaign), unit=unit_context(unit), token=token,
                 original_subject=echoed_subject(p), version=version, rows=list(rows), unchanged=unchanged,
                 warnings=list(warnings))


def error_mail(department: str, p: ParsedMessage, campaign: Campaign, token: str, problems: Sequence[str],
               form: str) -> Draft:
    """`form`: the sender's own copy with the answers kept, or the blank form when the mail held none."""
    return draft("campaign_error", [p.envelope.from_addr], thread=thread_of(p), department=department,
                 campaign=campaign_view(campaign), token=token, original_subject=echoed_subject(p),
                 problems=list(problems), form_text=form)


def reminder_mail(department: str, campaign: Campaign, unit: Unit, token: str, targets: Sequence[CampaignTarget],
                  due: date, days_left: int, thread: Thread | None) -> Draft:
    return draft("campaign_reminder", unit_recipients(unit), thread=thread,
                 attachments=[campaign_workbook(campaign, token, targets)], department=department,
                 campaign=campaign_view(campaign), unit=unit_context(unit), token=token, due=due,
                 days_left=days_left, form_text=form_text(campaign, token, targets), workbook=workbook_filename(token))


def escalation_mail(department: str, campaign: Campaign, unit: Unit, token: str, due: date,
                    reminded: int) -> Draft:
    return draft("campaign_escalation", [unit.leader_email] if unit.leader_email else [], department=department,
                 campaign=campaign_view(campaign), unit=unit_context(unit), token=token, due=due,
                 reminders_sent=reminded)


def report_mail(department: str, to: Sequence[str], data: Mapping[str, Any], pdf: bytes, filename: str) -> Draft:
    """The closed campaign's report to the bulletin list: the key figures above the attached PDF. `data` is the
    board (`board.board_of`)."""
    return draft("campaign_report", list(to), attachments=[Attachment(filename, pdf, "application", "pdf")],
                 department=department, b=data, filename=filename,
                 unit_names={u["unit"]: u["name"] for u in data["units"]})
