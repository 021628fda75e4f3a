"""The evaluation's chapter of the 重点客户月报: for a month that closes a quarter, that quarter's ranked table.

`gather_evaluation` reads the database into frozen rows the bulletin's template can lay out like its other
chapters (free of the database). Other months have no chapter: the evaluation is quarterly (§4.1 b).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from mailbot.domain.due import Month
from mailbot.evaluation.mails import weights_note
from mailbot.evaluation.measures import MEASURES, cell_with_change
from mailbot.evaluation.period import EvalPeriod
from mailbot.evaluation.report import score_cell
from mailbot.evaluation.store import evaluation_of
from mailbot.settings import EvaluationSettings


@dataclass(frozen=True)
class EvaluationRow:
    rank: str        # "1", or "—" for a unit with no scored data
    code: str
    name: str
    score: str       # "86.5 (+3.2)" or "—"
    cells: tuple[str, ...]   # each measure with its change, in `headers` order


@dataclass(frozen=True)
class EvaluationSection:
    period_key: str      # 2026-Q4
    period_label: str    # 2026年第四季度
    previous_label: str
    headers: tuple[str, ...]
    rows: tuple[EvaluationRow, ...]
    weights_note: str


def closes_quarter(month_key: str) -> bool:
    return Month.parse(month_key).month % 3 == 0


def gather_evaluation(s: Session, month_key: str, now: datetime, tz: ZoneInfo,
                      cfg: EvaluationSettings) -> EvaluationSection | None:
    """The quarter's ranked table when `month_key` closes a quarter (2026-03, -06, -09, -12); else None."""
    if not closes_quarter(month_key):
        return None
    month = Month.parse(month_key)
    period = EvalPeriod.quarter_of(month.first_day)
    ev = evaluation_of(s, period, now, tz, cfg)
    rows = tuple(EvaluationRow(rank=str(u.rank) if u.rank is not None else "—", code=u.code, name=u.name,
                               score=score_cell(u), cells=tuple(cell_with_change(m) for m in u.measures.values()))
                 for u in ev.units)
    return EvaluationSection(period.key, period.label, period.previous().label,
                             tuple(MEASURES[k].label for k in MEASURES), rows, weights_note(ev))
