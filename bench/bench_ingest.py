"""Benchmark the inbound pipeline's throughput on a month's worth of mixed mail.

Builds a scratch HQ (the demo directory: six units, 12 strategic and 10 VIP
customers), sends the month's requests (period 2026-11), then generates
--messages mails (default 2,000) the way units' mail clients write them
(`mailbot.demo_mail`: Outlook `-----邮件原件-----` and Foxmail `>` quoting,
UTF-8 and GB18030), spread over 16–27 November:

  report     a filled form from a unit's registered contact, realistic answers
             (1–3 matters per strategic customer, risks, VIP issues, some
             "needs HQ" → a request (诉求) each); resends become version 2, 3…
  error      a form with mistakes (风险等级 较大, 需总部协调 可能) → error reply
  urgent     【紧急】 subject naming a customer → forward to its HQ staff + ack
  chatter    a contact writing without the form → "how to report" answer
  ooo        out-of-office (Auto-Submitted: auto-replied) → recorded, ignored
  stranger   an unregistered sender → quarantine + operator notice
  duplicate  an earlier message delivered a second time → recognised, no effect

and measures one process handling all of them, on each database and backend:

  intake   `intake.run_pass`: fetch → record → parse → authenticate → match →
           validate → persist → act (answers queued) → mark done
  deliver  `outbox.queue.send_pending` of everything the pass queued, to the
           Maildir outbox (a real SMTP server's time is not ours to count)

Databases: SQLite (a file, WAL, as the embedded default) and PostgreSQL
(127.0.0.1:5432 database `test`, a throwaway schema dropped afterwards;
skipped with the reason if it is not reachable). Backends: Maildir (the pure
pipeline cost) and, with --imap, a real Dovecot on loopback (APPENDed before
the clock starts; bodies are fetched, and handled mail moved, 25 at a time).
The sender rate limit (`limits.auto_answers_per_hour`) is raised so every
message gets the answer it would get on a normal day; the clock is fixed at
2026-11-28 08:00.
INFO logging goes to a file, as the daemon's would go to the journal.

Target: ≥ 100 messages/s through intake with SQLite on 2 cores. Medians of
--repeat fresh runs, wall clock and, beside it, this process's CPU time (which
other work on a shared machine disturbs less; PostgreSQL's own CPU is not in
it); --profile prints where the time goes (cProfile, grouped by package).

    .venv/bin/python bench/bench_ingest.py [--messages 2000] [--repeat 3] [--db sqlite,postgres]
        [--imap] [--profile] [--seed 7] [--keep]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from sqlalchemy import select, text  # noqa: E402 - after the path fix above

from mailbot.app import App, build_app
from mailbot.db.migrate import upgrade
from mailbot.db.models import OutboxMail
from mailbot.db.session import make_engine, transaction
from mailbot.demo import replies
from mailbot.directory.config import Directory
from mailbot.directory.lookup import sync_directory
from mailbot.mailboxes.maildir import deliver
from mailbot.outbox.queue import send_pending
from mailbot.pipeline.intake import run_pass
from mailbot.reports.schedule import send_requests
from mailbot.settings import Settings

if TYPE_CHECKING:
    from tests.servers.dovecot import Dovecot

TZ = ZoneInfo("Asia/Shanghai")
HQ = "kcr@hq.example.cn"
PERIOD = "2026-11"
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=TZ)
PG_URL = os.environ.get("MAILBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MIX = {"report": 0.45, "error": 0.13, "urgent": 0.10, "chatter": 0.04, "ooo": 0.08, "stranger": 0.10,
       "duplicate": 0.10}

MATTERS = (
    "已按集团方案签订年度供气框架协议，执行平稳。", "本月供气{n}万方，同比增长{p}%，合同执行率{p}%。",
    "客户反映冬季调峰气量缺口约{n}万方，已启动本地资源协调。", "合同价格联动条款尚未最终确认，存在结算滞后风险。",
    "客户拟扩建LNG储备设施，希望总部在气源和技术方面给予支持。", "地方发改委拟调整非居民用气价格联动机制，可能影响明年结算价格。",
    "客户新任总经理到任，已完成首次拜访，拟于下月安排高层会谈。", "客户应收账款余额{n}万元，账期已超合同约定{p}天，已发函催收。",
    "计量交接存在{p}万方差异，双方正在联合复核。", "双方联合开展冬季保供应急演练，涉及LNG槽车{p}台次。",
    "客户对全国性综合能源服务方案报价提出意见，建议总部研究优惠政策。", "10月拜访时商定的管网互联互通事项，已完成技术交流。",
)
HQ_ASKS = ("请总部出面协调冬季保供气量，增加调峰量约{n}万方。", "请总部与客户集团总部高层沟通欠款事宜。",
           "请总部协调管输费定价事宜，支持我方与地方政府沟通。")
URGENT = ("{name}通知，其主力工厂因上游检修可能于本周五起中断供气三天，影响我方合同供气量约{n}万方，请总部尽快协调。",
          "{name}所属门站发生管线泄漏，已关阀抢修，预计影响供气{p}小时，现场无人员伤亡。",
          "{name}来函称拟暂停执行年度购销合同，涉及气量约{n}万方，请总部领导关注。")
STRANGERS = ("关于天然气行业年会参会邀请", "贵司采购需求咨询", "发票已开具请查收", "Re: 报价单", "系统升级通知",
             "【广告】工业燃气设备展")


@dataclass(frozen=True)
class Mail:
    kind: str
    raw: bytes
    at: datetime


def fill(template: str, rng: random.Random, **names: str) -> str:
    return template.format(n=rng.randint(50, 5000), p=rng.randint(2, 95), **names)


# --- the scratch HQ ----------------------------------------------------------------------------------


def settings(root: Path, db_url: str, **mailbox: object) -> Settings:
    return Settings.model_validate({
        "home": PROJECT, "source": "(bench)", "data_dir": str(root), "database": {"url": db_url},
        "mailbox": {"path": str(root / "mail"), **mailbox}, "outbox": {"path": str(root / "outbox")},
        "directory": "config/directory.example.yaml", "identity": {"address": HQ, "token_secret_env": None},
        "limits": {"auto_answers_per_hour": 1_000_000}})


def make_app(root: Path, db_url: str, **mailbox: object) -> App:
    app = build_app(settings(root, db_url, **mailbox), clock=lambda: NOW)
    upgrade(app.engine)
    with transaction(app.sessions) as s:
        sync_directory(s, app.directory)
    return app


@contextmanager
def database(kind: str, root: Path) -> Iterator[str]:
    """A fresh, empty database URL of each kind."""
    if kind == "sqlite":
        yield f"sqlite:///{root / 'bench.sqlite3'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as c:
            c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def postgres_problem() -> str | None:
    import psycopg

    try:
        psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3).close()
    except psycopg.OperationalError as e:
        return str(e).strip().splitlines()[0]
    return None


# --- the month's mail --------------------------------------------------------------------------------


def answers(unit: str, directory: Directory, rng: random.Random, *, bad: bool) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for c in directory.customers.strategic:
        if unit not in c.units:
            continue
        a = {str(i): fill(rng.choice(MATTERS), rng) for i in rng.sample(range(1, 10), rng.randint(1, 3))}
        a["风险等级"] = rng.choice(("无", "无", "无", "一般", "一般", "重大"))
        if rng.random() < 0.15:
            a["需总部协调"], a["4"] = "是", fill(rng.choice(HQ_ASKS), rng)
        out[c.code] = a
    for c in directory.customers.vip:
        if unit in c.units:
            out[c.code] = {"问题或诉求": fill(rng.choice(MATTERS), rng), "本单位处理情况": fill(rng.choice(MATTERS), rng),
                           "需总部协调": "是" if rng.random() < 0.1 else "否"}
    if bad:  # the mistakes FORM.md's tolerance cannot absorb: answered with the exact problems
        code = rng.choice([k for k in out if k.startswith("S")])
        out[code] |= rng.choice(({"风险等级": "较大"}, {"需总部协调": "可能"}, {"风险等级": "较大", "需总部协调": "看情况"}))
    return out


def month_of_mail(app: App, n: int, seed: int) -> list[Mail]:
    """`n` messages in arrival order; duplicates re-deliver earlier ones a little later."""
    rng = random.Random(seed)
    d = app.directory
    with app.sessions() as s:
        requests = {r.idem_key.rsplit(":", 1)[1]: r.raw
                    for r in s.scalars(select(OutboxMail).where(OutboxMail.kind == "request"))}
    units = {u.code: u for u in d.units}
    names = {c.code: c.name for c in (*d.customers.strategic, *d.customers.vip)}
    mine = {u: [c.code for c in (*d.customers.strategic, *d.customers.vip) if u in c.units] for u in units}
    start, span = datetime(2026, 11, 16, 8, 30, tzinfo=TZ), timedelta(days=11, hours=10)
    kinds = rng.choices(list(MIX), weights=list(MIX.values()), k=n)
    kinds.sort(key=lambda k: k == "duplicate")  # originals first, so a duplicate has something to copy
    mails: list[Mail] = []
    for i, kind in enumerate(kinds):
        at = start + span * rng.random()
        code = rng.choice(list(units))
        contact = rng.choice(units[code].contacts)
        sender = (contact.name, str(contact.email))
        if kind in ("report", "error"):
            raw = replies.reply(requests[code], sender=sender, at=at, reporter=(contact.name, contact.phone or ""),
                                  answers=answers(code, d, rng, bad=kind == "error"),
                                  style=rng.choice(("outlook", "outlook", "foxmail")),
                                  charset=rng.choice(("utf-8", "utf-8", "gb18030")),
                                  note=rng.choice(("", "本月月报已在下方填写，请查收。", "已按要求修改，请以此版为准。")))
        elif kind == "urgent":
            customer = names[rng.choice(mine[code])]
            raw = replies.build(sender=sender, to=HQ, at=at, subject=f"【紧急】{customer}供气异常",
                                  body=f"总部领导：\n{fill(rng.choice(URGENT), rng, name=customer)}\n\n"
                                       f"{contact.name}\n{units[code].name}\n")
        elif kind == "chatter":
            raw = replies.build(sender=sender, to=HQ, at=at, subject="请问本月月报模板在哪里下载",
                                  body="张处长好：\n本月的月报表格我没有找到，麻烦再发一份。谢谢！\n" + contact.name)
        elif kind == "ooo":
            raw = replies.build(sender=sender, to=HQ, at=at, subject="自动回复: [重点客户月报] 重点客户月报填报",
                                  body=f"您好，我正在休假，{rng.randint(17, 30)}日返回，急事请联系{contact.phone or '值班室'}。",
                                  extra={"Auto-Submitted": "auto-replied"})
        elif kind == "stranger":
            raw = replies.build(sender=("推广", f"promo{i}@market{i % 7}.example.com"), to=HQ, at=at,
                                  subject=rng.choice(STRANGERS), body="尊敬的客户：\n" + fill(rng.choice(MATTERS), rng))
        else:
            orig = rng.choice(mails)
            raw, at = orig.raw, orig.at + timedelta(minutes=rng.randint(1, 600))
        mails.append(Mail(kind, raw, at))
    mails.sort(key=lambda m: m.at)
    return mails


# --- one run -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    intake: float      # wall seconds
    cpu: float         # this process's CPU seconds in intake (not PostgreSQL's, not fsync waits)
    deliver: float
    statuses: Counter[str]
    queued: int


def timed_pass(app: App, profile: cProfile.Profile | None) -> Run:
    t, c = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    outcomes = run_pass(app)
    if profile:
        profile.disable()
    t_intake, c_intake = time.perf_counter() - t, time.process_time() - c
    t = time.perf_counter()
    sent = send_pending(app.sessions, app.transport, app.now(), max_attempts=8, limit=1_000_000)
    t_deliver = time.perf_counter() - t
    return Run(t_intake, c_intake, t_deliver, Counter(o.status for o in outcomes), sent.sent)


@contextmanager
def scratch(db: str, **mailbox: object) -> Iterator[App]:
    """A fresh HQ on a fresh database with the month's requests sent; removed afterwards (unless --keep)."""
    root = Path(tempfile.mkdtemp(prefix="mailbot-bench-ingest-"))
    log_handler = logging.FileHandler(root / "mailbot.log", encoding="utf-8")
    log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(log_handler)
    try:
        with database(db, root) as url:
            app = make_app(root, url, **mailbox)
            try:
                send_requests(app, PERIOD)
                send_pending(app.sessions, app.transport, app.now(), max_attempts=8)
                yield app
            finally:
                app.engine.dispose()
    finally:
        logging.getLogger().removeHandler(log_handler)
        log_handler.close()
        if not KEEP:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"  kept {root}")


