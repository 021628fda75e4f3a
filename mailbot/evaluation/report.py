"""The evaluation as `mailbot evaluate` prints it: the ranked table, `--explain`'s records, `--json`."""

from __future__ import annotations

from collections.abc import Sequence

from mailbot.evaluation.measures import MEASURES, Evaluation, Measure, UnitResult, cell_with_change, signed
from mailbot.render.text import pad

_WIDTH = {"on_time": 22, "completeness": 12, "corrections": 12, "requests_by_due": 12, "answer_days": 14,
          "close_days": 14, "follow_ups": 12, "satisfaction": 14, "urgent_count": 9, "urgent_hours": 12}


def score_cell(u: UnitResult) -> str:
    if u.score is None:
        return "—"
    change = signed(u.score_change, 1)
    return f"{u.score:.1f} ({change})" if change else f"{u.score:.1f}"


def _chosen(ev: Evaluation, units: Sequence[str] | None) -> list[UnitResult]:
    return [u for u in ev.units if not units or u.code in units]


def render_table(ev: Evaluation, units: Sequence[str] | None = None) -> str:
    """The ranked table: each measure with its change from the previous period in brackets; "—" is no data."""
    weights = ", ".join(f"{k} {w:g}" for k, w in ev.weights.items() if w > 0)
    lines = [f"{ev.period.label} ({ev.period.key}), as of {ev.computed_at:%Y-%m-%d %H:%M}; "
             f"change from {ev.period.previous().key} in brackets",
             f"weights: {weights}", "",
             "rank  " + pad("unit", 18) + pad("score", 14) + "".join(pad(MEASURES[k].header, _WIDTH[k])
                                                                    for k in MEASURES).rstrip()]
    for u in _chosen(ev, units):
        rank = str(u.rank) if u.rank is not None else "—"
        lines.append(pad(rank, 6) + pad(f"{u.code} {u.name}", 18) + pad(score_cell(u), 14)
                     + "".join(pad(cell_with_change(u.measures[k]), _WIDTH[k]) for k in MEASURES).rstrip())
    return "\n".join(lines)


def render_explain(ev: Evaluation, units: Sequence[str] | None = None) -> str:
    """Every figure of the chosen units with the records it was computed from."""
    out: list[str] = []
    for u in _chosen(ev, units):
        rank = f"rank {u.rank} of {ev.ranked}" if u.rank is not None else "not ranked (no scored measure has data)"
        out += ["", f"{u.code} {u.name}: score {score_cell(u)}, {rank}"]
        for key, m in u.measures.items():
            weight = ev.weights.get(key, 0.0)
            scored = f"score {m.score:.1f} × weight {weight:g}" if m.score is not None and weight > 0 else \
                "not scored" if m.score is None or MEASURES[key].kind == "count" else f"score {m.score:.1f}, weight 0"
            out.append(f"  {key} ({m.label}): {m.text}; {scored}")
            out += [f"    - {line}" for line in m.records]
    return "\n".join(out).lstrip("\n")


def _measure_json(m: Measure, weight: float) -> dict[str, object]:
    return {"label": m.label, "value": None if m.value is None else round(m.value, 4),
            "score": None if m.score is None else round(m.score, 2), "weight": weight,
            "change": None if m.change is None else round(m.change, 4), "text": m.text, "detail": dict(m.detail),
            "records": list(m.records)}


def as_json(ev: Evaluation, units: Sequence[str] | None = None) -> dict[str, object]:
    return {"period": ev.period.key, "label": ev.period.label, "previous": ev.period.previous().key,
            "computed_at": ev.computed_at.isoformat(timespec="minutes"), "weights": dict(ev.weights),
            "units": [{"code": u.code, "name": u.name, "rank": u.rank,
                       "score": None if u.score is None else round(u.score, 2),
                       "score_change": None if u.score_change is None else round(u.score_change, 2),
                       "measures": {k: _measure_json(m, ev.weights.get(k, 0.0)) for k, m in u.measures.items()}}
                      for u in _chosen(ev, units)]}
