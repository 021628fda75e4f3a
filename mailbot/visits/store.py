"""Recording a visit and notifying everyone concerned: new, changed, cancelled (§7.1, §7.2.1–7.2.2).

`mailbot visit plan FILE.yaml` lands in `plan_visit`: the file is read and
checked against the directory, then in one transaction the visit row is
written and the notice queued. Running the same file again is how a plan is
changed: the file is recognised by its path (or by a `number:` line), and
only if something a participant would care about differs is the notice sent
again — SEQUENCE one higher, the same calendar UID, the differences listed
on top; people no longer concerned get a cancellation for their calendar.
Running it a third time with nothing changed sends nothing. `cancel_visit`
sends METHOD:CANCEL to everyone.

Every notice goes to the units concerned (and, for a customer's visit to
HQ, the reception list) with the HQ owner, HQ attendees and preparers in
copy, so each of them gets the invitation and the checklist.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.db.models import Campaign, Customer, Unit, Visit, VisitNote
from mailbot.db.session import transaction
from mailbot.directory.config import Directory
from mailbot.errors import MailbotError
from mailbot.outbox.compose import Identity
from mailbot.outbox.queue import DraftOrRecipe, Plan, enqueue
from mailbot.planfile import PlanError
from mailbot.visits import ics, mails, people
from mailbot.visits.people import Addr
from mailbot.visits.plan import (
    CHANGE_LABELS,
    KINDS,
    Refs,
    VisitPlan,
    changed_keys,
    check_references,
    essence,
    from_stored,
    parse_plan,
    to_json,
)

log = logging.getLogger(__name__)
BOT = "mailbot"


@dataclass(frozen=True)
class VisitChange:
    """What a plan or cancel command did: created | changed | unchanged | cancelled | already_cancelled."""

    number: str
    action: str
    # A lambda, so that importing this module while mailbot.jobs is still loading (jobs → visits) works.
    plan: Plan = field(default_factory=lambda: Plan())

    def lines(self) -> list[str]:
        said = {"created": "已登记，通知已排队发送", "changed": "已变更，变更通知已排队发送",
                "unchanged": "与已登记的计划相同，未发送任何邮件", "cancelled": "已取消，取消通知已排队发送",
                "already_cancelled": "此前已取消，未发送任何邮件"}[self.action]
        out = [f"{self.number}：{said}"]
        if self.action == "created":
            out.append(f"  如需变更：修改同一文件后再次运行本命令（或在文件中加一行 number: {self.number}）")
        return out + ["  " + line for line in self.plan.lines()]


def refs_of(d: Directory) -> Refs:
    return Refs(customers=frozenset(c.code for c in (*d.customers.strategic, *d.customers.vip)),
                units=frozenset(u.code for u in d.units), staff=frozenset(s.id for s in d.hq.staff))


def load_plan(path: Path, tz: ZoneInfo, directory: Directory) -> VisitPlan:
    """Read and check a plan file; PlanError lists every problem as ``file: key: message``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PlanError([f"{path}: 无法读取：{e.strerror}"]) from None
    plan = parse_plan(text, str(path), tz)
    problems = check_references(plan, refs_of(directory))
    if problems:
        raise PlanError(problems)
    return plan


def plan_visit(app: App, path: Path, *, dry_run: bool = False) -> VisitChange:
    """`mailbot visit plan FILE.yaml`: record a new visit or a change to one, and queue the notice."""
    plan = load_plan(path, app.tz, app.directory)
    with transaction(app.sessions, dry_run=dry_run) as s:
        return record_visit(app, s, plan, str(path.resolve()))


def cancel_visit(app: App, number: str, *, reason: str | None = None, dry_run: bool = False) -> VisitChange:
    """`mailbot visit cancel VIS-…`: everyone concerned gets METHOD:CANCEL for the same calendar entry."""
    out = Plan()
    with transaction(app.sessions, dry_run=dry_run) as s:
        visit = s.scalar(select(Visit).where(Visit.number == number.strip().upper()))
        if visit is None:
            raise MailbotError(f"没有编号为 {number} 的拜访或来访记录")
        if visit.status == "cancelled":
            return VisitChange(visit.number, "already_cancelled", out)
        if visit.status == "done":
            raise MailbotError(f"{visit.number} 已归档纪要，不能取消")
        plan = stored_plan(visit)
        visit.status, visit.sequence, visit.updated_at = "cancelled", visit.sequence + 1, app.now()
        s.add(VisitNote(visit=visit, at=app.now(), author=BOT, text="取消" + (f"：{reason}" if reason else "")))
        to, cc, names = audience(s, plan, app.directory.reception_addresses())
        _notice(app, s, out, visit, plan, "cancelled", f"visit:{visit.number}:cancel", to, cc, names, reason=reason)
        return VisitChange(visit.number, "cancelled", out)


def with_directory_names(s: Session, plan: VisitPlan) -> VisitPlan:
    """Our attendees named by staff id get name, title and address from the directory (the file may override)."""
    filled = []
    for a in plan.our_attendees:
        if a.staff and (p := people.staff(s, a.staff)) is not None:
            a = replace(a, name=a.name or p.name, title=a.title or p.title, email=a.email or p.email)
        filled.append(a)
    return replace(plan, our_attendees=tuple(filled))


