"""The one test API: the clock, the people of the demo directory, mail arriving, and what the bot queued.

Tests speak in these words — a unit reports, a person answers one of our mails, the clock moves — and read the
outbox the way a recipient would, so a change of the pipeline's internals changes this file, not the tests.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from icalendar import Calendar
from sqlalchemy import func, select

from mailbot.app import App
from mailbot.db.models import OutboxMail, Quarantine, Request
from mailbot.demo import replies
from mailbot.mailboxes.maildir import deliver
from mailbot.pipeline import intake
from mailbot.reports.schedule import send_requests
from mailbot.settings import Settings

PROJECT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")

# The bot's own address and the people of config/directory.example.yaml, as (name, address).
HQ = "kcr@hq.example.cn"
GD = ("李明", "liming@gd.example.cn")  # 广东分公司's contact
BJ = SUNYUE = ("孙悦", "sunyue@bj.example.cn")  # 北京分公司's contact
SC = WANGJING = ("王静", "wangjing@sc.example.cn")  # 四川分公司's contact
LIUYANG = ("刘洋", "liuyang@hq.example.cn")  # 总部对接人 of S001
CHENJING = ("陈静", "chenjing@hq.example.cn")  # 总部对接人 of V001

# A routine report on S001, and one that asks HQ for help (it opens 诉求 SQ-2026-0001).
ROUTINE = {"S001": {"1": "已签订2027年度框架协议。", "风险等级": "一般", "需总部协调": "否"}}
# GD's November report on S001 (asking HQ for help) and V001.
GOOD = {"S001": {"1": "已签订2027年度框架协议。", "4": "请总部协调冬季保供气量。", "风险等级": "一般", "需总部协调": "是"},
        "V001": {"问题或诉求": "高峰期增供500万方。", "本单位处理情况": "已协调本地资源。", "需总部协调": "否"}}
NEEDS_HQ = {"S001": {"4": "请总部协调2027年冬季保供气量。", "风险等级": "一般", "需总部协调": "是"}}


class Clock:
    """A settable clock: tests move time instead of waiting for it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, *args: int) -> datetime:
        self.now = datetime(*args, tzinfo=TZ)  # type: ignore[misc]
        return self.now


def at(*a: int) -> datetime:
    """A moment in Beijing time: at(2026, 11, 18, 10)."""
    return datetime(*a, tzinfo=TZ)  # type: ignore[misc]


def test_settings(root: Path, db_url: str, **overrides: object) -> Settings:
    """Settings of a test App: everything under `root`, the demo directory, `db_url`."""
    data: dict[str, object] = {
        "home": PROJECT, "source": "(test)", "data_dir": str(root),
        "database": {"url": db_url}, "mailbox": {"path": str(root / "mail")},
        "outbox": {"path": str(root / "outbox")}, "directory": "config/directory.example.yaml",
        "identity": {"address": HQ, "token_secret_env": None},
    }
    data.update(overrides)
    return Settings.model_validate(data)


test_settings.__test__ = False  # type: ignore[attr-defined]


# --- mail arriving -----------------------------------------------------------------------------------------


def drop(app: App, raw: bytes, when: datetime | None = None) -> None:
    """Deliver a message into the bot's mailbox (received now, or `when`) without running a pass."""
    deliver(app.settings.path(app.settings.mailbox.path), raw, received_at=when or app.now())


def arrive(app: App, raw: bytes) -> list[intake.Outcome]:
    """A message arrives now and the bot runs one pass over its mailbox."""
    drop(app, raw)
    return intake.run_pass(app)


def arrive_one(app: App, raw: bytes) -> intake.Outcome:
    """A message arrives alone in the mailbox; what the pass made of it."""
    (outcome,) = arrive(app, raw)
    return outcome


def request_raw(app: App, unit: str = "GD", month: str | None = None) -> bytes:
    """This month's request (月度报送通知) to a unit, as the unit received it."""
    month = month or f"{app.now():%Y-%m}"
    with app.sessions() as s:
        raw = s.scalar(select(OutboxMail.raw).where(OutboxMail.idem_key == f"request:{month}:{unit}"))
    assert raw is not None, f"no request for {unit} in {month}"
    return raw


def request_message(app: App, unit: str = "GD") -> EmailMessage:
    """This month's request to a unit, parsed: its Subject and Message-ID are what a reply quotes."""
    return email.message_from_bytes(request_raw(app, unit), policy=email.policy.default)  # type: ignore[return-value]


def gd_report(app: App, answers: dict[str, dict[str, str]] = ROUTINE) -> bytes:
    """GD's answer to this month's request (sent first if it was not) with these form answers."""
    send_requests(app, f"{app.now():%Y-%m}")
    return replies.reply(request_raw(app, "GD"), sender=GD, at=app.now(), answers=answers,
                         reporter=("李明", "020-38886666"))


def report(app: App, answers: dict[str, dict[str, str]]) -> list[intake.Outcome]:
    """GD answers this month's request with these form answers, and the bot reads it."""
    return arrive(app, gd_report(app, answers))


