"""`mailbot requests`: the open requests, overdue ones marked, as a table or JSON.
"""

from __future__ import annotations

from sqlalchemy import select
from mailbot.app import App
from mailbot.db.models import Request
from mailbot.domain.commands import OPEN, STATUS_CN


def pad(text: str, width: int) -> str:
    """Left-justify in a terminal, where a CJK character takes two columns."""
    cols = sum(2 if ord(c) >= 0x2E80 else 1 for c in text)
    return text + " " * max(width - cols, 1)


def list_requests(app: App, *, assignee: str | None = None, unit: str | None = None, customer: str | None = None,
                  overdue_only: bool = False, include_closed: bool = False) -> list[dict[str, object]]:
    """Requests as rows for `mailbot requests` (a table, or --json)."""
    now = app.now()
    rows: list[dict[str, object]] = []
    with app.sessions() as s:
        q = select(Request).order_by(Request.due_at, Request.id)
        if not include_closed:
            q = q.where(Request.status.in_(OPEN))
        for r in s.scalars(q):
            overdue = bool(r.due_at and r.due_at < now and r.status in ("new", "in_progress"))
            if overdue_only and not overdue:
                continue
            if assignee and not (r.assignee and assignee in (r.assignee.email, r.assignee.staff_key, r.assignee.name)):
                continue
            if unit and not (r.unit and r.unit.code == unit):
                continue
            if customer and not (r.customer and r.customer.code == customer):
                continue
            rows.append({"number": r.number, "status": r.status, "status_cn": STATUS_CN[r.status],
                         "source": r.source, "unit": r.unit.code if r.unit else None,
                         "customer": r.customer.code if r.customer else None,
                         "assignee": r.assignee.email if r.assignee else None,
                         "created_at": r.created_at.astimezone(app.tz).isoformat(timespec="minutes"),
                         "due_at": r.due_at.astimezone(app.tz).isoformat(timespec="minutes") if r.due_at else None,
                         "overdue_days": (now - r.due_at).days if overdue and r.due_at else 0,
                         "text": r.text})
    return rows


def render_requests(rows: list[dict[str, object]]) -> str:
    if not rows:
        return "no requests"
    out = [f"{'number':<14}{pad('status', 12)}{'due':<12}{'late':<6}{'unit':<6}{'cust':<6}{'assignee':<26}matter"]
    for r in rows:
        late = f"{r['overdue_days']}d" if r["overdue_days"] else ""
        text = str(r["text"]).replace("\n", " ")
        out.append(f"{r['number']:<14}{pad(str(r['status_cn']), 12)}{str(r['due_at'] or '')[:10]:<12}{late:<6}"
                   f"{r['unit'] or '':<6}{r['customer'] or '':<6}{str(r['assignee'] or ''):<26}"
                   f"{text[:30]}{'…' if len(text) > 30 else ''}")
    return "\n".join(out)
