"""The evaluation's arithmetic: each unit's measures, their 0–100 scores, the weighted total, the rank, the change.

Pure: plain records in (`records.py`), figures out. A measure a unit has no data for is `None` — shown "—",
never 0 — and leaves the unit's total: the weights of the measures it has are normalised, so a unit is neither
rewarded nor punished for what did not happen to it. Figures are as of `now`: a 诉求 or follow-up not yet due
and not yet done is left out rather than counted late.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from mailbot.evaluation.period import EvalPeriod
from mailbot.evaluation.records import RequestRecord, SubmissionRecord, UnitRecords
from mailbot.settings import EvaluationSettings

Kind = Literal["share", "days", "hours", "ratio", "mean5", "count"]


@dataclass(frozen=True)
class MeasureInfo:
    label: str      # how mails name it
    header: str     # the terminal table's column
    kind: Kind


# In the order the table shows them. urgent_count has no score: more urgent matters is neither better nor worse.
MEASURES: dict[str, MeasureInfo] = {
    "on_time": MeasureInfo("按时报送", "on-time/late/missing", "share"),
    "completeness": MeasureInfo("填报完整度", "complete", "share"),
    "corrections": MeasureInfo("退回修改（次/份）", "fix/rep", "ratio"),
    "requests_by_due": MeasureInfo("诉求按期答复率", "SQ-by-due", "share"),
    "answer_days": MeasureInfo("诉求答复用时", "SQ-answer", "days"),
    "close_days": MeasureInfo("诉求办结用时", "SQ-close", "days"),
    "follow_ups": MeasureInfo("跟踪事项按期完成率", "follow-ups", "share"),
    "satisfaction": MeasureInfo("客户满意度", "satisf.", "mean5"),
    "urgent_count": MeasureInfo("紧急事项（件）", "urgent", "count"),
    "urgent_hours": MeasureInfo("紧急事项响应用时", "urg-resp", "hours"),
}


@dataclass(frozen=True)
class Measure:
    key: str
    value: float | None          # None: no data
    score: float | None          # 0–100; None: no data, or a measure that is not scored
    text: str                    # the figure in words for mails: "按时3个月，迟报0个月，未报0个月"
    cell: str                    # the figure in a table cell: "3/0/0", "45%", "—"
    records: tuple[str, ...]     # what --explain lists: the records it was computed from
    detail: Mapping[str, object] = field(default_factory=dict)   # the counts behind it, for --json
    change: float | None = None  # value minus the previous period's (shares in percentage points)

    @property
    def label(self) -> str:
        return MEASURES[self.key].label


@dataclass(frozen=True)
class UnitResult:
    code: str
    name: str
    measures: Mapping[str, Measure]
    score: float | None
    rank: int | None = None              # None: no scored measure had data
    score_change: float | None = None


@dataclass(frozen=True)
class Evaluation:
    period: EvalPeriod
    units: tuple[UnitResult, ...]        # ranked first, by rank then code; unranked last
    weights: Mapping[str, float]
    computed_at: datetime

    @property
    def ranked(self) -> int:
        return sum(u.rank is not None for u in self.units)


# --- figures ---------------------------------------------------------------------------------------------------


def _pct(share: float) -> str:
    return f"{round(share * 100)}%"


def _local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _days(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 86400


def _linear(value: float, good: float, bad: float) -> float:
    """100 at or below `good`, 0 at or above `bad`, a straight line between."""
    if value <= good:
        return 100.0
    if value >= bad:
        return 0.0
    return 100 * (bad - value) / (bad - good)


def _none(key: str, records: Sequence[str] = (), why: str = "无数据") -> Measure:
    return Measure(key, None, None, why, "—", tuple(records) or (f"no records: {why}",))


def on_time(r: UnitRecords, today: date, tz: ZoneInfo, cfg: EvaluationSettings) -> Measure:
    """Months the unit was asked for a report: the first accepted version decides on time or late; none accepted
    after the deadline is missing; none before it is not counted yet. Share = (on time + late × late_credit) /
    months counted."""
    first: dict[str, SubmissionRecord] = {}
    for each in sorted(r.submissions, key=lambda x: x.version):
        first.setdefault(each.month, each)
    months = sorted({a.month for a in r.asked} | set(first))
    deadlines = {a.month: a.deadline for a in r.asked}
    counts = {"on_time": 0, "late": 0, "missing": 0}
    lines = []
    for month in months:
        if (sub := first.get(month)) is not None:
            said = "on time" if sub.on_time else "late"
            counts["on_time" if sub.on_time else "late"] += 1
            lines.append(f"{month}: submission #{sub.id} v{sub.version} received {_local(sub.received_at, tz)} "
                         f"— {said}")
        elif deadlines[month] < today:
            counts["missing"] += 1
            lines.append(f"{month}: no accepted report, deadline {deadlines[month]} passed — missing")
        else:
            lines.append(f"{month}: deadline {deadlines[month]} not passed yet — not counted")
    counted = sum(counts.values())
    if not counted:
        return _none("on_time", lines, "无应报月份")
    share = (counts["on_time"] + cfg.late_credit * counts["late"]) / counted
    text = f"按时{counts['on_time']}个月，迟报{counts['late']}个月，未报{counts['missing']}个月"
    return Measure("on_time", share, 100 * share, text, f"{counts['on_time']}/{counts['late']}/{counts['missing']}",
                   tuple(lines), {**counts, "months": counted})


def completeness(r: UnitRecords) -> Measure:
    """Of the fields the unit had to report in its accepted current versions, the share answered (not left empty,
    not a nothing-marker such as 无)."""
    current = sorted((s for s in r.submissions if s.current), key=lambda s: s.month)
    lines = [f"{s.month}: submission #{s.id} v{s.version} — {s.answered} of {s.expected} fields answered"
             for s in current]
    expected = sum(s.expected for s in current)
    if not expected:
        return _none("completeness", lines, "无已受理的报告")
    answered = sum(s.answered for s in current)
    share = answered / expected
    return Measure("completeness", share, 100 * share, f"{_pct(share)}（{answered}/{expected}项）", _pct(share),
                   tuple(lines), {"answered": answered, "expected": expected})


def corrections(r: UnitRecords, tz: ZoneInfo, cfg: EvaluationSettings) -> Measure:
    """Error replies (请修改后重发) about the period's reports, per accepted report (months with one)."""
    reports = sorted({s.month for s in r.submissions})
    lines = [f"error reply: outbox #{e.outbox_id} {e.key} {_local(e.at, tz)} → {e.to} ({e.month})"
             for e in sorted(r.errors, key=lambda e: e.at)]
    lines.append(f"accepted reports: {len(reports)}" + (f" ({', '.join(reports)})" if reports else ""))
    if not reports:
        return _none("corrections", lines, "无已受理的报告")
    ratio = len(r.errors) / len(reports)
    score = max(0.0, 100 * (1 - ratio / cfg.corrections_zero_at))
    return Measure("corrections", ratio, score, f"{ratio:.2g}次/份（{len(r.errors)}次，{len(reports)}份）",
                   f"{ratio:.2g}", tuple(lines), {"error_replies": len(r.errors), "reports": len(reports)})


