"""The customer archive (客户档案, §7.1.4, §7.2.3): one customer's whole history, newest month first.

`mailbot customer S001` prints it; `--pdf` renders the same facts as a
dossier to take into a meeting. Three steps, each replaceable alone:

    gather_archive   database → `CustomerArchive` (frozen data, times in the configured zone)
    render_timeline_text / render_dossier_html   layout only
    render_dossier_pdf   through `mailbot.render.pdf.render_pdf`, which fetches no URL

A month holds what units reported on the customer in that period's monthly
report (by §8.1.1 category; only the submission in force counts), the
requests (诉求) opened that month, and the visits that took place that month
with their summary, follow-up actions and every progress note — so a
follow-up reported done in a later month still reads under its visit.
On top stand what is open now: follow-ups and requests. Text in the archive
is what people wrote; the PDF template escapes it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from parsers import CATEGORY_LABELS

from mailbot.app import App
from mailbot.campaigns.history import CampaignEvent, customer_campaigns
from mailbot.db.models import (
    Customer,
    FollowUp,
    Person,
    Request,
    StrategicEntry,
    Submission,
    VipItem,
    Visit,
    VisitNote,
)
from mailbot.domain.commands import OPEN, STATUS_CN
from mailbot.errors import MailbotError
from mailbot.render.pdf import pdf_html, render_pdf
from mailbot.requests.mails import SOURCE_CN
from mailbot.surveys.results import CustomerAnswer, customer_answers
from mailbot.visits.mails import FOLLOW_UP_CN, when_text
from mailbot.visits.mails import STATUS_CN as VISIT_STATUS_CN
from mailbot.visits.plan import Attendee
from mailbot.visits.summary_form import follow_up_ref

KIND_CN = {"strategic": "战略客户", "vip": "VIP客户"}
VISIT_KIND_CN = {"outgoing": "拜访客户", "incoming": "客户来访"}


@dataclass(frozen=True)
class ReportLine:
    unit: str
    text: str


@dataclass(frozen=True)
class ReportCategory:
    number: int
    label: str
    lines: tuple[ReportLine, ...]


@dataclass(frozen=True)
class Assessment:
    """A unit's 风险等级 / 需总部协调 answers (strategic), or its VIP block."""

    unit: str
    risk: str | None
    needs_hq: bool | None
    issue: str | None = None      # VIP only
    handling: str | None = None   # VIP only


@dataclass(frozen=True)
class RequestEntry:
    number: str
    created_at: datetime
    status: str
    open: bool
    unit: str | None
    source: str
    category: str | None
    text: str
    assignee: str | None
    answer: str | None
    answered_at: datetime | None
    overdue_days: int


@dataclass(frozen=True)
class Note:
    at: datetime
    author: str
    text: str


@dataclass(frozen=True)
class FollowUpEntry:
    ref: str
    visit_number: str
    text: str
    owner: str
    due: date | None
    status: str
    open: bool
    done_at: datetime | None
    overdue_days: int
    notes: tuple[Note, ...]


@dataclass(frozen=True)
class VisitEntry:
    number: str
    kind: str                  # 拜访客户 | 客户来访
    topic: str
    starts_at: datetime
    when: str
    place: str
    status: str
    hq_owner: str | None
    units: tuple[str, ...]
    customer_attendees: tuple[str, ...]
    our_attendees: tuple[str, ...]
    summary: str | None
    agreed: str | None
    summary_at: datetime | None
    follow_ups: tuple[FollowUpEntry, ...]
    notes: tuple[Note, ...]    # about the visit itself: changes, comments, the summary being filed


@dataclass(frozen=True)
class Month:
    key: str                   # 2026-11
    label: str                 # 2026年11月
    reports: tuple[ReportCategory, ...]
    assessments: tuple[Assessment, ...]
    requests: tuple[RequestEntry, ...]
    visits: tuple[VisitEntry, ...]
    surveys: tuple[CustomerAnswer, ...] = ()   # satisfaction survey answers received that month
    campaigns: tuple[CampaignEvent, ...] = ()  # campaign events that month: targeted, feedback on it


@dataclass(frozen=True)
class CustomerArchive:
    code: str
    name: str
    kind: str                  # 战略客户 | VIP客户
    hq_staff: str | None
    units: tuple[str, ...]
    department: str
    generated_at: datetime
    months: tuple[Month, ...]  # newest first
    open_follow_ups: tuple[FollowUpEntry, ...]
    open_requests: tuple[RequestEntry, ...]
    report_months: int
    requests_total: int
    visits_total: int
    follow_ups_total: int


