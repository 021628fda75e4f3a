"""Campaigns in the database: launched (or changed) from their file, closed, and each unit's feedback kept.

Each unit concerned gets one notice with the plan attached and a feedback form listing its target customers
(`campaign-notice:TG-2026-01-GD`). Running `launch` again after an edit sends only what changed, decided from the
database in the same transaction: a unit with new targets gets its updated form, and a new version of the plan
(its documents, title or description changed — compared by digest) goes to every unit with what changed; a
unit that had no target before gets its first notice. A customer dropped from the file leaves the units' forms
and the board, its history kept.

Accepted feedback is kept whole: one `CampaignFeedback` per reply (versions per unit, the round it answers), one
`CampaignEntry` per 【客户】 block as read, and a `CampaignStage` row for each change of a target's stage — the
funnel's history with its dates. An empty stage is "no change" and writes no row.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parsers.campaign import CampaignTarget as ParsedTarget

from mailbot.app import App
from mailbot.campaigns import mails
from mailbot.campaigns.plan import CampaignPlan, parse_campaign_plan, select_targets
from mailbot.campaigns.rounds import feedback_dates
from mailbot.db.models import (
    Campaign,
    CampaignEntry,
    CampaignFeedback,
    CampaignStage,
    CampaignTarget,
    CampaignVersion,
    Customer,
    InboundMessage,
    Unit,
)
from mailbot.db.session import transaction
from mailbot.directory.lookup import customers_by_code
from mailbot.domain.workdays import WorkCalendar
from mailbot.outbox.compose import Attachment, Draft
from mailbot.outbox.queue import Change, Plan
from mailbot.planfile import CustomerFact, PlanError
from mailbot.reports.campaign_forms import token_of, unit_targets

log = logging.getLogger(__name__)

NOT_STARTED = "未开展"   # a target nobody has reported on yet


class CampaignChange(Change):
    """What `campaign launch` or `campaign close` did."""

    UNCHANGED = "与已发出的方案相同，未发送任何邮件"


@dataclass(frozen=True)
class Document:
    """A plan document as read from disk at launch: attached to the notices, remembered by digest."""

    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def attachment(self) -> Attachment:
        kind = mimetypes.guess_type(self.name)[0] or "application/octet-stream"
        main, sub = kind.split("/", 1)
        return Attachment(filename=self.name, data=self.data, maintype=main, subtype=sub)


def load_campaign_plan(path: Path) -> tuple[CampaignPlan, list[Document]]:
    """The file and its documents (relative paths from the file's folder); every problem named at once."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PlanError([f"{path}: 无法读取：{e.strerror}"]) from None
    plan = parse_campaign_plan(text, str(path))
    documents: list[Document] = []
    problems: list[str] = []
    for i, name in enumerate(plan.documents):
        doc = Path(name) if Path(name).is_absolute() else path.parent / name
        try:
            documents.append(Document(doc.name, doc.read_bytes()))
        except OSError as e:
            problems.append(f"{plan.source}: documents.{i}: 无法读取方案文件 {doc}：{e.strerror}")
    if problems:
        raise PlanError(problems)
    return plan, documents


def find_campaign(s: Session, number: str) -> Campaign | None:
    return s.scalar(select(Campaign).where(Campaign.number == number.strip().upper()))


def current_stage(target: CampaignTarget) -> str:
    return target.stages[-1].stage if target.stages else NOT_STARTED


def dates_of(campaign: Campaign, cal: WorkCalendar) -> list[date]:
    """The campaign's feedback dates (none when feedback rides with the monthly request)."""
    if campaign.every_days is None:
        return []
    return feedback_dates(campaign.start_date, campaign.every_days, campaign.end_date, cal)


def next_date(campaign: Campaign, today: date, cal: WorkCalendar) -> date | None:
    return next((d for d in dates_of(campaign, cal) if d >= today), None)


def launch_campaign(app: App, path: Path, *, dry_run: bool = False) -> CampaignChange:
    """`mailbot campaign launch FILE.yaml`: record the campaign (or its change) and queue what changed."""
    plan, documents = load_campaign_plan(path)
    with transaction(app.sessions, dry_run=dry_run) as s:
        return record_campaign(app, s, plan, documents, str(path.resolve()))


def _digest(plan: CampaignPlan, documents: Sequence[Document]) -> str:
    facts = {"title": plan.title, "description": plan.description,
             "documents": [[d.name, d.sha256] for d in documents]}
    return hashlib.sha256(json.dumps(facts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def _documents_json(documents: Sequence[Document]) -> str:
    return json.dumps([{"name": d.name, "sha256": d.sha256, "size": len(d.data)} for d in documents],
                      ensure_ascii=False)


def record_campaign(app: App, s: Session, plan: CampaignPlan, documents: Sequence[Document],
                    source: str) -> CampaignChange:
    now, today = app.now(), app.today()
    customers = [c for c in customers_by_code(s).values() if c.active]
    facts = [CustomerFact(c.code, c.kind, tuple(u.code for u in c.units if u.active)) for c in customers]
    units = {u.code: u for u in s.scalars(select(Unit).where(Unit.active.is_(True)))}
    pairs, problems = select_targets(plan, facts, frozenset(units))
    if problems:
        raise PlanError(problems)
    change = CampaignChange(plan.number)
    campaign = find_campaign(s, plan.number)
    digest = _digest(plan, documents)
    revision: list[str] = []
    if campaign is None:
        if plan.end < today:
            raise PlanError([f"{plan.source}: end: 结束日期 {plan.end.isoformat()} 已过"])
        campaign = Campaign(number=plan.number, title=plan.title, description=plan.description,
                            every_days=plan.every_days, reminders=json.dumps(list(plan.reminders)),
                            start_date=today, end_date=plan.end, status="open", source_file=source,
                            created_at=now, updated_at=now)
        s.add(campaign)
        s.add(CampaignVersion(campaign=campaign, version=1, digest=digest, documents=_documents_json(documents),
                              changes=plan.changes, created_at=now))
        s.flush()
        change.said.append(f"已发起（{len({u for _, u in pairs})} 家所属单位，{len(pairs)} 个目标客户）")
    else:
        if campaign.status == "closed":
            raise PlanError([f"{plan.source}: number: 方案 {campaign.number} 已结束，不能再变更"])
        revision = _update(s, campaign, plan, documents, digest, change)
    campaign.source_file, campaign.updated_at = source, now
    by_code = {c.code: c for c in customers}
    existing = {(t.customer.code, t.unit.code): t for t in campaign.targets}
    added: dict[str, list[CampaignTarget]] = {}
    for code, unit_code in pairs:
        target = existing.get((code, unit_code))
        if target is None:
            target = CampaignTarget(campaign=campaign, customer=by_code[code], unit=units[unit_code], active=True,
                                    added_by_unit=False, created_at=now)
            s.add(target)
            added.setdefault(unit_code, []).append(target)
        elif not target.active:
            target.active = True
            added.setdefault(unit_code, []).append(target)
    chosen = set(pairs)
    for key, target in existing.items():
        if key not in chosen and target.active and not target.added_by_unit:
            target.active = False
            change.said.append(f"客户 {key[0]} 已移出{key[1]}的目标客户")
    s.flush()
    _send(app, s, change.plan, campaign, list(documents), existing, added, revision)
    if existing and added:
        change.said.append("新增目标客户 " + "、".join(f"{t.customer.code}（{u}）" for u, ts in sorted(added.items())
                                                  for t in ts))
    return change


def _update(s: Session, campaign: Campaign, plan: CampaignPlan, documents: Sequence[Document], digest: str,
            change: CampaignChange) -> list[str]:
    """Bring the campaign to the file; a new plan version when what units read changed. Returns that version's
    change lines (empty: the same plan)."""
    if campaign.end_date != plan.end:
        change.said.append(f"结束日期改为 {plan.end.isoformat()}")
        campaign.end_date = plan.end
    if campaign.every_days != plan.every_days or json.loads(campaign.reminders) != list(plan.reminders):
        campaign.every_days, campaign.reminders = plan.every_days, json.dumps(list(plan.reminders))
        change.said.append("反馈安排已更新")
    latest = campaign.versions[-1]
    if latest.digest == digest:
        return []
    lines: list[str] = []
    if campaign.title != plan.title:
        lines.append(f"方案名称改为“{plan.title}”")
    if (campaign.description or "") != (plan.description or ""):
        lines.append("方案说明已修改（见下文）")
    before = {d["name"]: d["sha256"] for d in json.loads(latest.documents)}
    for d in documents:
        if d.name not in before:
            lines.append(f"新增方案文件“{d.name}”")
        elif before[d.name] != d.sha256:
            lines.append(f"方案文件“{d.name}”已更新")
    lines += [f"方案文件“{name}”已撤回" for name in before if name not in {d.name for d in documents}]
    campaign.title, campaign.description = plan.title, plan.description
    version = CampaignVersion(campaign=campaign, version=latest.version + 1, digest=digest,
                              documents=_documents_json(documents), changes=plan.changes,
                              created_at=campaign.updated_at)
    s.add(version)
    s.flush()
    change.said.append(f"方案已更新为第{version.version}版")
    return lines


def _send(app: App, s: Session, out: Plan, campaign: Campaign, documents: list[Document],
          existing: dict[tuple[str, str], CampaignTarget], added: dict[str, list[CampaignTarget]],
          revision: list[str]) -> None:
    """One mail per unit for this run: the notice to a unit new to the campaign, else an update carrying what
    changed for it (its new targets, the new plan version) — nothing to a unit for which nothing changed."""
    told = {u for _, u in existing}
    version = campaign.versions[-1]
    attached = [d.attachment() for d in documents]
    due = next_date(campaign, app.today(), app.calendar)
    for unit in sorted({t.unit for t in campaign.targets if t.active}, key=lambda u: u.code):
        targets = unit_targets(campaign, unit.id)
        token = token_of(campaign, unit)
        new = added.get(unit.code, [])
        if unit.code not in told:
            def notice(unit: Unit = unit, targets: list[CampaignTarget] = targets, token: str = token) -> Draft:
                return mails.notice_mail(app.department, campaign, unit, token, targets, attached, due)

            out.queue(s, f"campaign-notice:{token}", "campaign_notice", notice, sender=app.identity, now=app.now())
        elif new or revision:
            def update(unit: Unit = unit, targets: list[CampaignTarget] = targets, token: str = token,
                       new: list[CampaignTarget] = new) -> Draft:
                return mails.update_mail(app.department, campaign, unit, token, targets, new, revision,
                                         version.changes, attached if revision else [], due)

            key = f"campaign-update:{token}:v{version.version}" + (
                ":" + ",".join(t.customer.code for t in new) if new else "")
            out.queue(s, key, "campaign_update", update, sender=app.identity, now=app.now())


def stage_history(s: Session, target: CampaignTarget) -> list[CampaignStage]:
    return list(s.scalars(select(CampaignStage).where(CampaignStage.target_id == target.id)
                          .order_by(CampaignStage.id)))


def customer_of(s: Session, code: str) -> Customer | None:
    customer = customers_by_code(s).get(code)
    return customer if customer is not None and customer.active else None


def target_for(s: Session, campaign: Campaign, customer: Customer, unit: Unit) -> CampaignTarget | None:
    return next((t for t in campaign.targets if t.customer_id == customer.id and t.unit_id == unit.id), None)


def add_target_by_unit(s: Session, campaign: Campaign, customer: Customer, unit: Unit,
                       at: datetime) -> CampaignTarget:
    """A customer the unit reported on without being asked: a target from now on, marked as the unit's own."""
    target = CampaignTarget(campaign=campaign, customer=customer, unit=unit, active=True, added_by_unit=True,
                            created_at=at)
    s.add(target)
    s.flush()
    return target


def record_feedback(s: Session, campaign: Campaign, unit: Unit, msg: InboundMessage, round_: int) -> CampaignFeedback:
    """The unit's next version of feedback (versions count accepted replies only)."""
    last = s.scalar(select(func.max(CampaignFeedback.version)).where(
        CampaignFeedback.campaign_id == campaign.id, CampaignFeedback.unit_id == unit.id)) or 0
    feedback = CampaignFeedback(campaign_id=campaign.id, unit=unit, inbound_id=msg.id, version=last + 1,
                                round=round_, received_at=msg.received_at)
    s.add(feedback)
    s.flush()
    return feedback


def record_entry(s: Session, feedback: CampaignFeedback, target: CampaignTarget, block: ParsedTarget,
                 msg: InboundMessage) -> tuple[str, str | None]:
    """One block kept as read, and a stage row when the stage changed. Returns (stage before, stage now or None
    when unchanged)."""
    before = current_stage(target)
    entry = CampaignEntry(feedback=feedback, target=target, stage=block.stage, intention=block.intention,
                          progress=block.progress, next_steps=block.next, expected_signing=block.expected_signing,
                          signing_text=block.signing_text, needs_hq=block.needs_hq)
    s.add(entry)
    moved: str | None = None
    if block.stage is not None and block.stage != before:
        s.add(CampaignStage(target=target, stage=block.stage, at=msg.received_at, inbound_id=msg.id,
                            feedback_id=feedback.id))
        moved = block.stage
    s.flush()
    return before, moved


def latest_feedback(s: Session, campaign: Campaign, unit_id: int) -> CampaignFeedback | None:
    return s.scalar(select(CampaignFeedback).where(CampaignFeedback.campaign_id == campaign.id,
                                                   CampaignFeedback.unit_id == unit_id)
                    .order_by(CampaignFeedback.version.desc()).limit(1))