def _request_line(q: RequestRecord, tz: ZoneInfo, now: datetime) -> str:
    parts = [f"{q.number} ({q.source}) raised {_local(q.created_at, tz)}"]
    if q.due_at:
        parts.append(f"due {_local(q.due_at, tz)}")
    if q.answered_at:
        parts.append(f"answered {_local(q.answered_at, tz)} ({_days(q.created_at, q.answered_at):.2f} d)")
    if q.closed_at:
        parts.append(f"closed {_local(q.closed_at, tz)} ({_days(q.created_at, q.closed_at):.2f} d)")
    return ", ".join(parts) + f" — {_by_due(q, now) or 'not decided yet'}"


def _by_due(q: RequestRecord, now: datetime) -> str | None:
    """'by due' / 'late'; None while it can still be answered in time (or waits for the group)."""
    if q.answered_at is not None:
        return "by due" if q.due_at is None or q.answered_at <= q.due_at else "late"
    if q.awaiting_approval or q.due_at is None or q.due_at >= now:
        return None
    return "late"


def request_measures(r: UnitRecords, now: datetime, tz: ZoneInfo, cfg: EvaluationSettings) -> list[Measure]:
    """The unit's 诉求 raised in the period: share answered by the due date (of those answered, or unanswered past
    due), and the median (and mean) calendar days to answer and to close."""
    reqs = sorted(r.requests, key=lambda q: q.created_at)
    lines = tuple(_request_line(q, tz, now) for q in reqs)
    verdicts = [v for v in (_by_due(q, now) for q in reqs) if v is not None]
    out = []
    if verdicts:
        share = verdicts.count("by due") / len(verdicts)
        out.append(Measure("requests_by_due", share, 100 * share,
                           f"{_pct(share)}（{verdicts.count('by due')}/{len(verdicts)}件）", _pct(share), lines,
                           {"by_due": verdicts.count("by due"), "decided": len(verdicts)}))
    else:
        out.append(_none("requests_by_due", lines, "无诉求" if not reqs else "尚无到期的诉求"))
    for key, attr, (good, bad), verb in (("answer_days", "answered_at", cfg.answer_days, "答复"),
                                         ("close_days", "closed_at", cfg.close_days, "办结")):
        days = [_days(q.created_at, getattr(q, attr)) for q in reqs if getattr(q, attr) is not None]
        if not days:
            out.append(_none(key, lines, "无诉求" if not reqs else f"尚无{verb}的诉求"))
            continue
        median, mean = statistics.median(days), statistics.fmean(days)
        out.append(Measure(key, median, _linear(median, good, bad),
                           f"中位{median:.1f}天，平均{mean:.1f}天（{len(days)}件）", f"{median:.1f}d", lines,
                           {"median": round(median, 4), "mean": round(mean, 4), "count": len(days)}))
    return out


