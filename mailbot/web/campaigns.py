"""Campaigns (全国性产品及服务方案) on the board: the list, and one campaign's board — `campaigns.board.board_of`,
the figures `campaign status` prints, with the stage chart of its report (`campaigns.report.stage_chart`).

A unit sees the campaigns it has targets in, and of each only its own part of the board (its targets, what moved
in its feedback, what needs HQ); HQ sees every unit and the totals.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.campaigns.board import board_of
from mailbot.campaigns.report import signing_months, stage_chart
from mailbot.campaigns.store import find_campaign
from mailbot.db.models import Campaign, CampaignTarget, Unit
from mailbot.web.scope import Viewer, scoped_via

STATUS_CN = {"open": "进行中", "closed": "已结束"}


def _visible(viewer: Viewer) -> Select[Any]:
    return scoped_via(select(Campaign), viewer, Campaign.id, CampaignTarget.campaign_id, CampaignTarget.unit_id)


def campaigns_page(s: Session, viewer: Viewer) -> dict[str, Any]:
    rows = s.scalars(_visible(viewer).order_by(Campaign.created_at.desc(), Campaign.id.desc()))
    return {"campaigns": [{"number": c.number, "title": c.title, "end": c.end_date,
                           "status_cn": STATUS_CN.get(c.status, c.status)} for c in rows]}


def campaign_page(app: App, s: Session, viewer: Viewer, number: str) -> dict[str, Any] | None:
    """One campaign's board as the viewer may see it; None when unknown or not theirs (the page: 404)."""
    campaign = find_campaign(s, number)
    if campaign is None or s.scalar(_visible(viewer).where(Campaign.id == campaign.id)) is None:
        return None
    data: dict[str, Any] = board_of(s, campaign, app.tz, app.today(), app.calendar)
    if not viewer.is_hq:
        unit = s.get(Unit, viewer.unit_id)
        data = {**data, "units": [u for u in data["units"] if unit is not None and u["unit"] == unit.code]}
        if not data["units"]:
            return None
        # The totals are every unit's: a unit's own line is its total.
        data["overall"] = {k: data["units"][0][k] for k in ("targets", "by_stage", "signing_by_month", "needs_hq")}
        data["overall"]["moved"] = [{"unit": data["units"][0]["unit"], **m} for m in data["units"][0]["moved"]]
    return {"b": data, "status_cn": STATUS_CN.get(str(data["status"]), str(data["status"])),
            "chart": stage_chart(data), "signing": signing_months(data)}
