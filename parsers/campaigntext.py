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

from parsers.formtext import MARK_END, marker

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


def render_campaign_form(*, token: str, campaign: str, title: str,
                         targets: Sequence[tuple[str, str]]) -> str:
    """The blank feedback form exactly as CAMPAIGN.md shows it, one 【客户】 block per target.

    `token` is the unit's feedback number (`TG-2026-01-GD`), `campaign` the
    plan's number (`TG-2026-01`) and `targets` (customer code, customer name)
    pairs in the order the blocks should appear.  No answer is ever filled in.
    """
    parsed = find_campaign_token(token)
    if parsed is None or parsed.text != token or parsed.campaign != campaign:
        raise ValueError(f"token must be {campaign}-<unit code>, got {token!r}")
    lines = [f"{marker(CAMPAIGN_TITLE)}{LABEL_TOKEN}：{token}", f"{LABEL_PLAN}：{campaign} {title}".rstrip(),
             legend_line(), ""]
    for code, name in targets:
        lines.append(f"{marker(MARK_CUSTOMER)}{code} {name}".rstrip())
        lines.extend(f"{n}. {label}：" for n, (_, label) in enumerate(FIELDS, 1))
    lines.append(marker(MARK_END))
    return "\n".join(lines) + "\n"
