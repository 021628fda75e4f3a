"""The customer archive (客户档案): one customer's reports, requests, visits and follow-ups, as text and as a PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.archive.dossier import customer_archive, render_dossier_html, render_dossier_pdf, render_timeline_text
from mailbot.db.models import OutboxMail
from mailbot.errors import MailbotError
from mailbot.visits.schedule import visit_jobs
from mailbot.visits.store import plan_visit
from tests.support.mailflow import SUMMARY, SUNYUE, answer_to, one, pdf_text, report, write_plan


def history(app: App, clock: Any, tmp_path: Path, summary: str = SUMMARY) -> None:
    """November: GD reports on S001 and asks HQ for help; BJ's visit is held and summarised; one action done.
    December: GD reports again."""
    clock.set(2026, 11, 13, 9)
    plan_visit(app, write_plan(tmp_path / "v.yaml"))
    clock.set(2026, 11, 18, 10)
    report(app, {"S001": {"1": "已按全国性方案执行，11月供气量同比增长6%。",
                          "4": "请总部协调2027年冬季保供气量。", "风险等级": "一般", "需总部协调": "是"}})
    clock.set(2026, 11, 20, 14)
    visit_jobs(app)
    clock.set(2026, 11, 23, 10)
    answer_to(app, one(app, "visit:VIS-2026-0001:summary-request"), SUNYUE, summary)
    clock.set(2026, 12, 11, 16)
    visit_jobs(app)
    with app.sessions() as s:
        first = s.scalars(select(OutboxMail).where(OutboxMail.idem_key.like("followup:%:chase:2026-12-10:D+1"))).one()
    answer_to(app, first, SUNYUE, "已完成。\n预测表已发刘洋。")
    clock.set(2026, 12, 16, 10)
    report(app, {"S001": {"3": "11月拜访议定事项：需求预测已报送。", "风险等级": "无", "需总部协调": "否"}})
    clock.set(2026, 12, 21, 9)


def test_the_timeline_reads_newest_month_first_with_what_is_open_on_top(app: App, clock: Any, tmp_path: Path) -> None:
    # S001 after two months: one open follow-up on top; December's report, then November's report, request and visit.
    history(app, clock, tmp_path)
    text = render_timeline_text(customer_archive(app, "s001"))
    assert text.startswith("客户档案　S001 国家电网有限公司（战略客户）\n总部对接人：刘洋　所属单位：北京分公司、广东分公司、江苏分公司\n")
    assert "月报 2 期 · 诉求 1 件（未办结 1） · 拜访/来访 1 次 · 后续事项 2 项（未完成 1）" in text
    assert "当前待办\n  后续事项 VIS-2026-0001-2　价格机制调整方案报集团审议　责任人：刘洋（资源与市场部）　2026年12月15日前　逾期6天\n" in text
    assert text.index("━━ 2026年12月 ━━") < text.index("━━ 2026年11月 ━━")
    december, november = text.split("━━ 2026年11月 ━━")
    assert "  3. 来访或拜访协商事项的跟踪进展\n     · 广东分公司：11月拜访议定事项：需求预测已报送。" in december
    assert "  1. 全国性天然气产品及服务方案执行情况\n     · 广东分公司：已按全国性方案执行，11月供气量同比增长6%。" in november
    assert "  广东分公司：风险等级 一般，需总部协调" in november
    assert "【诉求】SQ-2026-0001（待处理，逾期18天）　广东分公司　战略客户月报　2026年11月18日\n    请总部协调2027年冬季保供气量。" in november
    assert "【拜访客户】VIS-2026-0001　2026年11月20日（星期五）09:30—11:30　2027年度天然气购销合同续签及今冬明春保供工作会谈（纪要已归档）" in november
    assert "    会谈纪要：\n      双方就2027年度合同量、价格机制和今冬明春保供安排进行了会谈。" in november
    assert "      VIS-2026-0001-1　提供北京地区2027年分月用气需求预测　责任人：孙悦　2026年12月10日前　已完成（2026年12月11日）\n" \
           "        2026年12月11日 16:00 孙悦：已完成。\n        预测表已发刘洋。" in november
    assert "    · 2026年11月23日 10:00 孙悦：提交纪要" in november


def test_the_dossier_pdf_carries_the_same_facts_and_escapes_what_people_wrote(
        app: App, clock: Any, tmp_path: Path) -> None:
    # The PDF dossier: header, open items, months; markup typed into a summary is printed, never interpreted.
    history(app, clock, tmp_path, summary=SUMMARY.replace("国家电网表示", "<b>国家电网</b>&表示<img src='http://x.invalid/a.png'>"))
    archive = customer_archive(app, "S001")
    html = render_dossier_html(archive)
    assert "&lt;b&gt;国家电网&lt;/b&gt;&amp;表示&lt;img" in html and "<img" not in html
    text = pdf_text(render_dossier_pdf(archive), tmp_path)
    flat = " ".join(text.split())
    for expected in ("客户档案", "S001 国家电网有限公司", "战略客户", "总部对接人：刘洋", "当前待办",
                     "VIS-2026-0001-2", "价格机制调整方案报集团审议", "逾期6天", "2026年12月", "2026年11月",
                     "月报事项", "3. 来访或拜访协商事项的跟踪进展", "SQ-2026-0001", "请总部协调2027年冬季保供气量。",
                     "拜访与来访", "会谈纪要", "<b>国家电网</b>&表示<img src='http://x.invalid/a.png'>",
                     "预测表已发刘洋。"):
        assert expected in flat, expected
    assert "客户档案S001国家电网有限公司第1页/共2页" in "".join(text.split())  # the running footer
    assert flat.index("2026年12月 月报事项") < flat.index("2026年11月 月报事项")


def test_a_vip_customer_and_an_empty_archive(app: App, clock: Any) -> None:
    # V001 reported by GD shows its VIP block; S010, never mentioned, has an archive that says so; S999 is unknown.
    clock.set(2026, 11, 18, 10)
    report(app, {"V001": {"问题或诉求": "门站扩容审批滞后。", "本单位处理情况": "已与客户约谈。", "需总部协调": "否"}})
    text = render_timeline_text(customer_archive(app, "V001"))
    assert "（VIP客户）" in text and "  广东分公司 问题或诉求：门站扩容审批滞后。\n    本单位处理情况：已与客户约谈。" in text
    empty = customer_archive(app, "S010")
    assert empty.months == () and "当前待办\n  无" in render_timeline_text(empty)
    with pytest.raises(MailbotError, match="S999"):
        customer_archive(app, "S999")


def test_the_bulletin_lists_the_months_visits_and_overdue_follow_ups(app: App, clock: Any, tmp_path: Path) -> None:
    # November's bulletin chapter: VIS-2026-0001 with its two actions; on 12-21, VIS-2026-0001-2 is 6 days overdue.
    from datetime import datetime
    from types import SimpleNamespace

    from markupsafe import Markup

    from mailbot.bulletin.render import _environment
    from mailbot.render.pdf import render_pdf, templates_dir
    from mailbot.visits.chapter import gather_visits

    history(app, clock, tmp_path)
    with app.sessions() as s:
        section = gather_visits(s, datetime(2026, 11, 1, tzinfo=app.tz), datetime(2026, 12, 1, tzinfo=app.tz),
                                app.now(), app.tz)
    (v,) = section.visits
    assert (v.number, v.kind, v.customer_code, v.status, v.follow_ups, v.follow_ups_open) == (
        "VIS-2026-0001", "拜访", "S001", "纪要已归档", 2, 1)
    (f,) = section.overdue
    assert (f.ref, f.owner, f.overdue_days) == ("VIS-2026-0001-2", "刘洋（资源与市场部）", 6)

    chapter = _environment().get_template("pdf/_bulletin_visits.html.j2").render(
        b=SimpleNamespace(visits=section), chapter="八")
    css = Markup((templates_dir() / "pdf" / "bulletin.css").read_text(encoding="utf-8"))
    html = (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><style>{css}</style></head>'
            f"<body>{chapter}</body></html>")
    text = " ".join(pdf_text(render_pdf(html), tmp_path).split())
    for expected in ("八、拜访与来访", "本月拜访与来访 1 次，逾期未完成的后续事项 1 项。", "VIS-2026-0001",
                     "国家电网有限公司", "纪要已归档", "VIS-2026-0001-2", "价格机制调整方案报集团审议", "逾期6天"):
        assert expected in text, expected
