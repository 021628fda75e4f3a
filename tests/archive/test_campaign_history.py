"""A customer's campaign history in its archive (客户档案): targeted by two units, each block a unit reported on it in
the month it arrived — the stage change, the answers as written (markup kept as text), the 诉求 it opened — in
the text timeline and the PDF dossier. S001 is served by GD and BJ, so it is a target of each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mailbot.app import App
from mailbot.archive.dossier import customer_archive, render_dossier_pdf, render_timeline_text
from mailbot.campaigns.store import launch_campaign
from tests.support.campaigns import filled, plan_file
from tests.support.mailflow import GD, Clock, answer_to, one, pdf_text, text

PROGRESS = "已向客户宣贯方案，<b>客户</b>&其子公司均有兴趣。"


def test_the_archive_shows_each_campaign_event_in_its_month(make_app: Callable[..., App], clock: Clock,
                                                           tmp_path: Path) -> None:
    app = make_app()
    launch_campaign(app, plan_file(tmp_path))   # Friday 2026-11-13
    notice = one(app, "campaign-notice:TG-2026-01-GD")
    clock.set(2026, 11, 18, 10)
    answer_to(app, notice, GD, filled(text(notice), {"S001": {1: "有意向", 2: "年增供约1亿方", 3: PROGRESS,
                                                              5: "2027年3月", 6: "是"}}))
    clock.set(2026, 12, 3, 10)
    answer_to(app, notice, GD, filled(text(notice), {"S001": {3: "约了下周见面。", 6: "否"}}))

    archive = customer_archive(app, "S001")
    timeline = render_timeline_text(archive)
    november = timeline[timeline.index("━━ 2026年11月 ━━"):]
    assert "【推广方案】TG-2026-01　冬季调峰气保供服务方案　广东分公司　2026年11月13日列为目标客户" in november
    assert "【推广方案】TG-2026-01　冬季调峰气保供服务方案　北京分公司　2026年11月13日列为目标客户" in november
    assert "广东分公司　2026年11月18日反馈（第1版）" in november
    assert "    进展阶段：未开展 → 有意向" in november and f"本期进展：{PROGRESS}" in november
    assert "预计签约时间：2027年3月" in november and "需总部支持：是" in november
    (month,) = [m for m in archive.months if m.key == "2026-11"]
    (req,) = {ev.request for ev in month.campaigns if ev.request}
    assert f"已转总部办理：诉求编号 {req}" in november
    december = timeline[timeline.index("━━ 2026年12月 ━━"):timeline.index("━━ 2026年11月 ━━")]
    assert "2026年12月3日反馈（第2版）" in december and "进展阶段：有意向（未变）" in december
    assert "需总部支持：否" in december

    page = pdf_text(render_dossier_pdf(archive), tmp_path, layout=False)
    for fact in ("推广方案", "TG-2026-01", "列为目标客户", "进展阶段：未开展 → 有意向", PROGRESS, req):
        assert fact in page, fact