def record_visit(app: App, s: Session, plan: VisitPlan, source: str) -> VisitChange:
    out = Plan()
    now = app.now()
    plan = with_directory_names(s, plan)
    visit = _existing(s, plan, source)
    _check_campaign(s, plan, new=visit is None)
    if visit is None:
        if plan.starts <= now:
            raise PlanError([f"{plan.source}: date: {KINDS[plan.kind]}时间已过，无法登记新的{KINDS[plan.kind]}"])
        visit = Visit(number=_next_number(s, now.astimezone(app.tz).year), sequence=0, status="planned",
                      created_at=now, updated_at=now, source_file=source)
        _apply(s, visit, plan)
        s.add(visit)
        s.flush()
        to, cc, names = audience(s, plan, app.directory.reception_addresses())
        _notice(app, s, out, visit, plan, "new", f"visit:{visit.number}:notice:seq0", to, cc, names)
        log.info("visit %s recorded from %s", visit.number, source)
        return VisitChange(visit.number, "created", out)

    if visit.status != "planned":
        raise PlanError([f"{plan.source}: number: {visit.number} {mails.STATUS_CN[visit.status]}，不能再变更"])
    if visit.ends_at <= now:
        raise PlanError([f"{plan.source}: {visit.number} 已于{mails.when_text(visit.starts_at, visit.ends_at, app.tz)}"
                         f"进行，不再发送变更通知；纪要请回复纪要填报邮件提交"])
    old = stored_plan(visit)
    if essence(old) == essence(plan):
        return VisitChange(visit.number, "unchanged", out)
    reception = app.directory.reception_addresses()
    old_to, old_cc, _ = audience(s, old, reception)
    changes = describe_changes(s, old, plan, app.tz)
    _apply(s, visit, plan)
    visit.sequence += 1
    visit.updated_at = now
    visit.source_file = source
    s.add(VisitNote(visit=visit, at=now, author=BOT, text="变更：" + "；".join(changes)))
    to, cc, names = audience(s, plan, reception)
    key = f"visit:{visit.number}:notice:seq{visit.sequence}"
    _notice(app, s, out, visit, plan, "changed", key, to, cc, names, changes=changes)
    gone = people.unique(old_to + old_cc, besides=to + cc)
    if gone:  # no longer concerned: their calendars drop the entry
        _notice(app, s, out, visit, plan, "removed", key + ":removed", gone, [], names)
    return VisitChange(visit.number, "changed", out)


def stored_plan(visit: Visit) -> VisitPlan:
    """The plan as recorded (columns + details JSON), to compare with a new version of the file."""
    return from_stored(source=visit.source_file or visit.number, number=visit.number, kind=visit.kind,
                       customer=visit.customer.code, topic=visit.topic, starts=visit.starts_at,
                       ends=visit.ends_at, place=visit.place,
                       hq_owner=(visit.hq_owner.staff_key or "") if visit.hq_owner else "",
                       units=json.loads(visit.details).get("unit_order") or [u.code for u in visit.units],
                       details=json.loads(visit.details))


def _existing(s: Session, plan: VisitPlan, source: str) -> Visit | None:
    if plan.number is not None:
        visit = s.scalar(select(Visit).where(Visit.number == plan.number))
        if visit is None:
            raise PlanError([f"{plan.source}: number: 没有编号为 {plan.number} 的记录（新建时请删去 number 一行）"])
        return visit
    return s.scalars(select(Visit).where(Visit.source_file == source, Visit.status == "planned")
                     .order_by(Visit.id.desc())).first()


def _check_campaign(s: Session, plan: VisitPlan, *, new: bool) -> None:
    """A promotion event names a campaign that exists — and, for a new one, is still running."""
    if plan.campaign is None:
        return
    campaign = s.scalar(select(Campaign).where(Campaign.number == plan.campaign))
    if campaign is None:
        raise PlanError([f"{plan.source}: campaign: 没有编号为 {plan.campaign} 的全国性产品及服务方案"])
    if new and campaign.status != "open":
        raise PlanError([f"{plan.source}: campaign: 方案 {plan.campaign} 已结束，不能再安排推广会、见面会"])


def _next_number(s: Session, year: int) -> str:
    prefix = f"VIS-{year}-"
    last = s.scalar(select(func.max(Visit.number)).where(Visit.number.like(prefix + "%")))
    return f"{prefix}{int(last[len(prefix):]) + 1 if last else 1:04d}"


def _apply(s: Session, visit: Visit, plan: VisitPlan) -> None:
    customer = s.scalar(select(Customer).where(Customer.code == plan.customer))
    assert customer is not None, "check_references let an unknown customer through"
    visit.kind, visit.customer, visit.topic, visit.place = plan.kind, customer, plan.topic, plan.place
    visit.starts_at, visit.ends_at = plan.starts, plan.ends
    visit.hq_owner = people.staff(s, plan.hq_owner)
    # The notice lists units in the file's order; the relationship is ordered by code, so keep the order too.
    visit.details = json.dumps({**to_json(plan), "unit_order": list(plan.units)}, ensure_ascii=False)
    visit.units = list(s.scalars(select(Unit).where(Unit.code.in_(plan.units))))
    visit.campaign = (s.scalar(select(Campaign).where(Campaign.number == plan.campaign))
                      if plan.campaign else None)


