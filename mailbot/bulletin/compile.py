"""Compiling the bulletin (重点客户月报): the PDF under data/bulletins/ and its mail to the bulletin list, once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from sqlalchemy import select

from mailbot.app import App
from mailbot.bulletin.cutoff import Cutoffs, label
from mailbot.bulletin.gather import gather
from mailbot.bulletin.mails import bulletin_mail
from mailbot.bulletin.model import Bulletin, Masthead
from mailbot.bulletin.trends import figures_of
from mailbot.db.models import OutboxMail, Period, ReportRequest
from mailbot.db.session import transaction
from mailbot.domain import due
from mailbot.outbox.queue import Plan
from mailbot.reports.store import ensure_period
from mailbot.settings import BulletinSettings


def run_due(app: App, *, dry_run: bool = False) -> Plan:
    """The calendar's call: the bulletin of a month whose issue day (`bulletin.issue_workday`) has come, once."""
    plan = Plan()
    for d in due.due_on(app.today(), schedule_of(app), app.calendar):
        if d.kind == "bulletin" and bulletin_wanted(app, d.period.key):
            plan.extend(compile_bulletin(app, d.period.key, dry_run=dry_run))
    return plan


def schedule_of(app: App) -> due.Schedule:
    """The app's schedule with the issue day of the `bulletin:` settings (the schedule group does not carry it)."""
    workday = app.settings.bulletin.issue_workday
    return app.schedule if workday is None else replace(app.schedule, bulletin_workday=workday)


def cutoffs_of(app: App) -> Cutoffs:
    """Each issue's cut-off, from the schedule, the working calendar and `bulletin.cutoff`."""
    return Cutoffs(app.tz, schedule_of(app), app.calendar, app.settings.bulletin.cutoff)


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
                   evaluation=app.settings.evaluation, cutoffs=cutoffs_of(app))
        pdf = render_bulletin_pdf(b)
        path = bulletin_path(app, period.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pdf)
        plan.files.append(path)
        if mail:
            key = f"bulletin:{period.key}"
            if resend:
                key += f":{app.now():%Y%m%dT%H%M%S}"
            draft = bulletin_mail(app.department, app.directory.bulletin_addresses(), period.key, pdf, path.name,
                                  cover_stats(b), [u.name for u in b.units if u.status == "missing"],
                                  [u.name for u in b.units if u.status == "late"], decisions(b),
                                  label(b.cutoff or b.generated_at, app.tz))
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


def cover_stats(b: Bulletin) -> dict[str, int]:
    """本期概况 of the cover mail: the figures 一、本月总体情况 states, from the same `MonthFigures`."""
    f = figures_of(b)
    return {"units_total": f.units, "on_time": f.on_time, "late": f.late, "missing": f.missing,
            "customers_reported": sum(bool(c.reported_units) for c in b.customers),
            "risks_major": f.risks_major, "risks_minor": f.risks_minor, "coordination": len(b.coordination),
            "urgent": f.urgent, "requests_opened": f.requests_opened, "requests_answered": f.requests_answered,
            "requests_overdue": len(b.requests.overdue) if b.requests else 0, "late_reports": len(b.late)}


def decisions(b: Bulletin) -> list[str]:
    """二、需决策与协调事项 for the cover mail, one "kinds：matter" line per row of page 1 — the same rows, so
    nobody must open the PDF to know what to act on and the mail never lists what page 1 does not."""
    out = []
    for d in b.decisions:
        said = [f"承办人{d.assignee or '未指定'}"]
        if d.due:
            said.append(f"期限{d.due.month}月{d.due.day}日")
        if d.overdue_days:
            said.append(f"逾期{d.overdue_days}天")
        number = f"{d.number} " if d.number else ""
        out.append(f"{'、'.join(d.kinds)}：{d.customer}（{d.unit_name}）{number}{d.title}（{'，'.join(said)}）")
    return out


def bulletin_wanted(app: App, period_key: str) -> bool:
    """Not yet mailed, and a month mailbot ran (no bulletin of all-missing units for the month before install)."""
    with app.sessions() as s:
        if s.scalar(select(OutboxMail.id).where(OutboxMail.idem_key == f"bulletin:{period_key}")) is not None:
            return False
        return s.scalar(select(ReportRequest.id).join(ReportRequest.period)
                        .where(Period.key == period_key).limit(1)) is not None
