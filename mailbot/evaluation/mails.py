"""What the evaluation mails: to each 单位负责人 its own unit's figures with its strongest and weakest points (never
another unit's), and to the 部门负责人 the whole ranked table. Templates: `evaluation_unit.*`, `evaluation_board.*`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mailbot.evaluation.measures import MEASURES, Evaluation, UnitResult, cell_with_change, change_text, scored
from mailbot.evaluation.report import score_cell
from mailbot.outbox.compose import Draft
from mailbot.outbox.drafts import draft


def _period(ev: Evaluation) -> dict[str, str]:
    return {"key": ev.period.key, "label": ev.period.label, "previous_label": ev.period.previous().label}


def weights_note(ev: Evaluation) -> str:
    """How the score is made, in one line for readers: 按时报送25%、填报完整度15%…"""
    return "、".join(f"{MEASURES[k].label}{w * 100 / sum(ev.weights.values()):.0f}%"
                    for k, w in ev.weights.items() if w > 0)


def score_change_text(u: UnitResult) -> str:
    if u.score_change is None:
        return "上期无可比得分"
    if abs(u.score_change) < 0.05:
        return "与上期持平"
    return f"较上期{'提高' if u.score_change > 0 else '下降'}{abs(u.score_change):.1f}分"


def unit_context(ev: Evaluation, u: UnitResult) -> dict[str, Any]:
    """What the 单位负责人's mail shows: this unit's figures only (its rank among all, no other unit's figures)."""
    points = scored(u.measures, ev.weights)
    strongest = points[0] if points else None
    weakest = points[-1] if len(points) > 1 and points[-1].score != points[0].score else None
    return {"unit": {"code": u.code, "name": u.name}, "period": _period(ev),
            "score": f"{u.score:.1f}" if u.score is not None else None, "score_change": score_change_text(u),
            "rank": u.rank, "ranked": ev.ranked,
            "strongest": {"label": strongest.label, "text": strongest.text} if strongest else None,
            "weakest": {"label": weakest.label, "text": weakest.text} if weakest else None,
            "measures": [{"label": m.label, "text": m.text, "change": change_text(m) if m.value is not None else ""}
                         for m in u.measures.values()],
            "weights_note": weights_note(ev)}


def unit_mail(department: str, ev: Evaluation, u: UnitResult, leader_name: str, to: Sequence[str],
              cc: Sequence[str]) -> Draft:
    return draft("evaluation_unit", to, cc=cc, department=department, recipient_name=leader_name,
                 **unit_context(ev, u))


def board_context(ev: Evaluation) -> dict[str, Any]:
    return {"period": _period(ev), "ranked": ev.ranked, "unit_count": len(ev.units),
            "headers": [MEASURES[k].label for k in MEASURES],
            "rows": [{"rank": str(u.rank) if u.rank is not None else "—", "code": u.code, "name": u.name,
                      "score": score_cell(u), "cells": [cell_with_change(m) for m in u.measures.values()]}
                     for u in ev.units],
            "weights_note": weights_note(ev)}


def board_mail(department: str, ev: Evaluation, head_name: str, to: Sequence[str]) -> Draft:
    return draft("evaluation_board", to, department=department, recipient_name=head_name, **board_context(ev))