def audience(s: Session, plan: VisitPlan, reception: list[str]) -> tuple[list[Addr], list[Addr], dict[str, str]]:
    """(to, cc, preparer names): units (+ reception for visits to HQ) in To; HQ owner, HQ attendees, preparers cc."""
    to: list[Addr] = []
    for code in plan.units:
        if (u := people.unit_by_code(s, code)) is not None:
            to += people.contacts(u)
    if plan.kind == "incoming":
        to += [(a, a) for a in reception]
    cc: list[Addr] = []
    if (owner := people.staff(s, plan.hq_owner)) is not None:
        cc.append((owner.name, owner.email))
    for a in plan.our_attendees:
        if a.staff and (p := people.staff(s, a.staff)) is not None:
            cc.append((p.name, p.email))
        elif a.email:
            cc.append((a.name or a.email, a.email))
    names: dict[str, str] = {}
    for c in plan.checklist:
        names[c.preparer], addrs = people.resolve(s, c.preparer)
        cc += addrs
    to = people.unique(to)
    return to, people.unique(cc, besides=to), names


def describe_changes(s: Session, old: VisitPlan, new: VisitPlan, tz: ZoneInfo) -> list[str]:
    """What changed, as the notice's first lines: time and place with old → new, the rest by name."""
    out = []
    for key in changed_keys(old, new):
        if key == "time":
            before, after = (mails.when_text(p.starts, p.ends, tz) for p in (old, new))
            out.append(f"时间由{before}改为{after}")
        elif key in ("place", "topic"):
            out.append(f"{CHANGE_LABELS[key]}由“{getattr(old, key)}”改为“{getattr(new, key)}”")
        elif key == "hq_owner":
            names = [p.name if (p := people.staff(s, x)) else x for x in (old.hq_owner, new.hq_owner)]
            out.append(f"总部对接人由{names[0]}改为{names[1]}")
        else:
            out.append(f"{CHANGE_LABELS.get(key, key)}有调整")
    return out


def invite(visit: Visit, plan: VisitPlan, method: str, attendees: list[Addr], *, organizer: Identity,
           tz: ZoneInfo, now: datetime) -> bytes:
    """This version's .ics: the same UID for the visit's whole life, the visit's current SEQUENCE."""
    c = mails.card(visit, plan, tz)
    lines = [f"{c['kind_title']}：{c['customer']}", f"主题：{visit.topic}", f"总部对接人：{c['hq_owner']}",
             f"所属单位：{c['units']}"]
    if c["campaign"]:
        lines.append(f"推广方案：{c['campaign']}")
    if plan.our_attendees:
        lines.append("我方参加人员：" + "、".join(a.label() for a in plan.our_attendees))
    if plan.customer_attendees:
        lines.append("客方参加人员：" + "、".join(a.label() for a in plan.customer_attendees))
    lines += [f"{st.time} {st.item}".strip() for st in plan.itinerary]
    lines.append(f"编号：{visit.number}（详见通知邮件）")
    title = f"【{KINDS[visit.kind]}】{visit.customer.name}：{visit.topic}"
    return ics.calendar_bytes(ics.Invite(
        uid=ics.uid_for(visit.number, organizer.domain), sequence=visit.sequence, method=method,
        summary=title, description="\n".join(lines), location=visit.place, starts=visit.starts_at.astimezone(tz),
        ends=visit.ends_at.astimezone(tz), stamp=now, organizer=(organizer.display_name, organizer.address),
        attendees=attendees))


def _notice(app: App, s: Session, out: Plan, visit: Visit, plan: VisitPlan, action: str, key: str,
            to: list[Addr], cc: list[Addr], names: dict[str, str], *, changes: list[str] | None = None,
            reason: str | None = None) -> None:
    if not to and not cc:
        log.warning("visit %s: nobody to notify (%s)", visit.number, action)
        return
    method = "CANCEL" if action in ("cancelled", "removed") else "REQUEST"
    data = invite(visit, plan, method, to + cc, organizer=app.identity, tz=app.tz, now=app.now())
    draft = mails.notice_mail(app.department, action, mails.card(visit, plan, app.tz),
                             mails.details(plan, names), to or cc, cc if to else [], data,
                             sequence=visit.sequence, changes=changes or [], reason=reason)
    queue(app, s, out, key, "visit_notice", draft, visit)


def queue(app: App, s: Session, out: Plan, key: str, kind: str, draft: DraftOrRecipe, visit: Visit,
          now: datetime | None = None) -> bool:
    """Queue one visit mail under its idempotency key, pointing at the visit so replies find it."""
    row, created = enqueue(s, key=key, kind=kind, draft=draft, sender=app.identity, now=now or app.now(),
                           visit_id=visit.id)
    if created:
        out.queued.append((key, row.recipients, row.subject))
    return created
