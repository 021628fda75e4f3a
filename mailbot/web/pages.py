"""What each page shows, read through `scope.scoped` with the signed-in viewer, as plain dicts for templates.

Every query of a page that touches units' data is scoped here — the month's units and submissions, one unit's
month and its original mails, the 诉求 board, one 诉求 — so a unit sees its own unit only; a row of another
unit is `None` (the page: 404). The month and the board load in a fixed number of queries (no row loads its
relations one by one): they are the pages everybody opens, 40 units and every 诉求 at once for HQ.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from parsers import CATEGORY_LABELS

from mailbot.app import App
from mailbot.db.models import (
    Customer,
    InboundMessage,
    Period,
    Person,
    ReportRequest,
    Request,
    RequestEvent,
    StrategicEntry,
    Submission,
    Unit,
    VipItem,
)
from mailbot.domain import due
from mailbot.domain.commands import OPEN, STATUS_CN
from mailbot.domain.titles import request_title
from mailbot.requests.mails import ACTION_CN, SOURCE_CN
from mailbot.requests.store import title_of
from mailbot.web.scope import Viewer, scoped

STATE_CN = {"on_time": "按时报送", "late": "逾期报送", "missing": "未报送", "not_yet": "尚未报送"}
COLUMNS = ("new", "in_progress", "awaiting_approval", "answered", "closed")


def reported_months(s: Session, today: date) -> list[str]:
    """The months whose request has gone out, newest first, up to this one: what the month page offers."""
    return list(s.scalars(select(Period.key).where(Period.key <= f"{today:%Y-%m}",
                                                   Period.id.in_(select(ReportRequest.period_id)))
                          .order_by(Period.key.desc())))


def month_page(app: App, s: Session, viewer: Viewer, period_key: str) -> dict[str, Any]:
    """Units × status for one month: whether each was asked, its state, versions and latest receipt.

    Three queries whatever the number of units (units, the month's submissions, its request mails); each unit's
    blocks are on its own page (`unit_month_page`), so the month stays one screen for 40 units.
    """
    period = s.scalar(select(Period).where(Period.key == period_key))
    deadline = period.deadline if period else due.deadline(due.Month.parse(period_key), app.schedule)
    subs: dict[int, list[Any]] = {}
    asked: set[int] = set()
    if period is not None:
        for row in s.execute(scoped(select(Submission.unit_id, Submission.version, Submission.on_time,
                                           Submission.received_at).where(Submission.period_id == period.id),
                                    viewer, Submission.unit_id).order_by(Submission.version)):
            subs.setdefault(row.unit_id, []).append(row)
        asked = set(s.scalars(scoped(select(ReportRequest.unit_id).where(ReportRequest.period_id == period.id),
                                     viewer, ReportRequest.unit_id)))
    late_day = app.today() > deadline
    units = []
    for unit in s.scalars(scoped(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code), viewer, Unit.id)):
        mine = subs.get(unit.id, [])
        if mine:
            state = "on_time" if any(x.on_time for x in mine) else "late"
        else:
            state = "missing" if late_day else "not_yet"
        units.append({"code": unit.code, "name": unit.name, "asked": unit.id in asked, "state": state,
                      "state_cn": STATE_CN[state], "versions": len(mine),
                      "received_at": mine[-1].received_at if mine else None})
    counts = {k: sum(1 for u in units if u["state"] == k) for k in STATE_CN}
    months = [(k, due.Month.parse(k).label) for k in reported_months(s, app.today()) if k != period_key]
    return {"period": period_key, "label": due.Month.parse(period_key).label, "deadline": deadline,
            "units": units, "counts": counts, "state_cn": STATE_CN, "months": months[:12]}


def month_version(s: Session) -> tuple[object, ...]:
    """What the month page is made from, as maxima that grow with every change (see cache.py)."""
    return tuple(s.execute(select(select(func.max(Submission.id)).scalar_subquery(),
                                  select(func.max(ReportRequest.id)).scalar_subquery(),
                                  select(func.max(Period.id)).scalar_subquery())).one())


def unit_month_page(app: App, s: Session, viewer: Viewer, period_key: str, code: str) -> dict[str, Any] | None:
    """One unit's month: every version (the original mail of each), the one in force with its blocks; None when
    the unit is unknown or not the viewer's (the page: 404)."""
    unit = s.scalar(scoped(select(Unit).where(Unit.code == code), viewer, Unit.id))
    if unit is None:
        return None
    subs = list(s.scalars(scoped(select(Submission).join(Period).where(Period.key == period_key,
                                                                       Submission.unit_id == unit.id),
                                 viewer, Submission.unit_id).order_by(Submission.version)
                          .options(selectinload(Submission.strategic).selectinload(StrategicEntry.items),
                                   selectinload(Submission.strategic).joinedload(StrategicEntry.customer),
                                   selectinload(Submission.vip).joinedload(VipItem.customer))))
    return {"period": period_key, "label": due.Month.parse(period_key).label, "unit": {"code": unit.code,
            "name": unit.name}, "versions": [{"id": x.id, "version": x.version, "received_at": x.received_at,
                                              "on_time": x.on_time, "current": x.superseded_by_id is None}
                                             for x in subs],
            "submission": _submission(subs[-1]) if subs else None}


def original_mail(s: Session, viewer: Viewer, submission_id: int) -> tuple[str, bytes] | None:
    """The mail a submission was read from, as it arrived (file name, bytes); None: not the viewer's (404)."""
    sub = s.scalar(scoped(select(Submission).where(Submission.id == submission_id), viewer, Submission.unit_id))
    if sub is None:
        return None
    raw = s.scalar(select(InboundMessage.raw).where(InboundMessage.id == sub.inbound_id))
    return f"{sub.unit.code}-{sub.period.key}-v{sub.version}.eml", raw or b""


def _submission(sub: Submission) -> dict[str, Any]:
    return {
        "version": sub.version, "received_at": sub.received_at, "on_time": sub.on_time,
        "reporter": sub.reporter_name, "phone": sub.reporter_phone, "urgent_text": sub.urgent_text,
        "strategic": [{"customer": f"{e.customer.code} {e.customer.name}", "risk": e.risk, "needs_hq": e.needs_hq,
                       "fields": [{"label": f"{i.category}. {CATEGORY_LABELS[i.category]}", "text": i.text}
                                 for i in e.items]} for e in sub.strategic],
        "vip": [{"customer": f"{v.customer.code} {v.customer.name}", "issue": v.issue, "handling": v.handling,
                 "needs_hq": v.needs_hq} for v in sub.vip],
    }


def board_page(app: App, s: Session, viewer: Viewer, *, assignee: str = "", unit: str = "", customer: str = "",
               include_closed: bool = False) -> dict[str, Any]:
    """The 诉求 in columns by status, overdue first in each; filters by 承办人 (e-mail), unit and customer (codes).

    One query of plain columns for the cards (no ORM objects: this is the page HQ reloads all day)."""
    now = app.now()
    owner = aliased(Person)
    q = scoped(select(Request.number, Request.title, Request.text, Request.status, Request.source, Request.urgent,
                      Request.due_at, Unit.name.label("unit"), Customer.code, Customer.name.label("customer"),
                      owner.name.label("assignee"))
               .outerjoin(Unit, Request.unit_id == Unit.id).outerjoin(Customer, Request.customer_id == Customer.id)
               .outerjoin(owner, Request.assignee_id == owner.id), viewer, Request.unit_id)
    if not include_closed:
        q = q.where(Request.status.in_((*OPEN, "answered")))
    if assignee:
        q = q.where(owner.email == assignee)
    if unit:
        q = q.where(Unit.code == unit)
    if customer:
        q = q.where(Customer.code == customer.strip().upper())
    cards = [_card(now, number=r.number, title=r.title or request_title(r.text), status=r.status, source=r.source,
                   urgent=r.urgent, unit=r.unit, customer=f"{r.code} {r.customer}" if r.code else "",
                   assignee=r.assignee, due_at=r.due_at)
             for r in s.execute(q.order_by(Request.due_at, Request.id))]
    cards.sort(key=lambda c: (not c.overdue, c.due_at or datetime.max.replace(tzinfo=now.tzinfo)))
    columns = [{"status": st, "status_cn": STATUS_CN[st], "cards": [c for c in cards if c.status == st]}
               for st in COLUMNS if include_closed or st != "closed"]
    units = s.execute(scoped(select(Unit.code, Unit.name).where(Unit.active.is_(True)).order_by(Unit.code),
                             viewer, Unit.id))
    staff = s.execute(select(Person.email, Person.name).where(Person.role == "hq", Person.active.is_(True))
                      .order_by(Person.id))
    return {"columns": columns, "count": len(cards), "assignee": assignee, "unit": unit, "customer": customer,
            "include_closed": include_closed, "units": [{"code": u.code, "name": u.name} for u in units],
            "staff": [{"email": p.email, "name": p.name} for p in staff]}


@dataclass(frozen=True, slots=True)
class Card:
    """One 诉求 on the board (attributes, not a dict: the template reads thousands of them)."""

    number: str
    title: str
    status: str
    status_cn: str
    source_cn: str
    urgent: bool
    unit: str
    customer: str
    assignee: str
    due_at: datetime | None
    overdue: bool
    overdue_days: int


def board_version(s: Session) -> tuple[object, ...]:
    """What the board is made from: every change to a 诉求 writes a history row (requests.store.add_event)."""
    return tuple(s.execute(select(select(func.max(RequestEvent.id)).scalar_subquery(),
                                  select(func.max(Request.id)).scalar_subquery())).one())


def _card(now: datetime, *, number: str, title: str, status: str, source: str, urgent: bool, unit: str | None,
          customer: str, assignee: str | None, due_at: datetime | None) -> Card:
    overdue = bool(due_at and due_at < now and status in ("new", "in_progress"))
    return Card(number=number, title=title, status=status, status_cn=STATUS_CN[status],
                source_cn=SOURCE_CN.get(source, source), urgent=urgent, unit=unit or "", customer=customer,
                assignee=assignee or "", due_at=due_at, overdue=overdue,
                overdue_days=(now - due_at).days if overdue and due_at else 0)


def _card_of(r: Request, now: datetime) -> Card:
    return _card(now, number=r.number, title=title_of(r), status=r.status, source=r.source, urgent=r.urgent,
                 unit=r.unit.name if r.unit else None,
                 customer=f"{r.customer.code} {r.customer.name}" if r.customer else "",
                 assignee=r.assignee.name if r.assignee else None, due_at=r.due_at)


def request_page(app: App, s: Session, viewer: Viewer, number: str) -> dict[str, Any] | None:
    """One 诉求 with its text and history; None when it does not exist or is another unit's."""
    r = s.scalar(scoped(select(Request).where(Request.number == number), viewer, Request.unit_id))
    if r is None:
        return None
    web = _web_rows(s, r)
    return {**asdict(_card_of(r, app.now())), "text": r.text, "answer": r.answer, "answered_at": r.answered_at,
            "created_at": r.created_at, "category": f"{r.category}. {CATEGORY_LABELS[r.category]}"
            if r.category else "",
            "history": [{"at": e.at, "actor": e.actor, "action_cn": ACTION_CN.get(e.action, e.action),
                         "detail": e.detail, "web": e.inbound_id in web} for e in r.events]}


def _web_rows(s: Session, r: Request) -> set[int | None]:
    """The history's entries made on the board (their command is an inbound row of mailbox `web`)."""
    ids = {e.inbound_id for e in r.events if e.inbound_id is not None}
    return set(s.scalars(select(InboundMessage.id).where(InboundMessage.id.in_(ids),
                                                         InboundMessage.mailbox == "web"))) if ids else set()