def follow_ups(r: UnitRecords, today: date) -> Measure:
    """The unit's visit follow-up actions due in the period: the share done by their due date, of those done or
    past due."""
    lines, decided, in_time = [], 0, 0
    for f in sorted(r.follow_ups, key=lambda f: (f.due, f.id)):
        if f.done_on is not None:
            ok = f.done_on <= f.due
            decided, in_time = decided + 1, in_time + ok
            said = f"done {f.done_on} — {'on time' if ok else 'late'}"
        elif f.due < today:
            decided += 1
            said = "still open — late"
        else:
            said = "open, not due yet — not counted"
        lines.append(f"follow-up #{f.id} {f.ref} due {f.due}, {said}")
    if not decided:
        return _none("follow_ups", lines, "无到期的跟踪事项")
    share = in_time / decided
    return Measure("follow_ups", share, 100 * share, f"{_pct(share)}（{in_time}/{decided}项）", _pct(share),
                   tuple(lines), {"on_time": in_time, "decided": decided})


def satisfaction(r: UnitRecords, tz: ZoneInfo, cfg: EvaluationSettings) -> Measure:
    """The mean, over the current survey answers about customers it serves, of each answer's mean score (1–5):
    each customer's answer weighs the same however many questions it scored."""
    lines, means = [], []
    for a in sorted(r.survey_answers, key=lambda a: a.token):
        counted = bool(a.scores) and (cfg.satisfaction_by_unit or not a.by_unit)
        mean = statistics.fmean(a.scores) if a.scores else None
        said = (f"mean {mean:.2f}" if mean is not None else "no score") + \
            ("" if counted or not a.scores else " — filled in by the unit (代填), not counted")
        lines.append(f"{a.token} v{a.version} received {_local(a.received_at, tz)}: scores "
                     f"{', '.join(map(str, a.scores)) or '—'} → {said}")
        if counted and mean is not None:
            means.append(mean)
    if not means:
        return _none("satisfaction", lines, "无满意度调查答复")
    value = statistics.fmean(means)
    return Measure("satisfaction", value, (value - 1) / 4 * 100, f"{value:.2f}分（{len(means)}份答复，满分5分）",
                   f"{value:.2f}", tuple(lines), {"answers": len(means)})


def urgent(r: UnitRecords, tz: ZoneInfo, cfg: EvaluationSettings) -> list[Measure]:
    """Urgent matters the unit reported in the period (a count, not scored), and the median hours to HQ's first
    response (any action of HQ staff on the 诉求)."""
    reqs = sorted((q for q in r.requests if q.source == "urgent"), key=lambda q: q.created_at)
    lines = tuple(f"{q.number} raised {_local(q.created_at, tz)}, " + (
        f"HQ first responded {_local(q.first_response_at, tz)} "
        f"({_days(q.created_at, q.first_response_at) * 24:.1f} h)" if q.first_response_at else "no HQ response yet")
        for q in reqs)
    count = Measure("urgent_count", float(len(reqs)), None, f"{len(reqs)}件", str(len(reqs)),
                    lines or ("no urgent matters",), {"count": len(reqs)})
    hours = [_days(q.created_at, q.first_response_at) * 24 for q in reqs if q.first_response_at is not None]
    if not hours:
        return [count, _none("urgent_hours", lines, "无紧急事项" if not reqs else "总部尚未响应")]
    median = statistics.median(hours)
    good, bad = cfg.urgent_hours
    return [count, Measure("urgent_hours", median, _linear(median, good, bad),
                           f"中位{median:.1f}小时（{len(hours)}件）", f"{median:.1f}h", lines,
                           {"median": round(median, 4), "count": len(hours)})]


