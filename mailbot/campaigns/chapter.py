"""The campaigns' part of the bulletin (全国性产品及服务方案推广): every campaign running in the month or closed in it,
with its funnel as it stood at the month's end — targets per stage, the stage changes units reported in the month,
who gave feedback, the expected signing dates by month and what needs HQ.

As of the month's end, not as of compiling: a bulletin compiled (or compiled again) in the following weeks must
show the month it is about, so stages, entries and feedback recorded after `nxt` are left out. The campaign's
promotion events (`events`) are those held in the month and those planned by its end for later, each as it stood
at the month's end.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from parsers.campaigntext import STAGES

from mailbot.campaigns.board import DONE, NOT_STARTED
from mailbot.campaigns.events import Event, campaign_events
from mailbot.db.models import Campaign, CampaignEntry, CampaignFeedback, CampaignTarget


@dataclass(frozen=True)
class StageMove:
    """One stage change reported in the month."""

    unit: str                 # the unit's name
    customer: str             # "S001 国家电网有限公司"
    before: str
    after: str
    at: datetime


@dataclass(frozen=True)
class NeedsHQ:
    unit: str
    customer: str
    request: str | None       # the 诉求 it opened or joined
    status: str | None        # that 诉求's status code (the bulletin words it)


@dataclass(frozen=True)
class CampaignLine:
    number: str
    title: str
    closed: bool                                  # closed by the month's end
    end_date: date
    units: int                                    # units with active targets
    units_reported: int                           # of them, those with accepted feedback in the month
    targets: int
    by_stage: tuple[tuple[str, int], ...]         # every stage, in funnel order, at the month's end
    signed: int                                   # 已签约 + 执行中
    moved: tuple[StageMove, ...]                  # changes reported in the month, oldest first
    signing_by_month: tuple[tuple[str, int], ...]  # ("2027-03", 2): targets still on their way
    needs_hq: tuple[NeedsHQ, ...]
    events: tuple[Event, ...] = ()                # promotion events held in the month, then those planned later


def _stage_at(target: CampaignTarget, nxt: datetime) -> str:
    rows = [row for row in target.stages if row.at < nxt]
    return rows[-1].stage if rows else NOT_STARTED


def _entries_before(target: CampaignTarget, nxt: datetime) -> list[CampaignEntry]:
    return [e for e in target.entries if e.feedback.received_at < nxt]


def _line(s: Session, campaign: Campaign, first: datetime, nxt: datetime) -> CampaignLine:
    # Targets that were active over the month: a target added after it is not counted in it.
    active = sorted((t for t in campaign.targets if t.active and t.created_at < nxt),
                    key=lambda t: (t.unit.code, t.customer.code))
    stages = {t.id: _stage_at(t, nxt) for t in active}
    counts = Counter(stages.values())
    moved: list[StageMove] = []
    months: Counter[str] = Counter()
    needs: list[NeedsHQ] = []
    for t in active:
        history = [row for row in t.stages if row.at < nxt]
        for i, row in enumerate(history):
            if row.at >= first:
                moved.append(StageMove(t.unit.name, f"{t.customer.code} {t.customer.name}",
                                       history[i - 1].stage if i else NOT_STARTED, row.stage, row.at))
        entries = _entries_before(t, nxt)
        signing = next((e.expected_signing for e in reversed(entries) if e.expected_signing), None)
        if signing and stages[t.id] not in DONE:
            months[signing[:7]] += 1
        hq = next((e for e in reversed(entries) if e.needs_hq is not None), None)
        if hq is not None and hq.needs_hq:
            req = hq.request
            needs.append(NeedsHQ(t.unit.name, f"{t.customer.code} {t.customer.name}", req.number if req else None,
                                 req.status if req else None))
    reported = set(s.scalars(select(CampaignFeedback.unit_id).where(
        CampaignFeedback.campaign_id == campaign.id, CampaignFeedback.received_at >= first,
        CampaignFeedback.received_at < nxt)))
    units = {t.unit_id for t in active}
    return CampaignLine(
        number=campaign.number, title=campaign.title,
        closed=campaign.closed_at is not None and campaign.closed_at < nxt, end_date=campaign.end_date,
        units=len(units), units_reported=len(units & reported), targets=len(active),
        by_stage=tuple((stage, counts.get(stage, 0)) for stage in STAGES),
        signed=counts.get("已签约", 0) + counts.get("执行中", 0),
        moved=tuple(sorted(moved, key=lambda m: m.at)), signing_by_month=tuple(sorted(months.items())),
        needs_hq=tuple(needs), events=tuple(e for e in campaign_events(s, campaign, nxt) if e.starts_at >= first))


def gather_campaigns(s: Session, first: datetime, nxt: datetime) -> tuple[CampaignLine, ...]:
    """Campaigns launched before `nxt` and not closed before `first`: those running in [first, nxt) or closed in
    it, by number."""
    campaigns = s.scalars(select(Campaign).where(Campaign.created_at < nxt).order_by(Campaign.number))
    return tuple(_line(s, c, first, nxt) for c in campaigns if c.closed_at is None or c.closed_at >= first)
