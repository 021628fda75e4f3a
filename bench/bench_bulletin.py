"""Benchmark the monthly bulletin PDF at a realistic group's scale.

Synthesises one month (default 40 units, 300 customers: ~250 strategic and
~50 VIP, each unit serving 10–20 customers, most customers with a few
matters), then measures, as the median of --repeat runs:

  (a) total   model → HTML → PDF bytes via render_bulletin_pdf
  (b) engine  WeasyPrint alone on the same HTML string, same URL fetcher

and prints pages, sizes, both times and the overhead (a−b)/b, which is what
our own code (Jinja2 and the model walk) adds to WeasyPrint.

    .venv/bin/python bench/bench_bulletin.py [--units 40] [--customers 300]
        [--repeat 3] [--seed 7] [--pdf out.pdf]
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
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailbot.bulletin.model import (
    Bulletin,
    CategoryMatters,
    CoordinationItem,
    CustomerSection,
    Matter,
    Risk,
    UnitStatus,
    UrgentMatter,
    VipMatter,
)
from mailbot.bulletin.render import render_bulletin_html, render_bulletin_pdf
from mailbot.render.pdf import make_url_fetcher

CST = ZoneInfo("Asia/Shanghai")

ITEM_LABELS = (
    "全国性天然气产品及服务方案执行情况",
    "对全国性产品或服务的反馈意见与建议",
    "来访或拜访协商事项的跟踪进展",
    "需总部支持的合作诉求或需总部出面的合作机会",
    "合同签订、执行方面出现的重大问题、风险或隐患",
    "与我方购销合作中存在的重大纠纷或隐患",
    "面临的重大经营或财务风险",
    "地方政府层面可能造成影响的重要情况",
    "其他重要事项",
)
PROVINCES = "北京 天津 河北 山西 内蒙古 辽宁 吉林 黑龙江 上海 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 广西 海南 重庆 四川 贵州 云南 陕西 甘肃 青海 宁夏 新疆 西藏".split()
CITIES = "苏州 无锡 宁波 温州 佛山 东莞 青岛 烟台 洛阳 襄阳 株洲 绵阳 遵义 曲靖 榆林 天水 唐山 大同 包头 鞍山 吉林 大庆 泉州 赣州 芜湖 柳州 三亚 银川 西宁 克拉玛依".split()
INDUSTRIES = ("电力", "钢铁", "化工", "石化", "城市燃气", "陶瓷", "玻璃", "汽车制造", "电子信息", "造纸", "有色金属", "交通能源")
SUFFIXES = ("集团有限公司", "股份有限公司", "控股有限公司", "有限责任公司")
PEOPLE = "王建国 李镕 刘䶮 陈晓东 张伟 杨帆 赵敏 黄磊 周婷 吴强 徐静 孙浩 马丽 朱镕 胡斌 郭燕 何军 林涛 高峰 罗红".split()

OPENERS = (
    "本月已按{year}年度保供方案完成供气{vol}万立方米，执行率{pct}%",
    "客户{city}基地新增{vol}万立方米/日用气需求，拟于{month}月投产",
    "已与客户就{year}年度购销合同价格条款完成{n}轮商谈",
    "客户反映{city}门站压力波动，影响{ind}生产线稳定运行",
    "{city}市发改委拟调整非居民用气价格联动机制",
    "客户对{month}月计量结算差异约{money}万元提出异议",
    "客户能源管理部负责人{person}调任，新任联系人已完成首次拜访",
    "双方联合开展冬季保供应急演练，涉及LNG槽车{n}台次",
    "客户拟建设{vol}吨级LNG储备设施，希望我方提供技术与气源支持",
    "客户应收账款余额{money}万元，账期已超合同约定{n}天",
)
FOLLOWERS = (
    "已安排专人跟踪，预计{month}月底前形成书面意见。",
    "建议总部协调管道公司优化{city}段运行方案。",
    "已上报分公司领导班子，拟于下周召开专题会研究。",
    "客户希望总部层面出面沟通长期协议框架。",
    "目前风险可控，将持续关注并按月报送进展。",
    "双方已签署会议纪要，后续按纪要分工推进。",
    "如不能按期解决，可能影响{year}年一季度供气合同续签。",
)


def sentence(rng: random.Random) -> str:
    """One or two clauses of plausible report prose, 30–90 characters."""
    fill = {
        "year": rng.choice((2026, 2027)), "vol": rng.randint(12, 980), "pct": rng.randint(88, 100),
        "city": rng.choice(CITIES), "month": rng.randint(1, 12), "n": rng.randint(2, 6),
        "ind": rng.choice(INDUSTRIES), "money": rng.randint(30, 4800), "person": rng.choice(PEOPLE),
    }
    text = rng.choice(OPENERS).format(**fill) + "，" + rng.choice(FOLLOWERS).format(**fill)
    if rng.random() < 0.3:
        text += rng.choice(FOLLOWERS).format(**fill)
    return text


def synthesise(n_units: int, n_customers: int, seed: int = 7) -> Bulletin:
    """A full month: units, their customers, matters, risks, coordination and urgent mail."""
    rng = random.Random(seed)
    units = [(f"U{i:02d}", f"{PROVINCES[i % len(PROVINCES)]}{'分公司' if i < len(PROVINCES) else '第二分公司'}")
             for i in range(n_units)]
    n_vip = max(1, n_customers // 6)
    codes = [f"S{i + 1:03d}" for i in range(n_customers - n_vip)] + [f"V{i + 1:03d}" for i in range(n_vip)]
    names = {c: f"{rng.choice(CITIES + PROVINCES)}{rng.choice(INDUSTRIES)}{rng.choice(SUFFIXES)}" for c in codes}

    served: dict[str, list[str]] = {c: [] for c in codes}
    for _, unit_name in units:
        for c in rng.sample(codes, min(len(codes), rng.randint(10, 20))):
            served[c].append(unit_name)
    for c, us in served.items():
        if not us:
            us.append(rng.choice(units)[1])

    period_end = datetime(2026, 11, 28, 23, 59, tzinfo=CST)
    statuses: dict[str, UnitStatus] = {}
    for code, name in units:
        roll = rng.random()
        if roll < 0.08:
            statuses[name] = UnitStatus(code, name, "missing", None, None)
        else:
            late = roll < 0.2
            at = period_end + timedelta(hours=rng.randint(2, 60)) if late else period_end - timedelta(hours=rng.randint(2, 200))
            statuses[name] = UnitStatus(code, name, "late" if late else "on_time", at, 1 if rng.random() < 0.8 else 2)
    unit_code = {name: code for code, name in units}
    reporting = {name for name, s in statuses.items() if s.status != "missing"}

    customers: list[CustomerSection] = []
    risks: list[Risk] = []
    coordination: list[CoordinationItem] = []
    rank = {"无": 0, "一般": 1, "重大": 2}
    for c in codes:
        if not c.startswith("S"):
            continue
        reported = tuple(u for u in served[c] if u in reporting)
        by_item: dict[int, list[Matter]] = {}
        levels: list[str] = []
        needs_hq = False
        for u in reported:
            for item in rng.sample(range(1, 10), rng.choice((0, 1, 1, 2, 2, 3, 4))):
                by_item.setdefault(item, []).append(Matter(unit_code[u], u, sentence(rng)))
            level = rng.choices(("无", "一般", "重大"), (70, 22, 8))[0]
            levels.append(level)
            if level != "无":
                risk_text = "；".join(m.text for i in (5, 6, 7, 8) for m in by_item.get(i, ()) if m.unit_name == u)
                risks.append(Risk(level, c, names[c], u, risk_text or "（未说明）"))
            if rng.random() < 0.12:
                needs_hq = True
                coordination.append(CoordinationItem("战略客户", c, names[c], u, sentence(rng)))
        categories = tuple(CategoryMatters(i, ITEM_LABELS[i - 1], tuple(by_item[i])) for i in sorted(by_item))
        customers.append(CustomerSection(
            code=c, name=names[c], hq_staff=rng.choice(PEOPLE) if rng.random() < 0.9 else None,
            units=tuple(served[c]), reported_units=reported,
            risk=max(levels, key=rank.__getitem__) if levels else None,
            needs_hq=needs_hq, categories=categories,
        ))

    vip: list[VipMatter] = []
    for c in codes:
        if not c.startswith("V"):
            continue
        for u in served[c]:
            if u in reporting:
                hq = rng.random() < 0.2
                vip.append(VipMatter(c, names[c], unit_code[u], u, sentence(rng), sentence(rng), hq))
                if hq:
                    coordination.append(CoordinationItem("VIP客户", c, names[c], u, sentence(rng)))

    urgent: list[UrgentMatter] = []
    for _ in range(max(1, n_units // 4)):
        c = rng.choice(codes)
        u = rng.choice(served[c])
        urgent.append(UrgentMatter(
            received_at=datetime(2026, 11, rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), tzinfo=CST),
            unit_name=u, customer_code=c, customer_name=names[c],
            subject=f"【紧急】{names[c]}{rng.choice(('供气压力异常', '合同纠纷升级', '安全事故通报', '政府约谈'))}",
            text=sentence(rng), forwarded_to=(rng.choice(PEOPLE),),
        ))
        coordination.append(CoordinationItem("紧急事项", c, names[c], u, urgent[-1].subject))
    urgent.sort(key=lambda m: m.received_at)
    risks.sort(key=lambda r: -rank[r.level])  # stable: keeps customer order within a level

    return Bulletin(
        period="2026-11", department="资源与市场部", deadline=date(2026, 11, 28),
        generated_at=datetime(2026, 12, 1, 9, 0, tzinfo=CST),
        units=tuple(statuses[name] for _, name in units), customers=tuple(customers), vip=tuple(vip),
        risks=tuple(risks), coordination=tuple(coordination), urgent=tuple(urgent),
    )


def timed(fn: Callable[[], bytes]) -> tuple[float, float, bytes]:
    """Wall and CPU seconds of one call, plus its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def count_pages(pdf: bytes) -> int:
    """Pages via pdfinfo when poppler is there, else the page-tree count."""
    if shutil.which("pdfinfo"):
        with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
            f.write(pdf)
            f.flush()
            info = subprocess.run(["pdfinfo", f.name], capture_output=True, text=True).stdout
        if m := re.search(r"^Pages:\s+(\d+)", info, re.M):
            return int(m.group(1))
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=40)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pdf", type=Path, help="also write the PDF here")
    args = parser.parse_args()

    from weasyprint import HTML  # imported here so its import time is not in either figure

    b = synthesise(args.units, args.customers, args.seed)
    matters = sum(len(cat.matters) for c in b.customers for cat in c.categories)
    print(f"month: {len(b.units)} units, {len(b.customers)} strategic customers ({matters} matters), "
          f"{len(b.vip)} VIP rows, {len(b.risks)} risks, {len(b.coordination)} coordination, {len(b.urgent)} urgent")

    # Warm up once: font configuration and template compilation are per-process costs.
    HTML(string="<p>预热</p>", url_fetcher=make_url_fetcher()).write_pdf()
    html = render_bulletin_html(b)

    walls: dict[str, list[float]] = {"a": [], "b": []}
    cpus: dict[str, list[float]] = {"a": [], "b": []}
    html_times: list[float] = []
    pdf = b""
    for _ in range(args.repeat):
        # Interleaved, so drift in machine load hits both figures alike.
        wall, cpu, pdf = timed(lambda: render_bulletin_pdf(b))
        walls["a"].append(wall)
        cpus["a"].append(cpu)
        wall, cpu, _ = timed(lambda: HTML(string=html, url_fetcher=make_url_fetcher()).write_pdf())
        walls["b"].append(wall)
        cpus["b"].append(cpu)
        start = time.perf_counter()
        render_bulletin_html(b)
        html_times.append(time.perf_counter() - start)

    def line(label: str, key: str) -> str:
        runs = ", ".join(f"{t:.2f}" for t in walls[key])
        return (f"{label}: {statistics.median(walls[key]):6.2f} s wall (runs {runs})   "
                f"{statistics.median(cpus[key]):6.2f} s CPU")

    a, e = statistics.median(walls["a"]), statistics.median(walls["b"])
    a_cpu, e_cpu = statistics.median(cpus["a"]), statistics.median(cpus["b"])
    html_s = statistics.median(html_times)
    print(f"pages: {count_pages(pdf)}   html: {len(html.encode()) / 1024:.0f} KiB   pdf: {len(pdf) / 1024:.0f} KiB")
    print(line("(a) total  model→HTML→PDF ", "a"))
    print(line("(b) engine WeasyPrint only", "b"))
    print(f"    model→HTML alone      : {html_s * 1000:6.1f} ms")
    # Wall medians wobble by ±10 % when other work shares the machine; CPU time
    # and the model→HTML share show what our own code really adds.
    print(f"overhead (a−b)/b: {(a - e) / e * 100:+.1f} % wall, {(a_cpu - e_cpu) / e_cpu * 100:+.1f} % CPU   "
          f"(target < 20 %); model→HTML is {html_s / e * 100:.2f} % of (b)")
    if args.pdf:
        args.pdf.write_bytes(pdf)
        print(f"wrote {args.pdf}")


if __name__ == "__main__":
    main()
