"""Benchmark `mailbot compile` end to end against WeasyPrint alone.

Builds a SQLite database holding one synthetic month — default 40 units and
300 customers (250 strategic, 50 VIP), every unit reporting on each customer it
serves — then measures, as the median of --repeat runs:

  (a) compile  what `mailbot compile --no-mail` does: read the month from the
               database, build the model, render HTML, render and write the PDF
  (b) engine   WeasyPrint alone on the same HTML string, same fetcher and fonts

and prints (a−b)/b: the bulletin's own work on top of the rendering (target < 20 %).

    .venv/bin/python bench/bench_compile.py [--units 40] [--customers 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from mailbot.app import build_app
from mailbot.bulletin.compile import bulletin_path, compile_bulletin
from mailbot.bulletin.gather import gather
from mailbot.bulletin.render import render_bulletin_html
from mailbot.db.migrate import upgrade
from mailbot.db.models import InboundMessage, ReportItem, StrategicEntry, Submission, Unit, VipItem
from mailbot.db.session import transaction
from mailbot.directory.config import Directory
from mailbot.directory.lookup import sync_directory
from mailbot.reports.store import ensure_period
from mailbot.settings import Settings

TZ = ZoneInfo("Asia/Shanghai")
PHRASES = ("已按集团方案签订年度供气协议，执行平稳", "客户反映冬季调峰气量缺口约2000万方", "合同价格联动条款尚未确认",
           "客户拟扩建LNG储备设施，希望总部支持", "地方政府出台管输费调整方案", "客户新任总经理到任，拟安排拜访",
           "拖欠气款约3000万元，已发函催收", "计量交接存在争议，双方正在复核")


def directory(n_units: int, n_customers: int, rng: random.Random) -> Directory:
    units = [{"code": f"U{i:02d}", "name": f"第{i}分公司", "contacts": [{"name": f"联系人{i}", "email": f"c{i}@u.example.cn"}],
              "leader": {"name": f"领导{i}", "email": f"l{i}@u.example.cn"}} for i in range(n_units)]
    n_vip = n_customers // 6
    codes = [u["code"] for u in units]
    strategic = [{"code": f"S{i:03d}", "name": f"战略客户{i}集团有限公司", "hq_staff": "hq0",
                  "units": rng.sample(codes, rng.randint(1, 3))} for i in range(n_customers - n_vip)]
    vip = [{"code": f"V{i:03d}", "name": f"VIP客户{i}燃气有限公司", "units": rng.sample(codes, 1)} for i in range(n_vip)]
    return Directory.model_validate({
        "hq": {"staff": [{"id": "hq0", "name": "张伟", "email": "hq0@hq.example.cn"}], "duty": ["hq0"], "bulletin": ["hq0"]},
        "units": units, "customers": {"strategic": strategic, "vip": vip}})


def scratch_settings(root: Path) -> Settings:
    """A SQLite database, mailbox and outbox in `root` (the directory is replaced by `directory()`'s)."""
    return Settings.model_validate({"home": Path(__file__).resolve().parents[1], "data_dir": str(root),
                                    "database": {"url": f"sqlite:///{root / 'bench.sqlite3'}"},
                                    "mailbox": {"path": str(root / "mail")}, "outbox": {"path": str(root / "out")},
                                    "directory": "config/directory.example.yaml"})


def populate(app, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    received = datetime(2026, 11, 20, 10, tzinfo=TZ)
    with transaction(app.sessions) as s:
        period = ensure_period(s, "2026-11", app.schedule)
        for n, unit in enumerate(s.scalars(select(Unit).order_by(Unit.code))):
            msg = InboundMessage(mailbox="bench", sha256=f"{n:064d}", raw=b"", size=0, received_at=received,
                                 recorded_at=received, status="processed")
            s.add(msg)
            s.flush()
            sub = Submission(period=period, unit=unit, inbound_id=msg.id, version=1, received_at=received,
                             on_time=rng.random() > 0.2)
            s.add(sub)
            for c in unit.customers:
                if c.kind == "vip":
                    s.add(VipItem(submission=sub, customer=c, issue=rng.choice(PHRASES), handling=rng.choice(PHRASES),
                                  needs_hq=rng.random() < 0.2))
                    continue
                e = StrategicEntry(submission=sub, customer=c, risk=rng.choice(["无", "无", "一般", "重大"]),
                                   needs_hq=rng.random() < 0.2)
                s.add(e)
                for cat in rng.sample(range(1, 10), rng.randint(1, 4)):
                    e.items.append(ReportItem(category=cat, text="。".join(rng.sample(PHRASES, 2)) + "。"))


def median(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=40)
    ap.add_argument("--customers", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = random.Random(7)
    root = Path(tempfile.mkdtemp(prefix="mailbot-bench-"))
    app = build_app(scratch_settings(root), clock=lambda: datetime(2026, 11, 30, 9, tzinfo=TZ))
    upgrade(app.engine)
    with transaction(app.sessions) as s:
        sync_directory(s, directory(args.units, args.customers, rng))
    populate(app, rng)

    with app.sessions() as s:
        period = ensure_period(s, "2026-11", app.schedule)
        html = render_bulletin_html(gather(s, period, department="资源与市场部", tz=TZ, now=app.now()))

    def engine() -> None:
        from weasyprint import HTML

        from mailbot.render.pdf import make_url_fetcher

        HTML(string=html, url_fetcher=make_url_fetcher(None)).write_pdf()

    def compile_() -> None:
        compile_bulletin(app, "2026-11", mail=False)

    engine()  # warm-up: the first render loads fonts and fontconfig caches
    t_engine = median(engine, args.repeat)
    t_compile = median(compile_, args.repeat)
    pdf = bulletin_path(app, "2026-11")
    print(f"month: {args.units} units, {args.customers} customers; HTML {len(html) // 1024} KiB; "
          f"PDF {pdf.stat().st_size // 1024} KiB")
    print(f"(a) mailbot compile --no-mail: {t_compile:.2f} s (median of {args.repeat})")
    print(f"(b) WeasyPrint alone:          {t_engine:.2f} s")
    print(f"overhead (a-b)/b: {100 * (t_compile - t_engine) / t_engine:+.1f} %  (target < 20 %)")
    app.engine.dispose()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