# --- gather -------------------------------------------------------------------------------------


def customer_archive(app: App, code: str) -> CustomerArchive:
    """The archive of one customer, for the CLI; MailbotError when the code is unknown."""
    with app.sessions() as s:
        archive = gather_archive(s, code.strip().upper(), now=app.now(), tz=app.tz,
                                 department=app.department)
    if archive is None:
        raise MailbotError(f"没有代码为 {code} 的客户（见 config/directory.yaml）")
    return archive


def gather_archive(s: Session, code: str, *, now: datetime, tz: ZoneInfo, department: str) -> CustomerArchive | None:
    c = s.scalar(select(Customer).where(Customer.code == code).options(selectinload(Customer.units)))
    if c is None:
        return None
    names = {p.email: p.name for p in s.scalars(select(Person))}
    today = now.astimezone(tz).date()
    cats: dict[str, dict[int, list[ReportLine]]] = defaultdict(lambda: defaultdict(list))
    assessments: dict[str, list[Assessment]] = defaultdict(list)
    periods: set[str] = set()

    for e in s.scalars(select(StrategicEntry).join(StrategicEntry.submission)
                       .where(StrategicEntry.customer_id == c.id, Submission.superseded_by_id.is_(None))
                       .options(selectinload(StrategicEntry.items))):
        key, unit = e.submission.period.key, e.submission.unit.name
        periods.add(key)
        for item in e.items:
            cats[key][item.category].append(ReportLine(unit, item.text))
        if e.risk or e.needs_hq is not None:
            assessments[key].append(Assessment(unit, e.risk, e.needs_hq))
    for vi in s.scalars(select(VipItem).join(VipItem.submission)
                        .where(VipItem.customer_id == c.id, Submission.superseded_by_id.is_(None))):
        key = vi.submission.period.key
        periods.add(key)
        assessments[key].append(Assessment(vi.submission.unit.name, None, vi.needs_hq, vi.issue, vi.handling))

    requests: dict[str, list[RequestEntry]] = defaultdict(list)
    all_requests = []
    for r in s.scalars(select(Request).where(Request.customer_id == c.id).order_by(Request.created_at, Request.id)):
        req = _request(r, now, tz)
        all_requests.append(req)
        requests[_month(r.created_at, tz)].append(req)

    visits: dict[str, list[VisitEntry]] = defaultdict(list)
    follow_ups: list[FollowUpEntry] = []
    for v in s.scalars(select(Visit).where(Visit.customer_id == c.id).order_by(Visit.starts_at, Visit.id)
                       .options(selectinload(Visit.follow_ups), selectinload(Visit.notes))):
        entry = _visit(v, names, today, tz)
        follow_ups += entry.follow_ups
        visits[_month(v.starts_at, tz)].append(entry)

    surveys: dict[str, list[CustomerAnswer]] = defaultdict(list)
    for answer in customer_answers(s, c.id):
        surveys[_month(answer.received_at, tz)].append(replace(answer, received_at=answer.received_at.astimezone(tz)))

    campaigns: dict[str, list[CampaignEvent]] = defaultdict(list)
    for event in customer_campaigns(s, c.id):
        campaigns[_month(event.at, tz)].append(replace(event, at=event.at.astimezone(tz)))

    keys = sorted(periods | set(requests) | set(visits) | set(surveys) | set(campaigns), reverse=True)
    months = tuple(Month(
        key=k, label=f"{int(k[:4])}年{int(k[5:])}月",
        reports=tuple(ReportCategory(n, CATEGORY_LABELS[n], tuple(lines)) for n, lines in sorted(cats[k].items())),
        assessments=tuple(assessments[k]), requests=tuple(requests[k]), visits=tuple(visits[k]),
        surveys=tuple(surveys[k]), campaigns=tuple(campaigns[k])) for k in keys)
    return CustomerArchive(
        code=c.code, name=c.name, kind=KIND_CN.get(c.kind, c.kind), hq_staff=c.hq_staff.name if c.hq_staff else None,
        units=tuple(u.name for u in c.units), department=department, generated_at=now.astimezone(tz), months=months,
        open_follow_ups=tuple(sorted((f for f in follow_ups if f.open), key=lambda f: (f.due or date.max, f.ref))),
        open_requests=tuple(r for r in all_requests if r.open), report_months=len(periods),
        requests_total=len(all_requests), visits_total=sum(len(v) for v in visits.values()),
        follow_ups_total=len(follow_ups))


