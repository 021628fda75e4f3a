"""The `mailbot` command as an operator types it (subprocesses, the installed console script)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from mailbot.db.session import make_engine
from tests.support.mailflow import PROJECT

MAILBOT = [sys.executable, "-m", "mailbot"]


def run(*args: str, cwd: Path = PROJECT, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.run([*MAILBOT, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env)


def test_help_lists_every_command_with_a_line_of_help() -> None:
    # `mailbot --help` names each command the README documents.
    out = run("--help").stdout
    for cmd in ("run", "parse", "db", "send-requests", "remind", "escalate", "compile", "status", "reparse", "demo",
                "check-config", "requests", "visit", "customer", "survey", "campaign", "evaluate", "backup", "restore"):
        assert f"    {cmd}" in out, cmd


def test_parse_prints_the_form_json(tmp_path: Path) -> None:
    # `mailbot parse FILE --json` prints the FORM.md object and exits 0.
    from parsers import render_form

    form = render_form(token="KCR-202611-GD", unit_code="GD", unit_name="广东分公司", period="2026-11",
                       strategic=[("S001", "国家电网有限公司")], vip=[])
    form = form.replace("风险等级（无/一般/重大）：", "风险等级（无/一般/重大）：一般")
    eml = tmp_path / "r.eml"
    eml.write_bytes(("From: a@gd.example.cn\nSubject: re\nContent-Type: text/plain; charset=utf-8\n\n" + form).encode())
    r = run("parse", str(eml), "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert (data["kind"], data["token"], data["unit"], data["period"]) == ("monthly_report", "KCR-202611-GD", "GD", "2026-11")
    assert data["strategic"][0]["risk"] == "一般"


@pytest.mark.parametrize(("fixture", "line"), [
    ("surveys/plain_utf8_top_filled.eml", "survey: MY-2026-01  customer: S001"),
    ("campaigns/outlook_plain_two_customers.eml", "campaign: TG-2026-01  unit: GD  customers: 2"),
    ("campaigns/monthly_with_campaign_blocks.eml", "campaign forms: 1"),
])
def test_parse_summarises_survey_and_campaign_replies_in_one_line_each(fixture: str, line: str) -> None:
    # Without --json the summary names what the reply answers, whichever form it is.
    r = run("parse", str(PROJECT / "tests/fixtures" / fixture))
    assert r.returncode == 0, r.stderr
    assert line in r.stdout


def test_parse_of_a_missing_or_unreadable_file_exits_2(tmp_path: Path) -> None:
    # No file, or bytes that are no message: exit 2 and one line on stderr.
    r = run("parse", str(tmp_path / "nope.eml"), "--json")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stdout == ""
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"")
    r = run("parse", str(empty), "--json")
    assert r.returncode == 2 and r.stderr.strip()


def test_parse_of_a_nul_in_the_charset_label_prints_json(tmp_path: Path) -> None:
    # charset="utf-8\0" with an 8-bit body: JSON and exit 0, not a ValueError traceback.
    eml = tmp_path / "nul.eml"
    eml.write_bytes(b'From: a@gd.example.cn\nSubject: t\nContent-Type: text/plain; charset="utf-8\x00"\n'
                    b"Content-Transfer-Encoding: 8bit\n\n" + "月报见附件".encode())
    r = run("parse", str(eml), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kind"] == "unknown" and "Traceback" not in r.stderr


def test_wrong_config_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    # A typo in the config names file and key, exit 1.
    cfg = tmp_path / "m.yaml"
    cfg.write_text("schedule:\n  deadline_dy: 28\n")
    r = run("--config", str(cfg), "status")
    assert r.returncode == 1 and "schedule.deadline_dy: unknown key" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`make demo`'s command, run once for the tests that read what it leaves: (its directory, what it printed)."""
    root = tmp_path_factory.mktemp("demo") / "demo"
    r = run("demo", "--dir", str(root), timeout=300)
    assert r.returncode == 0, r.stderr
    return root, r.stdout


def test_demo_leaves_a_bulletin_and_an_outbox_and_status_reads_it(demo: tuple[Path, str]) -> None:
    # `make demo`'s command: October and November with a campaign beside them, then a survey. The PDFs and the
    # outgoing mails (112 from the two months, 12 from the survey: seven forms, three acknowledgements, the low
    # score's 诉求 notice, the report) are left where it says; `status` shows the month.
    root, printed = demo
    assert (root / "bulletins/重点客户月报-2026-10.pdf").stat().st_size > 10_000
    assert "outbox (112 mails from the two months, 124 with the survey's)" in printed
    assert (root / "surveys/满意度调查报告-MY-2026-01.pdf").stat().st_size > 10_000
    assert "MY-2026-01：已结束：3/7 位客户已答复" in printed and "2026年第四季度 (2026-Q4)" in printed
    s = run("--config", str(root / "mailbot.yaml"), "status", "--period", "2026-11")
    # The demo's daemon stopped at its simulated month's end: silence is an alarm (exit 2), quarantine a warning.
    assert s.returncode == 2, s.stderr
    assert "state: ALARM" in s.stdout and "warning: 9 message(s) in quarantine" in s.stdout
    j = run("--config", str(root / "mailbot.yaml"), "status", "--period", "2026-11", "--json")
    assert j.returncode == 2 and json.loads(j.stdout)["units"][4]["state"] == "missing"   # SX
    assert "SC      四川分公司    yes         v1 LATE" in s.stdout and "quarantine: 9 message(s)" in s.stdout
    assert "aili@xj.example.cn (XJ 艾力)" in s.stdout and "handed over to HQ staff in the last 30 days: 2" in s.stdout


