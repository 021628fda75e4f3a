"""The customer archive on the board: the list (search by code, name or alias), one customer's timeline, and its
dossier PDF — the archive's own `gather_archive` and `render_dossier_pdf`, never a second copy of them.

A unit sees only the customers it serves, and of each only its own rows: `for_unit` takes the archive as gathered
and keeps what the unit reported, the 诉求 it raised, the visits it took part in, the survey answers it filled in
(or the customer gave directly) and its campaign events, with the counts made again from what is kept — so the
page and the PDF a unit downloads say the same, and nothing of another unit's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.archive.dossier import KIND_CN, CustomerArchive, Month, gather_archive, render_dossier_pdf
from mailbot.db.models import Customer, Unit, UnitCustomer
from mailbot.web.scope import Viewer, scoped_via

MAX_QUERY = 50
MAX_ROWS = 200


def visible_customers(viewer: Viewer) -> Select[Any]:
    """Every customer for HQ (a former one's archive too); a unit's: those it serves (directory.yaml)."""
    return scoped_via(select(Customer), viewer, Customer.id, UnitCustomer.customer_id, UnitCustomer.unit_id)


def customers_page(s: Session, viewer: Viewer, query: str) -> dict[str, Any]:
    """The customers the viewer may see, those matching `query` (code, name or alias; any case) when given."""
    q = visible_customers(viewer).where(Customer.active.is_(True))
    text = query.strip()[:MAX_QUERY]
    if text:
        like = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(or_(*(func.lower(column).like(like, escape="\\")
                          for column in (Customer.code, Customer.name, func.coalesce(Customer.aliases, "")))))
    rows = list(s.scalars(q.order_by(Customer.code).limit(MAX_ROWS)))
    return {"query": text, "customers": [
        {"code": c.code, "name": c.name, "kind": KIND_CN.get(c.kind, c.kind),
         "hq_staff": c.hq_staff.name if c.hq_staff else "", "units": "、".join(u.name for u in c.units if u.active)}
        for c in rows]}


def customer_archive_for(app: App, s: Session, viewer: Viewer, code: str) -> CustomerArchive | None:
    """The archive as the viewer may see it; None when the customer is unknown or not theirs (the page: 404)."""
    code = code.strip().upper()
    if s.scalar(visible_customers(viewer).where(Customer.code == code)) is None:
        return None
    archive = gather_archive(s, code, now=app.now(), tz=app.tz, department=app.department)
    if archive is None or viewer.is_hq:
        return archive
    unit = s.get(Unit, viewer.unit_id)
    return for_unit(archive, unit.name) if unit is not None else None


def for_unit(a: CustomerArchive, unit: str) -> CustomerArchive:
    """The archive with only `unit`'s rows, its counts made again from them (pure)."""
    months = []
    for m in a.months:
        kept = replace(
            m,
            reports=tuple(replace(c, lines=tuple(x for x in c.lines if x.unit == unit)) for c in m.reports
                          if any(x.unit == unit for x in c.lines)),
            assessments=tuple(x for x in m.assessments if x.unit == unit),
            requests=tuple(r for r in m.requests if r.unit == unit),
            visits=tuple(v for v in m.visits if unit in v.units),
            surveys=tuple(sv for sv in m.surveys if sv.filled_by in (None, unit)),
            campaigns=tuple(ev for ev in m.campaigns if ev.unit == unit))
        if _has_rows(kept):
            months.append(kept)
    requests = [r for m in months for r in m.requests]
    follow_ups = [f for m in months for v in m.visits for f in v.follow_ups]
    return replace(a, units=(unit,), months=tuple(months),
                   open_follow_ups=tuple(f for f in a.open_follow_ups if f in follow_ups),
                   open_requests=tuple(r for r in a.open_requests if r in requests),
                   report_months=sum(1 for m in months if m.reports or m.assessments),
                   requests_total=len(requests), visits_total=sum(len(m.visits) for m in months),
                   follow_ups_total=len(follow_ups))


def _has_rows(m: Month) -> bool:
    return bool(m.reports or m.assessments or m.requests or m.visits or m.surveys or m.campaigns)


def dossier_pdf(a: CustomerArchive) -> tuple[str, bytes]:
    """The dossier's file name and bytes, rendered by the archive's own code."""
    return f"客户档案-{a.code}-{a.generated_at:%Y%m%d}.pdf", render_dossier_pdf(a)