def reply_to(row: OutboxMail, sender: tuple[str, str], body: str, when: datetime, *,
             subject: str | None = None) -> bytes:
    """A bare reply to one of our mails: the person's text only, in our thread."""
    return replies.build(sender=sender, to=HQ, subject=subject or f"答复: {row.subject}", at=when, body=body,
                         in_reply_to=row.message_id)


def answer_to(app: App, row: OutboxMail, sender: tuple[str, str], body: str, *, subject: str | None = None,
              quote: bool = True) -> list[intake.Outcome]:
    """A person answers one of our mails Outlook-style — their text on top, our mail quoted below — now."""
    quoted = "\n".join("> " + line for line in text(row).splitlines()) if quote else ""
    original = f"-----邮件原件-----\n发件人: 总部资源与市场部 <{HQ}>\n主题: {row.subject}\n\n{quoted}"
    return arrive(app, reply_to(row, sender, f"{body}\n\n{original}", app.now(), subject=subject))


# --- what the bot did --------------------------------------------------------------------------------------


def outbox(app: App, prefix: str = "", *, kind: str | None = None) -> list[OutboxMail]:
    """The mails queued under keys starting with `prefix` (and of this kind), oldest first."""
    q = select(OutboxMail).where(OutboxMail.idem_key.like(prefix + "%")).order_by(OutboxMail.id)
    with app.sessions() as s:
        return list(s.scalars(q if kind is None else q.where(OutboxMail.kind == kind)))


def one(app: App, key: str) -> OutboxMail:
    """The mail queued under exactly this key."""
    rows = [r for r in outbox(app, key) if r.idem_key == key]
    assert len(rows) == 1, f"no mail {key}; queued: {[r.idem_key for r in outbox(app)]}"
    return rows[0]


def latest(app: App, prefix: str) -> OutboxMail:
    """The last mail queued under a key starting with `prefix`."""
    rows = outbox(app, prefix)
    assert rows, f"no mail {prefix}; queued: {[r.idem_key for r in outbox(app)]}"
    return rows[-1]


def parsed(row: OutboxMail) -> EmailMessage:
    return email.message_from_bytes(row.raw, policy=email.policy.default)  # type: ignore[return-value]


def text(row: OutboxMail) -> str:
    """The plain-text body of a queued mail, as the recipient reads it."""
    return parsed(row).get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]


def count(app: App, model: type) -> int:
    with app.sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def quarantine_reasons(app: App) -> list[str]:
    with app.sessions() as s:
        return list(s.scalars(select(Quarantine.reason).order_by(Quarantine.id)))


def request(app: App, number: str) -> Request:
    """A 诉求 with its assignee, events and unit loaded."""
    with app.sessions() as s:
        r = s.scalar(select(Request).where(Request.number == number))
        assert r is not None, f"no request {number}"
        _ = (r.assignee, r.events, r.unit)
        return r


def pdf_text(pdf: bytes, tmp_path: Path, *, layout: bool = True) -> str:
    """A PDF's text as pdftotext reads it — what a reader's copy-paste sees (layout kept unless told)."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", "-enc", "UTF-8", *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, check=True, capture_output=True).stdout.decode("utf-8")


# --- a visit (§7) ------------------------------------------------------------------------------------------

VISIT_PLAN = PROJECT / "config" / "visit.example.yaml"

# 孙悦's summary of VIS-2026-0001 (the example plan's visit to S001): two agreed items, two follow-ups, one blank.
SUMMARY = """【拜访纪要填报单】
拜访编号：VIS-2026-0001
【会谈纪要】
双方就2027年度合同量、价格机制和今冬明春保供安排进行了会谈。
国家电网表示2027年度需求量预计增长8%。
【达成事项】
1. 2027年度合同量按增长8%测算，12月底前完成续签。
2. 今冬保供实行日调度、周通报。
【后续事项1】
事项：提供北京地区2027年分月用气需求预测
责任人：孙悦
完成时限：2026-12-10
【后续事项2】
事项：价格机制调整方案报集团审议
责任人：刘洋（资源与市场部）
完成时限：12月15日前
【后续事项3】
事项：
责任人：
完成时限：
【填报结束】"""


def write_plan(path: Path, **changes: Any) -> Path:
    """The example plan with some keys changed (None removes a key)."""
    data = yaml.safe_load(VISIT_PLAN.read_text(encoding="utf-8"))
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path




def invitation(row: OutboxMail) -> Calendar:
    """The calendar invitation a visit notice carries."""
    (part,) = [p for p in parsed(row).iter_attachments() if p.get_content_type() == "text/calendar"]
    raw = part.get_payload(decode=True)
    assert isinstance(raw, bytes)
    cal = Calendar.from_ical(raw)
    assert part.get_param("method") == cal["METHOD"]  # clients offer accept/decline only when the part says it
    return cal


def event(cal: Calendar) -> Any:
    (ev,) = cal.walk("VEVENT")
    return ev