def test_the_demo_november_bulletin_compares_with_october_and_carries_the_campaign(demo: tuple[Path, str]) -> None:
    # Page 1 names every 重大-risk customer (S003 by report, S007 and S011 by urgent mail) and every overdue 诉求,
    # with figures against October; the campaign launched in October shows its funnel after two rounds.
    root, printed = demo
    pdf = root / "bulletins/重点客户月报-2026-11.pdf"
    pages = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    page1 = re.sub(r"\s+", "", pages.split("\f")[0])
    # The 诉求 overdue at the issue: the two urgent ones and the campaign's call for HQ support (due 11-24).
    for name in ("华润燃气控股有限公司", "陕西延长石油（集团）有限责任公司", "中国大唐集团有限公司", "SQ-2026-0005",
                 "SQ-2026-0006", "SQ-2026-0001", "2026年第2期", "上月66.7%", "签发：张伟"):
        assert name in page1, name
    funnel = re.sub(r"\s+", " ", pages[pages.index("全国性方案推广"):])
    assert "TG-2026-01 冬季调峰气保供服务方案" in funnel and "S001 国家电网有限公司（广东分公司）已宣贯→洽谈中" in funnel
    board = printed[printed.index("campaign's board"):printed.index("satisfaction survey")]
    assert "合计：目标客户 8 个 | 未开展 2 已宣贯 1 有意向 3 洽谈中 1" in board, board
    assert "campaign-escalation:TG-2026-01-BJ:r1" in printed and "v1 round 2" in printed


def test_customer_archive_after_the_demo_month(demo: tuple[Path, str], tmp_path: Path) -> None:
    # `mailbot customer S001` shows the visit, its minutes and follow-ups, and its survey answer; `--pdf` writes the
    # dossier.
    cfg = str(demo[0] / "mailbot.yaml")
    r = run("--config", cfg, "customer", "S001")
    assert r.returncode == 0, r.stderr
    assert "VIS-2026-0001" in r.stdout and "提交2027年度合同量及价格机制方案" in r.stdout and "SQ-2026-0001" in r.stdout
    assert "【满意度调查】MY-2026-01" in r.stdout and "3. 服务响应速度：2 不满意" in r.stdout
    pdf = tmp_path / "s001.pdf"
    r = run("--config", cfg, "customer", "S001", "--pdf", str(pdf))
    assert r.returncode == 0, r.stderr
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "客户档案" in text and "国家电网有限公司" in text


def test_demo_refuses_to_wipe_a_directory_it_did_not_make(tmp_path: Path) -> None:
    # `make demo` may run as root: a --dir that holds someone's files is left alone, with one line saying why.
    precious = tmp_path / "data"
    precious.mkdir()
    (precious / "mailbot.sqlite3").write_bytes(b"production")
    r = run("demo", "--dir", str(precious))
    assert r.returncode == 1 and "was not made by mailbot demo; not deleting it" in r.stderr
    assert (precious / "mailbot.sqlite3").read_bytes() == b"production" and "Traceback" not in r.stderr


def test_db_upgrade_check_says_whether_an_upgrade_is_pending(tmp_path: Path) -> None:
    # Before an upgrade: pending, exit 1 (and nothing is changed); after it: up to date, exit 0.
    cfg = tmp_path / "m.yaml"
    cfg.write_text(f"data_dir: {tmp_path}\ndatabase:\n  url: sqlite:///{tmp_path / 'db.sqlite3'}\n", encoding="utf-8")
    before = run("--config", str(cfg), "db", "upgrade", "--check")
    assert before.returncode == 1 and "none (empty)" in before.stdout and "run `mailbot db upgrade`" in before.stdout
    assert sqlite3.connect(tmp_path / "db.sqlite3").execute(   # nothing changed: still no table
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone() == (0,)
    assert run("--config", str(cfg), "db", "upgrade").returncode == 0
    after = run("--config", str(cfg), "db", "upgrade", "--check")
    assert after.returncode == 0 and "up to date" in after.stdout


def test_check_config_reports_the_schema_and_changes_nothing(tmp_path: Path, db_url: str) -> None:
    # Before the first start (README "Deploying"): the database is reached and its schema reported, not upgraded —
    # on PostgreSQL it used to fail "not up to date", on SQLite it migrated the file.
    cfg = tmp_path / "m.yaml"
    cfg.write_text(json.dumps({"data_dir": str(tmp_path), "database": {"url": db_url},
                               "mailbox": {"path": str(tmp_path / "mail")}, "outbox": {"path": str(tmp_path / "out")}}),
                   encoding="utf-8")
    r = run("--config", str(cfg), "check-config")
    assert r.returncode == 0, r.stderr
    assert "schema empty; `mailbot db upgrade` brings it to" in r.stdout and "ok    mailbox (maildir)" in r.stdout
    engine = make_engine(db_url)
    assert inspect(engine).get_table_names() == [] and "people" not in r.stdout
    engine.dispose()