def measure_unit(r: UnitRecords, now: datetime, tz: ZoneInfo, cfg: EvaluationSettings) -> dict[str, Measure]:
    today = now.astimezone(tz).date()
    found = [on_time(r, today, tz, cfg), completeness(r), corrections(r, tz, cfg), *request_measures(r, now, tz, cfg),
             follow_ups(r, today), satisfaction(r, tz, cfg), *urgent(r, tz, cfg)]
    by_key = {m.key: m for m in found}
    return {key: by_key[key] for key in MEASURES}


# --- the total, the rank, the change ---------------------------------------------------------------------------


def weighted(measures: Mapping[str, Measure], weights: Mapping[str, float]) -> float | None:
    """The weighted mean of the scores the unit has; None when it has none of the weighted measures."""
    have = [(weights[k], m.score) for k, m in measures.items() if weights.get(k, 0) > 0 and m.score is not None]
    total = sum(w for w, _ in have)
    return sum(w * s for w, s in have) / total if total else None  # type: ignore[operator]


def scored(measures: Mapping[str, Measure], weights: Mapping[str, float]) -> list[Measure]:
    """The measures that count towards this unit's score, best first (ties in table order)."""
    order = list(MEASURES)
    have = [m for k, m in measures.items() if weights.get(k, 0) > 0 and m.score is not None]
    return sorted(have, key=lambda m: (-(m.score or 0), order.index(m.key)))


def _change(now: float | None, before: float | None, kind: Kind) -> float | None:
    if now is None or before is None:
        return None
    return (now - before) * (100 if kind == "share" else 1)


def evaluate(period: EvalPeriod, records: Sequence[UnitRecords], previous: Sequence[UnitRecords], now: datetime,
             tz: ZoneInfo, cfg: EvaluationSettings) -> Evaluation:
    """Each unit's measures, score and rank (1 = best; equal scores share a rank), with the change from the
    previous period of the same kind."""
    weights: dict[str, float] = {k: float(cfg.weights.get(k, 0.0)) for k in MEASURES}  # type: ignore[call-overload]
    before = {r.code: measure_unit(r, now, tz, cfg) for r in previous}
    results = []
    for r in records:
        measures = measure_unit(r, now, tz, cfg)
        prev = before.get(r.code, {})
        measures = {k: replace(m, change=_change(m.value, prev[k].value if k in prev else None, MEASURES[k].kind))
                    for k, m in measures.items()}
        score = weighted(measures, weights)
        prev_score = weighted(prev, weights) if prev else None
        results.append(UnitResult(r.code, r.name, measures, score,
                                  score_change=None if score is None or prev_score is None else score - prev_score))
    ranked = sorted((u for u in results if u.score is not None), key=lambda u: (-(u.score or 0), u.code))
    out: list[UnitResult] = []
    for i, u in enumerate(ranked):
        rank = out[-1].rank if out and round(out[-1].score or 0, 6) == round(u.score or 0, 6) else i + 1
        out.append(replace(u, rank=rank))
    out += sorted((u for u in results if u.score is None), key=lambda u: u.code)
    return Evaluation(period, tuple(out), weights, now)


# --- how figures read ------------------------------------------------------------------------------------------


def change_text(m: Measure) -> str:
    """The change from the previous period in words, for mails."""
    if m.change is None:
        return "上期无可比数据"
    kind = MEASURES[m.key].kind
    unit: Callable[[float], str] = {
        "share": lambda c: f"{abs(c):.0f}个百分点", "days": lambda c: f"{abs(c):.1f}天",
        "hours": lambda c: f"{abs(c):.1f}小时", "ratio": lambda c: f"{abs(c):.2g}次/份",
        "mean5": lambda c: f"{abs(c):.2f}分", "count": lambda c: f"{abs(c):.0f}件"}[kind]
    if abs(m.change) < 0.005:
        return "与上期持平"
    return f"较上期{'增加' if m.change > 0 else '减少'}{unit(m.change)}"


def signed(change: float | None, digits: int = 0) -> str:
    """A change in a table cell: "+5", "−1.5", "" when there is nothing to compare."""
    if change is None:
        return ""
    text = f"{abs(change):.{digits}f}"
    if float(text) == 0:
        return "±0"
    return ("+" if change > 0 else "−") + text


def cell_with_change(m: Measure) -> str:
    digits = {"share": 0, "days": 1, "hours": 1, "ratio": 2, "mean5": 2, "count": 0}[MEASURES[m.key].kind]
    change = signed(m.change, digits)
    return f"{m.cell} ({change})" if change else m.cell