def run_maildir(db: str, n: int, seed: int, profile: cProfile.Profile | None) -> Run:
    with scratch(db) as app:
        inbox = app.settings.path(app.settings.mailbox.path)
        for m in month_of_mail(app, n, seed):
            deliver(inbox, m.raw, received_at=m.at)
        return timed_pass(app, profile)


def run_imap(db: str, n: int, seed: int, profile: cProfile.Profile | None, dovecot: Dovecot) -> Run:
    account = dovecot.new_user()
    os.environ["MAILBOT_BENCH_IMAP_PASSWORD"] = account.password
    assert dovecot.ports is not None
    with scratch(db, backend="imap", host=dovecot.host, port=dovecot.ports.imap, security="plain",
                 username=account.user, password={"env": "MAILBOT_BENCH_IMAP_PASSWORD"}, backfill=True) as app:
        with dovecot.client(account.user, timeout=60) as c:
            for m in month_of_mail(app, n, seed):
                c.append("INBOX", m.raw, msg_time=m.at)
        try:
            return timed_pass(app, profile)
        finally:
            app.mailbox.close()


# --- main ---------------------------------------------------------------------------------------------

KEEP = False


def main() -> None:
    global KEEP
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3, help="fresh runs per configuration (median)")
    ap.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    ap.add_argument("--imap", action="store_true", help="also through a real Dovecot on loopback")
    ap.add_argument("--profile", action="store_true", help="cProfile the first SQLite Maildir intake")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", action="store_true", help="keep the scratch directories (database, log, outbox)")
    args = ap.parse_args()
    KEEP = args.keep
    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)

    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    if "postgres" in dbs and (why := postgres_problem()):
        print(f"postgres: skipped: {why}")
        dbs.remove("postgres")
    dovecot: Dovecot | None = None
    if args.imap:
        from tests.servers.dovecot import Dovecot as _Dovecot

        dovecot = _Dovecot()
        dovecot.start()
    backends = ["maildir"] + (["imap"] if dovecot else [])
    profile = cProfile.Profile() if args.profile else None
    results: dict[tuple[str, str], list[Run]] = {}
    loads = []
    try:
        for db in dbs:
            for backend in backends:
                for i in range(args.repeat):
                    prof = profile if (profile and db == dbs[0] and backend == "maildir" and i == 0) else None
                    loads.append(os.getloadavg()[0])
                    if backend == "maildir":
                        r = run_maildir(db, args.messages, args.seed, prof)
                    else:
                        assert dovecot is not None
                        r = run_imap(db, args.messages, args.seed, prof, dovecot)
                    results.setdefault((db, backend), []).append(r)
                    print(f"  {db:8} {backend:7} run {i + 1}: intake {r.intake:6.2f} s "
                          f"({args.messages / r.intake:5.0f} msg/s; CPU {r.cpu:6.2f} s), "
                          f"deliver {r.queued} in {r.deliver:5.2f} s", flush=True)
    finally:
        if dovecot:
            dovecot.cleanup()

    first = next(iter(results.values()))[0]
    mix = ", ".join(f"{k} {v}" for k, v in sorted(first.statuses.items()))
    print(f"ingest: {args.messages} messages (outcomes: {mix}; {first.queued} answers queued); one process, "
          f"{os.cpu_count()} cores, load {min(loads):.2f}–{max(loads):.2f}; median of {args.repeat} fresh runs")
    for (db, backend), runs in results.items():
        rates = sorted(args.messages / r.intake for r in runs)
        med = statistics.median(rates)
        cpu = statistics.median(args.messages / r.cpu for r in runs)
        deliver_rate = statistics.median(r.queued / r.deliver for r in runs)
        target = ("  (target ≥ 100: " + ("met" if med >= 100 else "MISSED") + ")") if db == "sqlite" else ""
        print(f"  {db:8} {backend:7}  intake {med:5.0f} msg/s (range {rates[0]:.0f}–{rates[-1]:.0f}), "
              f"{1000 / med:5.1f} ms/msg; on CPU alone {cpu:4.0f} msg/s; outbox to Maildir "
              f"{deliver_rate:5.0f} mail/s{target}")
    if profile:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        print("where the first SQLite Maildir intake spent its time (cProfile own time, by package):")
        for name, share in by_package(stats):
            print(f"  {name:32} {share:5.1f} %")
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(25)
        print(out.getvalue())


def by_package(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Own (not cumulative) profiled time grouped by where the code lives, as % of the total."""
    own: Counter[str] = Counter()
    for (path, _line, func), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "sqlalchemy" in path:
            group = "SQLAlchemy (Python)"
        elif "sqlite3" in func or "psycopg" in path:
            group = "database driver (C / psycopg)"
        elif "/email/" in path:
            group = "stdlib email (compose, generate)"
        elif "/parsers/" in path:
            group = "parsers/"
        elif "jinja2" in path or path.startswith("<template>") or "/templates/" in path:
            group = "Jinja2 templates"
        elif "/mailbot/" in path:
            group = "mailbot/"
        elif path == "~":
            group = "builtins (str, set, re, …)"
        else:
            group = "other"
        own[group] += tottime
    total = sum(own.values()) or 1.0
    return [(k, 100 * v / total) for k, v in own.most_common()]


if __name__ == "__main__":
    main()
