"""One customer's campaign history, for its archive (客户档案): when it became a target of which campaign for which
unit, and every block a unit reported on it — the stage change it recorded, the answers, the 诉求 it opened.

Events, not a summary: the archive is a timeline, month by month, and each event lands in the month it happened.
A promotion event of a campaign held for or with the customer (`events`) is one too, on its day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from parsers.campaigntext import LABELS

from mailbot.campaigns.board import NOT_STARTED
from mailbot.campaigns.events import customer_events
from mailbot.db.models import CampaignTarget


@dataclass(frozen=True)
class CampaignEvent:
    """One event of a customer in a campaign, as its archive shows it."""

    number: str                            # TG-2026-01
    title: str
    unit: str                              # the unit's name
    at: datetime
    version: int | None                    # the unit's feedback version; None: the customer became a target
    stage_line: str                        # "未开展 → 有意向", "有意向（未变）", or how it became a target
    lines: tuple[tuple[str, str], ...]     # (label, answer) as the unit wrote them
    request: str | None                    # the 诉求 the block opened or joined


def _feedback_events(target: CampaignTarget) -> list[CampaignEvent]:
    out = []
    for entry in target.entries:
        rows = target.stages
        i = next((k for k, row in enumerate(rows) if row.feedback_id == entry.feedback_id), None)
        if i is not None:
            stage_line = f"{rows[i - 1].stage if i else NOT_STARTED} → {rows[i].stage}"
        else:
            before = [row.stage for row in rows if row.at < entry.feedback.received_at]
            stage_line = f"{before[-1] if before else NOT_STARTED}（未变）"
        lines = [(LABELS[key], value) for key, value in (("intention", entry.intention), ("progress", entry.progress),
                                                         ("next", entry.next_steps), ("signing", entry.signing_text))
                 if value]
        if entry.needs_hq is not None:
            lines.append((LABELS["hq"], "是" if entry.needs_hq else "否"))
        out.append(CampaignEvent(number=target.campaign.number, title=target.campaign.title, unit=target.unit.name,
                                 at=entry.feedback.received_at, version=entry.feedback.version,
                                 stage_line=stage_line, lines=tuple(lines),
                                 request=entry.request.number if entry.request else None))
    return out


def customer_campaigns(s: Session, customer_id: int, now: datetime | None = None) -> list[CampaignEvent]:
    """Every campaign event of one customer, oldest first: its targeting by each unit, each block reported, each
    promotion event (its state as at `now`, else as recorded)."""
    events: list[CampaignEvent] = []
    for target in s.scalars(select(CampaignTarget).where(CampaignTarget.customer_id == customer_id)
                            .order_by(CampaignTarget.id)):
        how = "所属单位在反馈中新增为目标客户" if target.added_by_unit else "列为目标客户"
        events.append(CampaignEvent(number=target.campaign.number, title=target.campaign.title,
                                    unit=target.unit.name, at=target.created_at, version=None, stage_line=how,
                                    lines=(), request=None))
        events += _feedback_events(target)
    for campaign, ev in customer_events(s, customer_id, now):
        events.append(CampaignEvent(
            number=campaign.number, title=campaign.title, unit="、".join(ev.units), at=ev.starts_at, version=None,
            stage_line=f"推广会、见面会：{ev.topic}（{ev.visit}，{ev.state}）", lines=(), request=None))
    return sorted(events, key=lambda e: (e.at, e.version or 0))