def _month(t: datetime, tz: ZoneInfo) -> str:
    return f"{t.astimezone(tz):%Y-%m}"


def _request(r: Request, now: datetime, tz: ZoneInfo) -> RequestEntry:
    late = (now - r.due_at).days if r.due_at and r.due_at < now and r.status in ("new", "in_progress") else 0
    return RequestEntry(
        number=r.number, created_at=r.created_at.astimezone(tz), status=STATUS_CN.get(r.status, r.status),
        open=r.status in OPEN, unit=r.unit.name if r.unit else None, source=SOURCE_CN.get(r.source, r.source),
        category=f"{r.category}. {CATEGORY_LABELS[r.category]}" if r.category in CATEGORY_LABELS else None,
        text=r.text, assignee=r.assignee.name if r.assignee else None, answer=r.answer,
        answered_at=r.answered_at.astimezone(tz) if r.answered_at else None, overdue_days=max(late, 0))


def _visit(v: Visit, names: dict[str, str], today: date, tz: ZoneInfo) -> VisitEntry:
    def note(n: VisitNote) -> Note:
        return Note(at=n.at.astimezone(tz), author="系统" if n.author == "mailbot" else names.get(n.author, n.author),
                    text=n.text)

    details = json.loads(v.details)
    fus = []
    for i, f in enumerate(v.follow_ups, 1):
        fus.append(_follow_up(f, follow_up_ref(v.number, i), tuple(note(n) for n in v.notes if n.follow_up_id == f.id),
                              today, tz))
    return VisitEntry(
        number=v.number, kind=VISIT_KIND_CN.get(v.kind, v.kind), topic=v.topic, starts_at=v.starts_at.astimezone(tz),
        when=when_text(v.starts_at, v.ends_at, tz), place=v.place, status=VISIT_STATUS_CN.get(v.status, v.status),
        hq_owner=v.hq_owner.name if v.hq_owner else None, units=tuple(u.name for u in v.units),
        customer_attendees=tuple(Attendee(**a).label() for a in details.get("customer_attendees", [])),
        our_attendees=tuple(Attendee(**a).label() for a in details.get("our_attendees", [])),
        summary=v.summary, agreed=v.agreed, summary_at=v.summary_at.astimezone(tz) if v.summary_at else None,
        follow_ups=tuple(fus), notes=tuple(note(n) for n in v.notes if n.follow_up_id is None))


def _follow_up(f: FollowUp, ref: str, notes: tuple[Note, ...], today: date, tz: ZoneInfo) -> FollowUpEntry:
    late = (today - f.due).days if f.due and f.status == "open" and f.due < today else 0
    return FollowUpEntry(ref=ref, visit_number=ref.rsplit("-", 1)[0], text=f.text, owner=f.owner, due=f.due,
                         status=FOLLOW_UP_CN.get(f.status, f.status), open=f.status == "open",
                         done_at=f.done_at.astimezone(tz) if f.done_at else None, overdue_days=late, notes=notes)


# --- text ---------------------------------------------------------------------------------------


def day(d: date | datetime) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def stamp(t: datetime) -> str:
    return f"{day(t)} {t:%H:%M}"


def _indent(text: str, pad: str) -> list[str]:
    return [pad + line for line in text.splitlines()] or [pad]


def _fu_line(f: FollowUpEntry) -> str:
    due = f"{day(f.due)}前" if f.due else "未定期限"
    state = f"已完成（{day(f.done_at)}）" if f.done_at else f"逾期{f.overdue_days}天" if f.overdue_days else f.status
    return f"{f.ref}　{f.text}　责任人：{f.owner}　{due}　{state}"


def _request_line(r: RequestEntry) -> str:
    late = f"，逾期{r.overdue_days}天" if r.overdue_days else ""
    return f"{r.number}（{r.status}{late}）　{r.unit or '—'}　{r.source}　{day(r.created_at)}"


