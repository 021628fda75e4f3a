"""The campaign board: per unit and overall, how many targets sit at each stage, what moved in each unit's latest
feedback, the expected signing dates by month, and what needs HQ — the figures `campaign status` prints (or
gives as JSON) and the chapter and report are made of.

Definitions, so every figure can be counted by hand from the records:
- a target is an active (campaign, customer, unit) row; its stage is its latest `CampaignStage`, else 未开展;
- "moved" lists the stage changes recorded from the unit's latest accepted feedback (from → to, with the date);
- a target's expected signing is the latest non-empty 预计签约时间 it was given; it is counted by month only
  while the target is still on its way (not 已签约, 执行中 or 无意向);
- a target needs HQ when the latest block that answered 需总部支持 said 是; the 诉求 it opened is shown;
- the events are the campaign's promotion events (`events`: visits linked to it), cancelled ones left out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from parsers.campaigntext import STAGES

from mailbot.app import App
from mailbot.campaigns.events import as_json, campaign_events
from mailbot.campaigns.store import current_stage, find_campaign, latest_feedback, next_date
from mailbot.db.models import Campaign, CampaignTarget, Unit
from mailbot.domain.commands import STATUS_CN
from mailbot.domain.workdays import WorkCalendar
from mailbot.errors import MailbotError

NOT_STARTED = STAGES[0]
DONE = frozenset({"已签约", "执行中", "无意向"})


@dataclass(frozen=True)
class Row:
    """One target's line on the board."""

    customer: str
    name: str
    unit: str
    stage: str
    expected_signing: str | None
    needs_hq: bool
    request: str | None
    request_status: str | None
    added_by_unit: bool


def _row(target: CampaignTarget) -> Row:
    stage = current_stage(target)
    signing = next((e.expected_signing for e in reversed(target.entries) if e.expected_signing), None)
    hq_entry = next((e for e in reversed(target.entries) if e.needs_hq is not None), None)
    needs = bool(hq_entry and hq_entry.needs_hq)
    req = hq_entry.request if hq_entry is not None and needs else None
    return Row(customer=target.customer.code, name=target.customer.name, unit=target.unit.code, stage=stage,
               expected_signing=signing, needs_hq=needs, request=req.number if req else None,
               request_status=STATUS_CN.get(req.status, req.status) if req else None,
               added_by_unit=target.added_by_unit)


def _figures(rows: list[Row]) -> dict[str, object]:
    by_stage = Counter(r.stage for r in rows)
    months = Counter(r.expected_signing[:7] for r in rows if r.expected_signing and r.stage not in DONE)
    return {
        "targets": len(rows),
        "by_stage": {stage: by_stage.get(stage, 0) for stage in STAGES},
        "signing_by_month": dict(sorted(months.items())),
        "needs_hq": [{"customer": r.customer, "name": r.name, "unit": r.unit, "request": r.request,
                      "status": r.request_status} for r in rows if r.needs_hq],
    }


def _moved(s: Session, campaign: Campaign, unit: Unit, tz: ZoneInfo) -> tuple[dict[str, object] | None,
                                                                              list[dict[str, str]]]:
    """The unit's latest feedback (version, date) and the stage changes it recorded."""
    last = latest_feedback(s, campaign, unit.id)
    if last is None:
        return None, []
    moved: list[dict[str, str]] = []
    for target in campaign.targets:
        if target.unit_id != unit.id:
            continue
        for i, row in enumerate(target.stages):
            if row.feedback_id == last.id:
                before = target.stages[i - 1].stage if i else NOT_STARTED
                moved.append({"customer": target.customer.code, "from": before, "to": row.stage,
                              "at": row.at.astimezone(tz).date().isoformat()})
    moved.sort(key=lambda m: m["customer"])
    return {"version": last.version, "round": last.round,
            "received": last.received_at.astimezone(tz).date().isoformat()}, moved


def board(app: App, number: str) -> dict[str, object]:
    """The whole board of one campaign as plain values (the JSON of `campaign status --json`)."""
    with app.sessions() as s:
        campaign = find_campaign(s, number)
        if campaign is None:
            raise MailbotError(f"没有编号为 {number} 的全国性产品及服务方案")
        return board_of(s, campaign, app.tz, app.today(), app.calendar, now=app.now())


