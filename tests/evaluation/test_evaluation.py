"""The units' maintenance evaluation (维护工作评估, §4.1 b) of a small quarter built through the real pipeline —
reports on time, late and never; an error reply; 诉求 answered fast and late; an urgent matter; a follow-up done
late; a survey answer — every figure checked against a hand computation, on SQLite and PostgreSQL.

The quarter (2026-Q4, evaluated on 2027-01-05; the demo directory's six units were asked every month):

    GD  Oct on time; Nov: an error reply (风险等级 很高), then accepted on time, corrected after the deadline
        (v2 decides completeness, v1 on time); Dec on time.  诉求 SQ-2026-0001 (from its Nov report) answered in
        2.21 days, closed in 2.96; urgent SQ-2026-0002 taken up by HQ after 1.5 h, never answered (late).
    SC  Oct late, Nov on time (诉求 SQ-2026-0003, answered 20 days later, after its due date), Dec missing.
    BJ  never reports; owns follow-up VIS-2026-0001-1, due 12-10, done 12-11 (late).
    JS  never reports.   SX, XJ  never report, nothing else.
    S001 (served by GD, BJ, JS) answers the survey itself: 5, 3, 4 → 4.00.  V002 is answered by GD for its
    customer (代填: 5, 5, 5), which does not count by default — a unit does not grade itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.db.models import Visit
from mailbot.demo import replies
from mailbot.evaluation.chapter import gather_evaluation
from mailbot.evaluation.measures import Evaluation, UnitResult
from mailbot.evaluation.period import EvalPeriod
from mailbot.evaluation.report import render_explain, render_table
from mailbot.evaluation.schedule import due_periods, mail_evaluation, run_due
from mailbot.evaluation.store import evaluation_of
from mailbot.reports.schedule import send_requests
from mailbot.surveys.store import launch_survey
from mailbot.visits.schedule import visit_jobs
from mailbot.visits.store import plan_visit
from tests.support.mailflow import (
    GD,
    HQ,
    LIUYANG,
    PROJECT,
    SC,
    SUMMARY,
    SUNYUE,
    Clock,
    answer_to,
    arrive,
    latest,
    one,
    outbox,
    request_raw,
    text,
    write_plan,
)

ZHAOMIN = ("赵敏", "zhaomin@sgcc.example.com")   # S001's own contact
SURVEY = """\
number: MY-2026-01
title: 2026年冬季保供客户满意度调查
deadline: 2026-11-20
customers: [S001, V002]
questions: [资源供应保障, 服务响应速度, 总体满意度]
"""
REPORTERS = {"GD": ("李明", "020-38886666"), "SC": ("王静", "028-86661234")}


def unit_report(app: App, unit: str, sender: tuple[str, str], month: str, answers: Mapping[str, Any]) -> None:
    """The unit's contact answers that month's request now, with these form answers."""
    arrive(app, replies.reply(request_raw(app, unit, month), sender=sender, at=app.now(), answers=dict(answers),
                              reporter=REPORTERS[unit]))


def filled_survey(form: str, answers: Mapping[str, str]) -> str:
    """The survey form from our mail with answers typed after the colons."""
    out = [line + next((v for k, v in answers.items() if line.startswith(k)), "") for line in form.splitlines()]
    start = next(i for i, line in enumerate(out) if line.startswith("【满意度调查】"))
    end = next(i for i, line in enumerate(out) if line.startswith("【填报结束】"))
    return "\n".join(out[start:end + 1])


def build_quarter(app: App, clock: Clock, tmp_path: Path) -> None:
    clock.set(2026, 10, 15, 9)
    send_requests(app, "2026-10")
    clock.set(2026, 10, 20, 10)  # GD, Oct, on time: 2 + 2 of its 42 fields
    unit_report(app, "GD", GD, "2026-10", {"S001": {"1": "已签订框架协议。", "5": "价格条款待谈。"},
                                           "V001": {"问题或诉求": "高峰增供。", "本单位处理情况": "已协调。"}})
    clock.set(2026, 10, 30, 10)  # SC, Oct, late (deadline 10-28): 2 of its 40 fields
    unit_report(app, "SC", SC, "2026-10", {"S002": {"1": "合同执行正常。", "6": "结算争议一项。"}})

    clock.set(2026, 11, 13, 9)
    (tmp_path / "survey.yaml").write_text(SURVEY, encoding="utf-8")
    launch_survey(app, tmp_path / "survey.yaml")
    plan_visit(app, write_plan(tmp_path / "visit.yaml"))
    clock.set(2026, 11, 16, 9)
    send_requests(app, "2026-11")
    clock.set(2026, 11, 16, 10)
    form = one(app, "survey-form:MY-2026-01-S001")
    answer_to(app, form, ZHAOMIN, filled_survey(text(form), {"1. ": "5", "2. ": "3分", "3. ": "满意"}))
    form = one(app, "survey-form:MY-2026-01-V002")
    answer_to(app, form, GD, filled_survey(text(form), {"1. ": "5", "2. ": "5", "3. ": "5"}))

    clock.set(2026, 11, 18, 9)  # GD, Nov: refused, one error reply
    unit_report(app, "GD", GD, "2026-11", {"S001": {"1": "框架协议。", "风险等级": "很高"}})
    clock.set(2026, 11, 18, 10)  # accepted on time (v1), opening SQ-2026-0001
    unit_report(app, "GD", GD, "2026-11", {"S001": {"4": "请总部协调冬季保供气量。", "需总部协调": "是"}})
    clock.set(2026, 11, 19, 8)  # an urgent matter: SQ-2026-0002, taken up at 09:30, never answered
    arrive(app, replies.build(sender=GD, to=HQ, at=app.now(), subject="【紧急】S001 支线泄漏",
                              body="今晨S001供气支线泄漏，已关阀抢修。"))
    clock.set(2026, 11, 19, 9, 30)
    answer_to(app, latest(app, "urgent:"), LIUYANG, "状态：处理中")
    clock.set(2026, 11, 20, 10)  # SC, Nov, on time: 1 field, opening SQ-2026-0003 (due 12-04 10:00)
    unit_report(app, "SC", SC, "2026-11", {"S002": {"4": "请协调LNG接收站窗口期。", "需总部协调": "是"}})
    clock.set(2026, 11, 20, 14)
    visit_jobs(app)
    clock.set(2026, 11, 20, 15)
    answer_to(app, one(app, "req-notice:SQ-2026-0001:assigned"), LIUYANG, "答复：已协调增加保供气量。")
    clock.set(2026, 11, 21, 9)
    answer_to(app, one(app, "req-notice:SQ-2026-0001:assigned"), LIUYANG, "关闭")
    clock.set(2026, 11, 23, 10)  # BJ files the visit's minutes: follow-up 1 is 孙悦's, due 12-10
    answer_to(app, one(app, "visit:VIS-2026-0001:summary-request"), SUNYUE, SUMMARY)
    clock.set(2026, 12, 1, 10)  # GD corrects November after the deadline (v2: 1 + 3 fields); v1 stays on time
    unit_report(app, "GD", GD, "2026-11", {"S001": {"4": "请总部协调冬季保供气量。", "需总部协调": "否"},
                                           "S002": {"1": "执行正常。", "2": "建议优化。", "3": "已跟进。"}})

    clock.set(2026, 12, 7, 9)
    send_requests(app, "2026-12")
    clock.set(2026, 12, 10, 10)  # GD, Dec, on time: 4 + 2 fields; SQ-2026-0003 answered, 20 days after it came
    unit_report(app, "GD", GD, "2026-12", {
        "S001": {"1": "续签中。", "2": "无异议。", "3": "已落实。", "9": "另有一事。"},
        "V002": {"问题或诉求": "调价。", "本单位处理情况": "已解释。"}})
    answer_to(app, one(app, "req-notice:SQ-2026-0003:assigned"), LIUYANG, "答复：窗口期已安排。")
    clock.set(2026, 12, 11, 16)  # 孙悦 reports follow-up 1 done, a day late
    with app.sessions() as s:
        first = s.scalars(select(Visit)).one().follow_ups[0].id
    answer_to(app, one(app, f"followup:{first}:assigned"), SUNYUE, "已完成。")
    clock.set(2027, 1, 5, 9)


@pytest.fixture(scope="module")
def quarter(module_app: App, tmp_path_factory: pytest.TempPathFactory) -> App:
    """The quarter, built once per database for the module. Its tests read it; the one that mails comes last."""
    build_quarter(module_app, module_app.clock, tmp_path_factory.mktemp("quarter"))  # type: ignore[arg-type]
    return module_app


def evaluation(app: App, key: str = "2026-Q4") -> Evaluation:
    with app.sessions() as s:
        return evaluation_of(s, EvalPeriod.parse(key), app.now(), app.tz, app.settings.evaluation)


def by_code(ev: Evaluation) -> dict[str, UnitResult]:
    return {u.code: u for u in ev.units}


def values(u: UnitResult) -> dict[str, float | None]:
    return {k: None if m.value is None else round(m.value, 4) for k, m in u.measures.items()}


def test_each_measure_is_what_the_records_give_by_hand(quarter: App) -> None:
    ev = evaluation(quarter)
    units = by_code(ev)
    assert values(units["GD"]) == {
        "on_time": 1.0,                      # 3 months on time
        "completeness": round(14 / 126, 4),  # (4 + 4 + 6) fields of 3 × 42 (4 strategic × 9 + 3 VIP × 2)
        "corrections": round(1 / 3, 4),      # 1 error reply, 3 accepted reports
        "requests_by_due": 0.5,              # SQ-0001 answered by its due date; urgent SQ-0002 unanswered, past due
        "answer_days": round(53 / 24, 4),    # SQ-0001: 11-18 10:00 → 11-20 15:00 = 2 d 5 h
        "close_days": round(71 / 24, 4),     # SQ-0001: → 11-21 09:00 = 2 d 23 h
        "follow_ups": None,                  # none of its own
        "satisfaction": 4.0,                 # S001: (5 + 3 + 4) / 3; its 代填 for V002 does not count
        "urgent_count": 1.0,
        "urgent_hours": 1.5,                 # 08:00 → 09:30
    }
    assert values(units["SC"]) == {
        "on_time": 0.5,                      # (1 on time + 0.5 × 1 late + 0 missing) / 3
        "completeness": round(3 / 80, 4),    # (2 + 1) of 2 × 40 (4 × 9 + 2 × 2)
        "corrections": 0.0, "requests_by_due": 0.0, "answer_days": 20.0, "close_days": None,
        "follow_ups": None, "satisfaction": None, "urgent_count": 0.0, "urgent_hours": None}
    assert values(units["BJ"]) == {
        "on_time": 0.0, "completeness": None, "corrections": None, "requests_by_due": None, "answer_days": None,
        "close_days": None, "follow_ups": 0.0, "satisfaction": 4.0, "urgent_count": 0.0, "urgent_hours": None}
    assert units["SC"].measures["on_time"].cell == "1/1/1" and units["BJ"].measures["on_time"].cell == "0/0/3"


def test_scores_and_ranks_leave_out_what_a_unit_has_no_data_for(quarter: App) -> None:
    # Scores (weights .25 on time, .15 complete, .10 corrections, .10 by due, .05 answer, .05 close, .15 follow-ups,
    # .15 satisfaction), each over the weights of the measures the unit has:
    #   GD (25 + .15×11.11 + .10×83.33 + .10×50 + 5 + 5 + .15×75) / .85 = 61.25 / .85 = 72.06
    #   SC (.25×50 + .15×3.75 + 10 + 0 + .05×0) / .65 = 23.0625 / .65 = 35.48
    #   JS (0 + .15×75) / .40 = 28.125    BJ (0 + 0 + 11.25) / .55 = 20.45     SX, XJ 0 (tied)
    ev = evaluation(quarter)
    assert [(u.code, u.rank) for u in ev.units] == [("GD", 1), ("SC", 2), ("JS", 3), ("BJ", 4), ("SX", 5), ("XJ", 5)]
    assert [u.score for u in ev.units] == pytest.approx([61.25 / .85, 23.0625 / .65, 28.125, 11.25 / .55, 0, 0])
    table = render_table(ev)
    row = next(line for line in table.splitlines() if line.startswith("2 "))
    assert "SC 四川分公司" in row and "35.5" in row and " 1/1/1 " in row and "—" in row
    # Q3 had nothing: no change to show, and no zero either.
    assert all(u.score_change is None for u in ev.units)


def test_a_period_without_records_shows_dashes_and_ranks_no_one(quarter: App) -> None:
    ev = evaluation(quarter, "2026-09")
    assert all(u.score is None and u.rank is None for u in ev.units)
    assert {m.cell for u in ev.units for k, m in u.measures.items() if k != "urgent_count"} == {"—"}
    assert "0%" not in render_table(ev)


def test_a_month_is_compared_with_the_month_before(quarter: App) -> None:
    # November against October: SC went from late (50%) to on time (100%), and from 2 to 1 of 40 fields.
    sc = by_code(evaluation(quarter, "2026-11"))["SC"]
    assert sc.measures["on_time"].change == pytest.approx(50)
    assert sc.measures["completeness"].change == pytest.approx(-2.5)
    assert sc.measures["on_time"].cell == "1/0/0"


def test_explain_names_the_records_behind_each_figure(quarter: App) -> None:
    said = render_explain(evaluation(quarter), ["GD"])
    for expected in ("2026-11: submission #", " v1 received 2026-11-18 10:00 — on time",
                     "v2 — 4 of 42 fields answered", "error reply: outbox #", "→ liming@gd.example.cn (2026-11)",
                     "accepted reports: 3 (2026-10, 2026-11, 2026-12)",
                     "SQ-2026-0001 (strategic) raised 2026-11-18 10:00", "answered 2026-11-20 15:00 (2.21 d)",
                     "SQ-2026-0002 raised 2026-11-19 08:00, HQ first responded 2026-11-19 09:30 (1.5 h)",
                     "MY-2026-01-S001 v1 received 2026-11-16 10:00: scores 5, 3, 4 → mean 4.00",
                     "MY-2026-01-V002 v1", "代填), not counted", "follow_ups (跟踪事项按期完成率): 无"):
        assert expected in said, expected
    assert "SC " not in said
    bj = render_explain(evaluation(quarter), ["BJ"])
    assert "VIS-2026-0001-1 due 2026-12-10, done 2026-12-11 — late" in bj
    assert "2026-12: no accepted report, deadline 2026-12-28 passed — missing" in bj


def test_the_chapter_is_given_for_months_that_close_a_quarter(quarter: App) -> None:
    with quarter.sessions() as s:
        cfg = quarter.settings.evaluation
        assert gather_evaluation(s, "2026-11", quarter.now(), quarter.tz, cfg) is None
        chapter = gather_evaluation(s, "2026-12", quarter.now(), quarter.tz, cfg)
    assert chapter is not None and chapter.period_label == "2026年第四季度"
    assert [(r.rank, r.code, r.score) for r in chapter.rows][:2] == [("1", "GD", "72.1"), ("2", "SC", "35.5")]
    assert chapter.headers[0] == "按时报送" and chapter.rows[3].cells[1] == "—"


def test_the_calendar_mails_a_closed_quarter_only_when_configured(make_app: Callable[..., App],
                                                                  clock: Clock) -> None:
    # Q3 closes 09-30; 10-01..10-07 is the National Day holiday, so the mail goes on Thursday 10-08, once.
    off = make_app()
    clock.set(2026, 10, 8, 9)
    assert run_due(off).queued == []
    on = make_app(evaluation={"schedule": True})
    clock.set(2026, 10, 7, 9)
    assert run_due(on).queued == []
    clock.set(2026, 10, 8, 9)
    assert [k for k, _, _ in run_due(on).queued][-1] == "evaluation:2026-Q3:board"
    assert run_due(on).queued == []
    assert outbox(on, "evaluation:2026-Q3:unit:SC")[0].recipients == "yanggd@sc.example.cn,wangjing@sc.example.cn"
    # After Q4 the year goes with it.
    assert [p.key for p in due_periods(date(2027, 1, 4), on)] == ["2026-Q4", "2026"]


# The command's printing, exit codes and mailing are the same on both databases (their figures are tested on both
# above): run through subprocesses once, on SQLite.
@pytest.mark.parametrize("module_app", ["sqlite"], indirect=True)
def test_the_command_prints_the_table_explains_and_mails(quarter: App, tmp_path: Path) -> None:
    # The operator's view, as a subprocess on the scenario's database: November, GD explained; then --json; then
    # --mail --dry-run queues nothing.
    config = tmp_path / "mailbot.yaml"
    config.write_text(json.dumps({
        "database": {"url": quarter.settings.database.url}, "directory": str(PROJECT / "config/directory.example.yaml"),
        "mailbox": {"path": str(tmp_path / "mail")}, "outbox": {"path": str(tmp_path / "outbox")},
        "identity": {"address": HQ, "token_secret_env": None}}), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mailbot", "--config", str(config), "evaluate", *args],
                              capture_output=True, text=True, cwd=PROJECT, env=env, timeout=120)

    r = run("--period", "2026-11", "--unit", "GD", "--explain")
    assert r.returncode == 0, r.stderr
    assert "2026年11月 (2026-11)" in r.stdout and "GD 广东分公司" in r.stdout and "SC 四川分公司" not in r.stdout
    assert "SQ-2026-0001 (strategic)" in r.stdout and "error reply: outbox #" in r.stdout
    r = run("--period", "2026-11", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    gd = next(u for u in data["units"] if u["code"] == "GD")
    assert gd["measures"]["on_time"]["detail"] == {"on_time": 1, "late": 0, "missing": 0, "months": 1}
    assert gd["measures"]["follow_ups"]["value"] is None
    r = run("--period", "2026-Q4", "--mail", "--dry-run")
    assert r.returncode == 0 and "would queue 7 mail(s)" in r.stdout
    assert outbox(quarter, "evaluation:") == []
    assert run("--period", "2026-13").returncode == 2


# Mails go out: the last of the module's tests on the quarter (the command above must find none queued).
def test_each_unit_leader_gets_their_own_unit_only_and_the_head_the_table(quarter: App) -> None:
    plan = mail_evaluation(quarter, EvalPeriod.parse("2026-Q4"))
    assert len(plan.queued) == 7 and mail_evaluation(quarter, EvalPeriod.parse("2026-Q4")).queued == []
    gd = one(quarter, "evaluation:2026-Q4:unit:GD")
    assert gd.recipients == "huangzq@gd.example.cn,liming@gd.example.cn"   # 单位负责人, its 联系人 in copy
    body = text(gd)
    assert gd.subject == "【维护工作评估】2026年第四季度 广东分公司 得分72.1"
    assert "在 6 个参加排名的所属单位中列第 1 名" in body
    assert "做得较好：按时报送——按时3个月，迟报0个月，未报0个月" in body
    assert "有待改进：填报完整度——11%（14/126项）" in body
    assert "跟踪事项按期完成率：无到期的跟踪事项" in body
    others = ("四川", "北京", "江苏", "陕西", "新疆", "35.5")
    assert not any(o in body or o in gd.raw.decode("ascii", "replace") for o in others)
    board = one(quarter, "evaluation:2026-Q4:board")
    assert board.recipients == "zhangwei@hq.example.cn"
    table = text(board)
    assert "1. 广东分公司（GD）得分 72.1" in table and "5. 新疆分公司（XJ）得分 0.0" in table
    assert "按时报送：1/1/1" in table
