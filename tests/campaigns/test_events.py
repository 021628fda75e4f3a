"""A campaign's promotion events (推广会, 见面会): planned with the visits machinery by naming the campaign in the
visit plan file (`campaign: TG-2026-01`) — the notice, the .ics, the minutes by reply, the follow-ups all as for any
visit — and shown with the campaign: on its board (`status --json`, the text, the report), in the bulletin's
campaign chapter and in the customer's campaign history. On SQLite and PostgreSQL.

The example visit plan: BJ, GD and JS visit S001 on 2026-11-20, 09:30–11:30; BJ writes the minutes.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from mailbot.app import App
from mailbot.bulletin.model import Bulletin
from mailbot.bulletin.render import render_bulletin_html
from mailbot.campaigns.board import board, board_lines
from mailbot.campaigns.chapter import gather_campaigns
from mailbot.campaigns.history import customer_campaigns
from mailbot.campaigns.report import report_html
from mailbot.campaigns.store import launch_campaign
from mailbot.directory.lookup import customers_by_code
from mailbot.planfile import PlanError
from mailbot.visits.schedule import visit_jobs
from mailbot.visits.store import plan_visit
from tests.support.campaigns import plan_file
from tests.support.mailflow import SUMMARY, SUNYUE, Clock, answer_to, at, event, invitation, one, text, write_plan

TOPIC = "冬季调峰气保供服务方案推介会"
# A month with nothing else to say: the campaign chapter alone.
BULLETIN = Bulletin(period="2026-11", department="资源与市场部", deadline=date(2026, 11, 28),
                    generated_at=at(2026, 11, 30, 9), units=(), customers=(), vip=(), risks=(), coordination=(),
                    urgent=())


def test_an_event_planned_as_a_visit_shows_on_the_campaigns_board_chapter_and_history(
        app: App, clock: Clock, tmp_path: Path) -> None:
    launch_campaign(app, plan_file(tmp_path))
    with pytest.raises(PlanError, match="campaign: 没有编号为 TG-2026-09 的全国性产品及服务方案"):
        plan_visit(app, write_plan(tmp_path / "wrong.yaml", campaign="TG-2026-09"))

    plan_visit(app, write_plan(tmp_path / "event.yaml", campaign="TG-2026-01", topic=TOPIC))
    notice = one(app, "visit:VIS-2026-0001:notice:seq0")
    assert "推广方案：TG-2026-01 冬季调峰气保供服务方案" in text(notice)
    assert "推广方案：TG-2026-01 冬季调峰气保供服务方案" in str(event(invitation(notice))["DESCRIPTION"])
    (planned,) = board(app, "TG-2026-01")["events"]
    assert planned == {"visit": "VIS-2026-0001", "kind": "拜访", "customer": "S001", "name": "国家电网有限公司",
                       "topic": TOPIC, "date": "2026-11-20", "units": ["北京分公司", "广东分公司", "江苏分公司"],
                       "state": "计划中", "follow_ups": {"open": 0, "done": 0}}

    # Held: the minutes are asked for and come back by reply, with two follow-ups — the visits machinery's own.
    clock.set(2026, 11, 20, 14)
    visit_jobs(app)
    answer_to(app, one(app, "visit:VIS-2026-0001:summary-request"), SUNYUE, SUMMARY)
    data = board(app, "TG-2026-01")
    (held,) = data["events"]
    assert held["state"] == "纪要已归档" and held["follow_ups"] == {"open": 2, "done": 0}
    assert ("    2026-11-20 VIS-2026-0001 拜访S001 国家电网有限公司：冬季调峰气保供服务方案推介会（北京分公司、广东分公司、"
            "江苏分公司；纪要已归档；后续事项 2 项办理中、0 项已完成）") in board_lines(data)
    page = report_html(data, app.department, app.now())
    assert "五、推广会、见面会" in page and "VIS-2026-0001" in page and TOPIC in page

    with app.sessions() as s:
        (november,) = gather_campaigns(s, at(2026, 11, 1), at(2026, 12, 1))
        (december,) = gather_campaigns(s, at(2026, 12, 1), at(2027, 1, 1))
        # Each as it stood at the window's end: before the day, the event is still to come.
        (before,) = gather_campaigns(s, at(2026, 11, 1), at(2026, 11, 14))
        history = customer_campaigns(s, customers_by_code(s)["S001"].id)
    assert [(e.visit, e.state, e.follow_ups_open, e.units) for e in november.events] == [
        ("VIS-2026-0001", "纪要已归档", 2, ("北京分公司", "广东分公司", "江苏分公司"))]
    assert december.events == ()
    assert [(e.state, e.follow_ups_open) for e in before.events] == [("计划中", 0)]
    chapter = re.sub(r"<[^>]+>|\s+", "", render_bulletin_html(replace(BULLETIN, campaigns=(november,))))
    assert f"推广会、见面会：11月20日09:30VIS-2026-0001国家电网有限公司“{TOPIC}”" in chapter
    assert "（北京分公司、广东分公司、江苏分公司；纪要已归档，后续事项2项未完成）" in chapter
    (shown,) = [e for e in history if e.stage_line.startswith("推广会、见面会")]
    assert shown.stage_line == f"推广会、见面会：{TOPIC}（VIS-2026-0001，纪要已归档）" and shown.number == "TG-2026-01"
