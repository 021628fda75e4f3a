"""Benchmark `mailbot compile` end to end against WeasyPrint alone.

Builds a SQLite database holding a synthetic November — default 40 units,
300 strategic and 400 VIP customers, every unit reporting on each customer it
serves, most VIP rows "无 / 无 / 否" as real months have them — and the three
months before it (so 一's comparisons and charts have something to show),
then measures, as the median of --repeat runs:

  (a) compile  what `mailbot compile --no-mail` does: read the month from the
               database, build the model, render HTML, render and write the PDF
  (b) engine   WeasyPrint alone on the same HTML string, same fetcher and fonts

and prints (a−b)/b: the bulletin's own work on top of the rendering (target < 20 %).

    .venv/bin/python bench/bench_compile.py [--units 40] [--strategic 300] [--vip 400] [--repeat 3] [--pdf out.pdf]

It also prints the bulletin's pages: the main body (masthead to 七) and the annexes.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from mailbot.app import build_app
from mailbot.bulletin.compile import bulletin_path, compile_bulletin, masthead
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


def directory(n_units: int, n_strategic: int, n_vip: int, rng: random.Random) -> Directory:
    units = [{"code": f"U{i:02d}", "name": f"第{i}分公司", "contacts": [{"name": f"联系人{i}", "email": f"c{i}@u.example.cn"}],
              "leader": {"name": f"领导{i}", "email": f"l{i}@u.example.cn"}} for i in range(n_units)]
    codes = [u["code"] for u in units]
    strategic = [{"code": f"S{i:03d}", "name": f"战略客户{i}集团有限公司", "hq_staff": "hq0",
                  "units": rng.sample(codes, rng.randint(1, 3))} for i in range(n_strategic)]
    vip = [{"code": f"V{i:03d}", "name": f"VIP客户{i}燃气有限公司", "units": rng.sample(codes, 1)} for i in range(n_vip)]
    return Directory.model_validate({
        "hq": {"staff": [{"id": "hq0", "name": "张伟", "email": "hq0@hq.example.cn"}], "duty": ["hq0"],
               "bulletin": ["hq0"]},
        "units": units, "customers": {"strategic": strategic, "vip": vip}})


def scratch_settings(root: Path) -> Settings:
    """A SQLite database, mailbox and outbox in `root` (the directory is replaced by `directory()`'s)."""
    return Settings.model_validate({"home": Path(__file__).resolve().parents[1], "data_dir": str(root),
                                    "database": {"url": f"sqlite:///{root / 'bench.sqlite3'}"},
                                    "mailbox": {"path": str(root / "mail")}, "outbox": {"path": str(root / "out")},
                                    "directory": "config/directory.example.yaml"})


def populate(app, rng: random.Random, key: str = "2026-11") -> None:  # type: ignore[no-untyped-def]
    month = int(key[5:])
    received = datetime(2026, month, 20, 10, tzinfo=TZ)
    with transaction(app.sessions) as s:
        period = ensure_period(s, key, app.schedule)
        for n, unit in enumerate(s.scalars(select(Unit).order_by(Unit.code))):
            if rng.random() < 0.05:
                continue  # a missing unit now and then
            msg = InboundMessage(mailbox="bench", sha256=f"{month:02d}{n:062d}", raw=b"", size=0,
                                 received_at=received, recorded_at=received, status="processed")
            s.add(msg)
            s.flush()
            sub = Submission(period=period, unit=unit, inbound_id=msg.id, version=1, received_at=received,
                             on_time=rng.random() > 0.2)
            s.add(sub)
            for c in unit.customers:
                if c.kind == "vip":
                    quiet = rng.random() < 0.7  # most VIP rows say 无 / 无 / 否
                    s.add(VipItem(submission=sub, customer=c, issue="无" if quiet else rng.choice(PHRASES),
                                  handling="无" if quiet else rng.choice(PHRASES),
                                  needs_hq=False if quiet else rng.random() < 0.2))
                    continue
                e = StrategicEntry(submission=sub, customer=c,
                                   risk=rng.choice(["无"] * 6 + ["一般", "一般", "重大"]),
                                   needs_hq=rng.random() < 0.2)
                s.add(e)
                for cat in rng.sample(range(1, 10), rng.randint(1, 4)):
                    e.items.append(ReportItem(category=cat, text="。".join(rng.sample(PHRASES, 2)) + "。"))


def pages(pdf: Path) -> tuple[int, int]:
    """(pages of the main body, all pages): the body ends where 附件1 begins."""
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    sheets = text.split("\f")[:-1]
    annex = next(i for i, p in enumerate(sheets) if re.search(r"附件1\s*报送情况", p))
    return annex, len(sheets)


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
    ap.add_argument("--strategic", type=int, default=300)
    ap.add_argument("--vip", type=int, default=400)
    ap.add_argument("--pdf", type=Path, help="keep a copy of the compiled bulletin here")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = random.Random(7)
    root = Path(tempfile.mkdtemp(prefix="mailbot-bench-"))
    app = build_app(scratch_settings(root), clock=lambda: datetime(2026, 11, 30, 9, tzinfo=TZ))
    upgrade(app.engine)
    with transaction(app.sessions) as s:
        sync_directory(s, directory(args.units, args.strategic, args.vip, rng))
    for key in ("2026-08", "2026-09", "2026-10", "2026-11"):
        populate(app, rng, key)

    with app.sessions() as s:
        period = ensure_period(s, "2026-11", app.schedule)
        head = masthead("2026-11", app.settings.bulletin, app.department, app.now().date())
        html = render_bulletin_html(gather(s, period, department=app.department, tz=TZ, now=app.now(),
                                           schedule=app.schedule, masthead=head))

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
    body, total = pages(pdf)
    print(f"month: {args.units} units, {args.strategic} strategic and {args.vip} VIP customers; "
          f"HTML {len(html) // 1024} KiB; PDF {pdf.stat().st_size // 1024} KiB, {total} pages "
          f"(main body {body}, annexes {total - body})")
    if args.pdf:
        shutil.copyfile(pdf, args.pdf)
    print(f"(a) mailbot compile --no-mail: {t_compile:.2f} s (median of {args.repeat})")
    print(f"(b) WeasyPrint alone:          {t_engine:.2f} s")
    print(f"overhead (a-b)/b: {100 * (t_compile - t_engine) / t_engine:+.1f} %  (target < 20 %)")
    app.engine.dispose()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