def render_timeline_text(a: CustomerArchive) -> str:
    """The archive as plain text for the terminal (and for a quick copy into a mail)."""
    out = [f"客户档案　{a.code} {a.name}（{a.kind}）",
           f"总部对接人：{a.hq_staff or '未指定'}　所属单位：{'、'.join(a.units) or '无'}",
           f"生成时间：{stamp(a.generated_at)}　{a.department}",
           f"月报 {a.report_months} 期 · 诉求 {a.requests_total} 件（未办结 {len(a.open_requests)}）"
           f" · 拜访/来访 {a.visits_total} 次 · 后续事项 {a.follow_ups_total} 项（未完成 {len(a.open_follow_ups)}）", ""]
    out.append("当前待办")
    if not a.open_follow_ups and not a.open_requests:
        out.append("  无")
    out += [f"  后续事项 {_fu_line(f)}" for f in a.open_follow_ups]
    out += [f"  诉求 {_request_line(r)}：{r.text.splitlines()[0] if r.text else ''}" for r in a.open_requests]
    for m in a.months:
        out += ["", f"━━ {m.label} ━━"]
        if m.reports or m.assessments:
            out.append("【月报】")
            for cat in m.reports:
                out.append(f"  {cat.number}. {cat.label}")
                for line in cat.lines:
                    out += _indent(f"· {line.unit}：{line.text}", "     ")
            for x in m.assessments:
                if x.issue is not None or x.handling is not None:
                    out += _indent(f"{x.unit} 问题或诉求：{x.issue or '无'}", "  ")
                    out += _indent(f"本单位处理情况：{x.handling or '无'}", "    ")
                bits = [f"风险等级 {x.risk}" if x.risk else "", "需总部协调" if x.needs_hq else ""]
                if any(bits):
                    out.append(f"  {x.unit}：{'，'.join(b for b in bits if b)}")
        for r in m.requests:
            out.append(f"【诉求】{_request_line(r)}")
            out += _indent(r.text, "    ")
            if r.answer:
                out += _indent(f"答复（{day(r.answered_at) if r.answered_at else ''}）：{r.answer}", "    ")
        for v in m.visits:
            out.append(f"【{v.kind}】{v.number}　{v.when}　{v.topic}（{v.status}）")
            out.append(f"    地点：{v.place}　总部对接人：{v.hq_owner or '未指定'}　所属单位：{'、'.join(v.units)}")
            if v.summary:
                out += ["    会谈纪要："] + _indent(v.summary, "      ")
                out += ["    达成事项："] + _indent(v.agreed or "无", "      ")
            if v.follow_ups:
                out.append("    后续事项：")
                for f in v.follow_ups:
                    out.append(f"      {_fu_line(f)}")
                    for n in f.notes:
                        out += _indent(f"{stamp(n.at)} {n.author}：{n.text}", "        ")
            for n in v.notes:
                out += _indent(f"{stamp(n.at)} {n.author}：{n.text}", "    · ")
        for sv in m.surveys:
            out.append(f"【满意度调查】{sv.number}　{sv.title}　{day(sv.received_at)}答复{_survey_note(sv)}")
            for answer in sv.answers:
                out += _indent(f"{answer['number']}. {answer['question']}：{answer['answer']}", "    ")
        for ev in m.campaigns:
            out.append(f"【推广方案】{ev.number}　{ev.title}　{ev.unit}　{day(ev.at)}{_campaign_note(ev)}")
            if ev.version is not None:
                out.append(f"    进展阶段：{ev.stage_line}")
            for label, said in ev.lines:
                out += _indent(f"{label}：{said}", "    ")
            if ev.request:
                out.append(f"    已转总部办理：诉求编号 {ev.request}")
    return "\n".join(out) + "\n"


def _campaign_note(ev: CampaignEvent) -> str:
    return f"反馈（第{ev.version}版）" if ev.version is not None else ev.stage_line


def _survey_note(sv: CustomerAnswer) -> str:
    bits = [f"第{sv.version}版" if sv.version > 1 else "", f"{sv.filled_by}代填" if sv.filled_by else "",
            "逾期" if sv.late else ""]
    return f"（{'，'.join(b for b in bits if b)}）" if any(bits) else ""


# --- PDF ----------------------------------------------------------------------------------------


def dossier_path(app: App, a: CustomerArchive) -> Path:
    """Where `mailbot customer S001 --pdf` writes by default: data/archives/客户档案-S001-20261221.pdf."""
    return app.settings.path(app.settings.data_dir) / "archives" / f"客户档案-{a.code}-{a.generated_at:%Y%m%d}.pdf"


def write_dossier(app: App, code: str, out: Path | None = None) -> Path:
    """Render one customer's dossier PDF to `out` (default `dossier_path`); returns the path written."""
    a = customer_archive(app, code)
    path = out or dossier_path(app, a)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_dossier_pdf(a))
    return path


def render_dossier_html(a: CustomerArchive) -> str:
    return pdf_html("dossier.html.j2", ("dossier.css",), a=a)


def render_dossier_pdf(a: CustomerArchive) -> bytes:
    return render_pdf(render_dossier_html(a))