def board_of(s: Session, campaign: Campaign, tz: ZoneInfo, today: date, cal: WorkCalendar, *,
             now: datetime | None = None) -> dict[str, object]:
    """The board of a campaign already in hand (the report mailed at close is made inside that transaction);
    events stand as at `now` (default: the end of `today`)."""
    now = now or datetime.combine(today, time.max, tz)
    active = [t for t in campaign.targets if t.active]
    rows = sorted((_row(t) for t in active), key=lambda r: (r.unit, r.customer))
    units: list[dict[str, object]] = []
    all_moved: list[dict[str, str]] = []
    for unit in sorted({t.unit for t in active}, key=lambda u: u.code):
        last, moved = _moved(s, campaign, unit, tz)
        all_moved += [{"unit": unit.code, **m} for m in moved]
        mine = [r for r in rows if r.unit == unit.code]
        units.append({"unit": unit.code, "name": unit.name, "last_feedback": last, "moved": moved,
                      **_figures(mine),
                      "rows": [{"customer": r.customer, "name": r.name, "stage": r.stage,
                                "expected_signing": r.expected_signing, "needs_hq": r.needs_hq,
                                "request": r.request, "added_by_unit": r.added_by_unit} for r in mine]})
    due = next_date(campaign, today, cal) if campaign.status == "open" else None
    return {"campaign": campaign.number, "title": campaign.title, "status": campaign.status,
            "version": campaign.versions[-1].version if campaign.versions else 1,
            "end": campaign.end_date.isoformat(), "next_feedback": due.isoformat() if due else None,
            "stages": list(STAGES), "overall": {**_figures(rows), "moved": all_moved}, "units": units,
            "events": [as_json(e, tz) for e in campaign_events(s, campaign, now)]}


def board_lines(data: dict[str, object]) -> list[str]:
    """The board as text for the terminal (`campaign status`)."""
    overall = data["overall"]
    assert isinstance(overall, dict)
    out = [f"{data['campaign']} {data['title']}（{'进行中' if data['status'] == 'open' else '已结束'}，"
           f"第{data['version']}版，截至 {data['end']}"
           + (f"，下次反馈 {data['next_feedback']}" if data["next_feedback"] else "") + "）",
           _stage_line("合计", overall)]
    units = data["units"]
    assert isinstance(units, list)
    for u in units:
        last = u["last_feedback"]
        seen = f"最近反馈 {last['received']}（第{last['version']}版）" if last else "尚未反馈"
        out.append(_stage_line(f"{u['unit']} {u['name']}", u) + f"  {seen}")
        out += [f"    {m['customer']}：{m['from']} → {m['to']}（{m['at']}）" for m in u["moved"]]
    months = overall["signing_by_month"]
    if months:
        out.append("预计签约：" + "，".join(f"{m} {n}个" for m, n in months.items()))
    needs = overall["needs_hq"]
    if needs:
        out.append("需总部支持：")
        out += [f"    {n['customer']} {n['name']}（{n['unit']}）" + (f" {n['request']} {n['status']}"
                                                                     if n["request"] else "") for n in needs]
    events = data["events"]
    assert isinstance(events, list)
    if events:
        out.append("推广会、见面会：")
        out += [f"    {e['date']} {e['visit']} {e['kind']}{e['customer']} {e['name']}：{e['topic']}"
                f"（{'、'.join(e['units'])}；{e['state']}" + (
                    f"；后续事项 {e['follow_ups']['open']} 项办理中、{e['follow_ups']['done']} 项已完成"
                    if e["follow_ups"]["open"] or e["follow_ups"]["done"] else "") + "）" for e in events]
    return out


def _stage_line(label: str, figures: dict[str, object]) -> str:
    by_stage = figures["by_stage"]
    assert isinstance(by_stage, dict)
    return f"  {label}：目标客户 {figures['targets']} 个 | " + " ".join(f"{k} {v}" for k, v in by_stage.items())
