"""The words of the campaign feedback form (CAMPAIGN.md), its number, and the blank form itself.

As `formtext.py` is for the monthly form, this is the one place that spells
the feedback form's markers, labels, stages and number format: the campaign
notice writes the form with `render_campaign_form`, and `campaign.py` reads
replies by the same constants, so writer and reader cannot drift apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from parsers.formtext import MARK_END, FormRow, marker

CAMPAIGN_TITLE = "推广反馈"
MARK_CUSTOMER = "客户"

LABEL_TOKEN = "编号"
LABEL_PLAN = "方案"
LABEL_LEGEND = "进展阶段可填"

# The six fields of a 【客户】 block, in form order: (key used in code, label written in the form).
FIELDS: tuple[tuple[str, str], ...] = (
    ("stage", "进展阶段"),
    ("intention", "合作意向及规模"),
    ("progress", "本期进展"),
    ("next", "下一步安排"),
    ("signing", "预计签约时间"),
    ("hq", "需总部支持"),
)
LABELS: dict[str, str] = dict(FIELDS)

# The funnel, in its usual order (stages may still move in any direction).
STAGES: tuple[str, ...] = ("未开展", "已宣贯", "有意向", "洽谈中", "已签约", "执行中", "无意向")
NO_INTENTION = "无意向"
STAGE_SYNONYMS: dict[str, str] = {
    "已推广": "已宣贯",
    "谈判中": "洽谈中",
    "已签合同": "已签约",
    "不感兴趣": "无意向",
    "暂无意向": "无意向",
}

# TG-<yyyy>-<nn>-<unit code>; read after NFKC, so full-width letters, digits and hyphens count.  The campaign's
# sequence number is tolerated with one to three digits and written back with at least two.
_TOKEN = re.compile(
    r"(?<![A-Za-z0-9])TG\s*[-–—_]\s*(\d{4})\s*[-–—_]\s*(\d{1,3})\s*[-–—_]\s*([A-Z0-9]{2,12})(?![A-Za-z0-9])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class CampaignToken:
    """A feedback number: normalised text, the campaign's number and the unit code."""

    text: str
    campaign: str
    unit: str


def find_campaign_token(text: str | None) -> CampaignToken | None:
    """The first feedback number in `text`, normalised (upper case, half width, `TG-2026-01-GD`)."""
    if not text:
        return None
    match = _TOKEN.search(unicodedata.normalize("NFKC", text))
    if match is None:
        return None
    year, number, unit = match.groups()
    campaign = f"TG-{year}-{int(number):02d}"
    return CampaignToken(f"{campaign}-{unit.upper()}", campaign, unit.upper())


def legend_line() -> str:
    """The bot's list of the stages, under the plan line; never an answer, though it has a colon."""
    return f"{LABEL_LEGEND}：{' / '.join(STAGES)}"


def campaign_rows(*, token: str, campaign: str, title: str, targets: Sequence[tuple[str, str]]) -> list[FormRow]:
    """The blank feedback form as rows (`formtext.FormRow`), for the mail body and the .xlsx alike.

    `token` is the unit's feedback number (`TG-2026-01-GD`), `campaign` the
    plan's number (`TG-2026-01`) and `targets` (customer code, customer name)
    pairs in the order the blocks should appear.  A block's answer rows are
    keyed by the field keys of FIELDS ("stage", "hq"…), so a workbook can give
    every block's stage the same drop-down list.  Raises ValueError for a
    token the reader would not take back as this campaign's.
    """
    parsed = find_campaign_token(token)
    if parsed is None or parsed.text != token or parsed.campaign != campaign:
        raise ValueError(f"token must be {campaign}-<unit code>, got {token!r}")
    rows = [FormRow("marker", f"{marker(CAMPAIGN_TITLE)}{LABEL_TOKEN}：{token}"),
            FormRow("prefilled", LABEL_PLAN, f"{campaign} {title}".rstrip(), "plan"),
            FormRow("prefilled", LABEL_LEGEND, " / ".join(STAGES), "legend"),
            FormRow("blank", "")]
    for code, name in targets:
        rows.append(FormRow("marker", f"{marker(MARK_CUSTOMER)}{code} {name}".rstrip(), key=code))
        rows.extend(FormRow("answer", f"{n}. {label}", key=key) for n, (key, label) in enumerate(FIELDS, 1))
    rows.append(FormRow("marker", marker(MARK_END)))
    return rows


def render_campaign_form(*, token: str, campaign: str, title: str,
                         targets: Sequence[tuple[str, str]]) -> str:
    """The blank feedback form exactly as CAMPAIGN.md shows it, one 【客户】 block per target (see
    `campaign_rows`).  No answer is ever filled in."""
    rows = campaign_rows(token=token, campaign=campaign, title=title, targets=targets)
    return "\n".join(f"{row.text}：{row.value}" if row.kind in ("prefilled", "answer") else row.text
                     for row in rows) + "\n"
