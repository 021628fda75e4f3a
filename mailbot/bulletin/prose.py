"""一、本月总体情况 as a few sentences of Chinese, generated from the month's figures and last month's.

Every number printed here comes from `MonthFigures` (trends.figures_of and
past_figures) and the bulletin's own lists, so a test can recompute each from
the database. Text is plain (the template escapes it); one sentence a topic,
in the order a department head asks: did the units report, what is at risk,
what HQ owes, what needs a decision.
"""

from __future__ import annotations

from mailbot.bulletin.model import Bulletin, MonthFigures
from mailbot.bulletin.trends import figures_of


def overview(b: Bulletin) -> tuple[str, ...]:
    """The chapter's paragraphs: reporting, risks, 诉求 and what needs a decision."""
    now, before = figures_of(b), b.previous
    rate = now.timeliness
    reporting = (f"本月应报单位{now.units}家，按时报送{now.on_time}家、逾期报送{now.late}家、未报送{now.missing}家"
                 + (f"，报送及时率{_pct(rate)}" if rate is not None else ""))
    if before is not None and before.timeliness is not None and rate is not None:
        reporting += f"（上月{_pct(before.timeliness)}，{_points(rate - before.timeliness)}）"
    reporting += "。"
    if before is None:
        reporting += "上月无可比数据，本期不作环比。"

    risks = (f"本月风险提示{now.risks_major + now.risks_minor}项，其中重大风险{now.risks_major}项"
             f"{_vs(now.risks_major, before.risks_major if before else None, '项')}、"
             f"一般风险{now.risks_minor}项{_vs(now.risks_minor, before.risks_minor if before else None, '项')}")
    if before is not None:
        new = sum(r.change == "新增" for r in b.risks)
        cont = sum(r.change == "持续" for r in b.risks)
        gone = sum(r.change == "已解除" for r in b.cleared)
        risks += f"；与上月相比新增{new}项、持续{cont}项、已解除{gone}项"
    risks += f"；收到紧急事项{now.urgent}件。"

    overdue = len(b.requests.overdue) if b.requests else 0
    opened = _vs(now.requests_opened, before.requests_opened if before else None, "件")
    requests = (f"本月新登记诉求{now.requests_opened}件{opened}，答复{now.requests_answered}件，"
                f"当前逾期未办{overdue}件。")

    asks = (f"需部门负责人决策或协调的事项{len(b.decisions)}项，详见第二部分。" if b.decisions
            else "本月无需决策或协调的事项。")
    if b.late:
        # Reports the last issue could not count: named here so a reader does not miss them below the charts.
        reporting += f"上期月报截止后补报{len(b.late)}份，见本部分补报表。"
    return reporting, risks, requests + asks


def _vs(now: int, before: int | None, unit: str) -> str:
    if before is None:
        return ""
    if now == before:
        return "（与上月持平）"
    return f"（较上月{'增加' if now > before else '减少'}{abs(now - before)}{unit}）"


def _pct(value: float) -> str:
    return f"{value:.1f}%".replace(".0%", "%")


def _points(diff: float) -> str:
    if abs(diff) < 0.05:
        return "与上月持平"
    return f"{'上升' if diff > 0 else '下降'}{abs(diff):.1f}个百分点".replace(".0个", "个")


def figures(b: Bulletin) -> MonthFigures:
    """The figures the paragraph states, for the cover mail and the tests."""
    return figures_of(b)
