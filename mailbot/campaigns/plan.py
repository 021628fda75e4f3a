"""A campaign file (config/campaign.example.yaml) → a validated, frozen `CampaignPlan`.

HQ staff write one YAML file per national product or service plan (§6.1) and run `mailbot campaign launch
FILE.yaml`. This module only reads (`planfile`: every mistake named at once, as ``file: key: message``) and
decides from plain directory facts which (customer, unit) pairs the file targets (`select_targets`); reading the
plan documents' bytes is the caller's, so both steps stay pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath

from mailbot.planfile import (
    CustomerFact,
    CustomerFilter,
    PlanReader,
    load_mapping,
    matching_customers,
    read_customer_filter,
)

NUMBER = re.compile(r"TG-\d{4}-\d{2,3}")   # as parsers.campaigntext reads the form's 编号
_TOP_KEYS = frozenset({"number", "title", "description", "documents", "targets", "feedback", "reminders", "end",
                       "changes"})
_DOCUMENT_TYPES = (".pdf", ".doc", ".docx", ".wps", ".ppt", ".pptx", ".xls", ".xlsx")
MAX_EVERY_DAYS = 92


@dataclass(frozen=True)
class CampaignPlan:
    source: str
    number: str
    title: str
    description: str | None
    documents: tuple[str, ...]          # paths as written; relative ones are relative to the file's folder
    targets: CustomerFilter             # `units` also limits which of a customer's units work it
    every_days: int | None              # None: feedback rides with the monthly request
    reminders: tuple[int, ...]          # days before each feedback date
    end: date
    changes: str | None = None          # what changed in this version of the plan (for the units' notice)

    @property
    def with_monthly_request(self) -> bool:
        return self.every_days is None


def parse_campaign_plan(text: str, source: str) -> CampaignPlan:
    """Read one campaign file's text; raises PlanError naming every problem."""
    data = load_mapping(text, source, "config/campaign.example.yaml")
    r = PlanReader(source)
    r.unknown_keys(data, _TOP_KEYS)
    number = r.number(data, NUMBER, "方案编号", "TG-2026-01")
    title = r.text(data, "title", "title") or ""
    if any(ch in title for ch in "\n\r"):
        r.bad("title", "标题应为一行")
    end = r.required_day(data, "end", "必须填写方案结束日期（如 2027-03-31）")
    documents: list[str] = []
    for where, value in r.items(data, "documents"):
        name = str(value).strip() if isinstance(value, str) else ""
        if not name:
            r.bad(where, "应为方案文件的路径（PDF 或 Word）")
        elif PurePath(name).suffix.lower() not in _DOCUMENT_TYPES:
            r.bad(where, f"方案文件应为 PDF、Word 等文档，写的是“{name}”")
        else:
            documents.append(name)
    if not documents and "documents" not in data:
        r.bad("documents", "请列出要随通知发送的方案文件（PDF 或 Word）")
    plan = CampaignPlan(source=source, number=number, title=title,
                        description=r.text(data, "description", "description", required=False),
                        documents=tuple(documents),
                        targets=read_customer_filter(r, data.get("targets"), "targets"),
                        every_days=_cadence(r, data.get("feedback")),
                        reminders=r.day_offsets(data, "reminders", "反馈日期") if "reminders" in data else (3, 1),
                        end=end or date.min, changes=r.text(data, "changes", "changes", required=False))
    r.done()
    return plan


def _cadence(r: PlanReader, value: object) -> int | None:
    """`feedback: {every: 14}` (days) or `feedback: with_monthly_request`."""
    if isinstance(value, str) and value.strip().lower() == "with_monthly_request":
        return None
    if isinstance(value, dict):
        r.unknown_keys({f"feedback.{k}": v for k, v in value.items()}, frozenset({"feedback.every"}))
        every = str(value.get("every", "")).strip()
        if every.isdigit() and 1 <= int(every) <= MAX_EVERY_DAYS:
            return int(every)
        r.bad("feedback.every", f"应为 1–{MAX_EVERY_DAYS} 之间的天数（如 14），写的是“{every}”")
        return 14
    r.bad("feedback", "应为 {every: 14}（每14天反馈一次）或 with_monthly_request（随月度报送通知反馈）")
    return 14


def select_targets(plan: CampaignPlan, known: Sequence[CustomerFact], units: frozenset[str]) -> tuple[
        list[tuple[str, str]], list[str]]:
    """((customer code, unit code) pairs the campaign targets, in directory order; problems as
    ``file: key: message``). A customer served by several units is a target of each: each works its own
    relationship and reports on it."""
    f = plan.targets
    chosen, problems = matching_customers(f, known, units, plan.source, "targets")
    pairs = [(c.code, u) for c in chosen for u in c.units if not f.units or u in f.units]
    for c in chosen:
        if f.codes and not any(p[0] == c.code for p in pairs):
            problems.append(f"{plan.source}: targets: 客户 {c.code} 没有{'所列单位' if f.units else '任何'}所属单位服务，"
                            "无法推广")
    if not pairs and not problems:
        problems.append(f"{plan.source}: targets: 没有符合条件的目标客户")
    return pairs, problems
