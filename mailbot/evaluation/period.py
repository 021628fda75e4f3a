"""The span an evaluation covers: a month (`2026-11`), a quarter (`2026-Q4`) or a year (`2026`).

Pure: the months it holds, its first and last day, how mails name it, and the span before it of the same kind
(Q1's previous is the year before's Q4), which the change-from-last-period figures compare with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from mailbot.domain.due import Month

_QUARTER = re.compile(r"(\d{4})-[Qq]([1-4])")
_YEAR = re.compile(r"\d{4}")
QUARTER_CN = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}


@dataclass(frozen=True)
class EvalPeriod:
    kind: Literal["month", "quarter", "year"]
    year: int
    number: int  # the month (1–12), the quarter (1–4), or 0 for a year

    @classmethod
    def parse(cls, s: str) -> EvalPeriod:
        """`2026-Q4`, `2026` or `2026-11`."""
        text = s.strip()
        if m := _QUARTER.fullmatch(text):
            return cls("quarter", int(m.group(1)), int(m.group(2)))
        if _YEAR.fullmatch(text):
            return cls("year", int(text), 0)
        try:
            month = Month.parse(text)
        except ValueError:
            raise ValueError(f"not a period: {s!r} (expected 2026-Q4, 2026 or 2026-11)") from None
        return cls("month", month.year, month.month)

    @classmethod
    def quarter_of(cls, d: date) -> EvalPeriod:
        return cls("quarter", d.year, (d.month - 1) // 3 + 1)

    @property
    def key(self) -> str:
        if self.kind == "quarter":
            return f"{self.year}-Q{self.number}"
        return str(self.year) if self.kind == "year" else Month(self.year, self.number).key

    @property
    def label(self) -> str:
        """How mails name it: 2026年第四季度, 2026年度, 2026年11月."""
        if self.kind == "quarter":
            return f"{self.year}年{QUARTER_CN[self.number]}"
        return f"{self.year}年度" if self.kind == "year" else Month(self.year, self.number).label

    @property
    def months(self) -> tuple[Month, ...]:
        if self.kind == "month":
            return (Month(self.year, self.number),)
        first = 1 if self.kind == "year" else 3 * self.number - 2
        count = 12 if self.kind == "year" else 3
        return tuple(Month(self.year, m) for m in range(first, first + count))

    @property
    def first_day(self) -> date:
        return self.months[0].first_day

    @property
    def last_day(self) -> date:
        return self.months[-1].last_day

    def previous(self) -> EvalPeriod:
        if self.kind == "year":
            return EvalPeriod("year", self.year - 1, 0)
        if self.kind == "quarter":
            return EvalPeriod("quarter", self.year - 1, 4) if self.number == 1 else \
                EvalPeriod("quarter", self.year, self.number - 1)
        prev = Month(self.year, self.number).previous()
        return EvalPeriod("month", prev.year, prev.month)

    def __str__(self) -> str:
        return self.key
