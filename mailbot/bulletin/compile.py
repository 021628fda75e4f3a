"""Compiling the bulletin (重点客户月报): the PDF under data/bulletins/ and its mail to the bulletin list, once.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select

from mailbot.app import App
from mailbot.bulletin.gather import gather
from mailbot.bulletin.mails import bulletin_mail
from mailbot.bulletin.model import Bulletin, Masthead
from mailbot.db.models import OutboxMail, Period, ReportRequest
from mailbot.db.session import transaction
from mailbot.domain import due
from mailbot.domain.commands import STATUS_CN
from mailbot.outbox.queue import Plan
from mailbot.reports.store import ensure_period
from mailbot.settings import BulletinSettings


def run_due(app: App, *, dry_run: bool = False) -> Plan:
    """The calendar's call: the bulletin of a month whose deadline has passed, once."""
    plan = Plan()
    for d in due.due_on(app.today(), app.schedule, app.calendar):
        if d.kind == "bulletin" and bulletin_wanted(app, d.period.key):
            plan.extend(compile_bulletin(app, d.period.key, dry_run=dry_run))
    return plan


def bulletin_path(app: App, period_key: str) -> Path:
    return app.settings.path(app.settings.data_dir) / "bulletins" / f"重点客户月报-{period_key}.pdf"


def compile_bulletin(app: App, period_key: str, *, dry_run: bool = False, mail: bool = True,
                     resend: bool = False) -> Plan:
    """Render the month's bulletin PDF and mail it to the bulletin list (once, unless `resend`)."""
    from mailbot.bulletin.render import render_bulletin_pdf

    plan = Plan()
    with transaction(app.sessions, dry_run=dry_run) as s:
        period = ensure_period(s, period_key, app.schedule)
        issued_on = app.now().astimezone(app.tz).date()
        b = gather(s, period, department=app.department, tz=app.tz, now=app.now(), schedule=app.schedule,
                   masthead=masthead(period.key, app.settings.bulletin, app.department, issued_on),
                   evaluation=app.settings.evaluation)
        pdf = render_bulletin_pdf(b)
        path = bulletin_path(app, period.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pdf)
        plan.files.append(path)
        if mail:
            key = f"bulletin:{period.key}"
            if resend:
                key += f":{app.now():%Y%m%dT%H%M%S}"
            stats = {"units_total": len(b.units),
                     "on_time": sum(u.status == "on_time" for u in b.units),
                     "late": sum(u.status == "late" for u in b.units),
                     "missing": sum(u.status == "missing" for u in b.units),
                     "customers_reported": sum(bool(c.reported_units) for c in b.customers),
                     "risks_major": sum(r.level == "重大" for r in b.risks),
                     "coordination": len(b.coordination), "urgent": len(b.urgent)}
            draft = bulletin_mail(app.department, app.directory.bulletin_addresses(),
                                        period.key, pdf, path.name, stats,
                                        [u.name for u in b.units if u.status == "missing"],
                                        [u.name for u in b.units if u.status == "late"], decisions(b))
            plan.queue(s, key, "bulletin", draft, sender=app.identity, now=app.now())
    return plan


def masthead(period_key: str, cfg: BulletinSettings, department: str, issued_on: date) -> Masthead:
    """The masthead of `period_key`'s issue: 2026年第N期 counted within the year from the first issue."""
    year, n, total = issue_numbers(period_key, cfg.first_issue)
    return Masthead(group=cfg.group, title=cfg.title, department=department, year=year, issue=n, total_issue=total,
                    issued_on=issued_on, classification=cfg.classification, editor=cfg.editor,
                    reviewer=cfg.reviewer, issuer=cfg.issuer, distribution=cfg.distribution)


def issue_numbers(period_key: str, first_issue: str | None) -> tuple[int, int, int]:
    """(year, N of the year, 总第M期) for a month. With no first issue, January is each year's 第1期 and M is 0;
    a month before the first issue counts as 第1期 (a bulletin compiled by hand for a month before go-live)."""
    m = due.Month.parse(period_key)
    index = m.year * 12 + m.month - 1
    if first_issue is None:
        return m.year, m.month, 0
    f = due.Month.parse(first_issue)
    start = max(f.year * 12 + f.month - 1, m.year * 12)  # the count restarts each January
    return m.year, max(index - start, 0) + 1, max(index - (f.year * 12 + f.month - 1), 0) + 1


def decisions(b: Bulletin) -> list[str]:
    """What needs the leaders, one line each, for the cover mail: every 重大 risk (urgent reports included), every
    诉求 awaiting group review and every overdue one — with customer, unit or 承办人, so nobody must open the PDF to
    know what to act on."""
    out = [f"重大风险：{r.customer_code} {r.customer_name}（{r.unit_name}）{r.text}" for r in b.risks if r.level == "重大"]
    if b.requests is not None:
        review = [x for x in (*b.requests.opened, *b.requests.overdue) if x.status == STATUS_CN["awaiting_approval"]]
        for x in dict.fromkeys(review):
            out.append(f"待集团审议：{x.number} {x.customer_name or x.unit_name or ''}：{x.text}（承办人{x.assignee or '未指定'}）")
        for x in b.requests.overdue:
            out.append(f"逾期诉求：{x.number} {x.customer_name or x.unit_name or ''}：{x.text}"
                       f"（承办人{x.assignee or '未指定'}，逾期{x.overdue_days}天）")
    return out


def bulletin_wanted(app: App, period_key: str) -> bool:
    """Not yet mailed, and a month mailbot ran (no bulletin of all-missing units for the month before install)."""
    with app.sessions() as s:
        if s.scalar(select(OutboxMail.id).where(OutboxMail.idem_key == f"bulletin:{period_key}")) is not None:
            return False
        return s.scalar(select(ReportRequest.id).join(ReportRequest.period)
                        .where(Period.key == period_key).limit(1)) is not None
