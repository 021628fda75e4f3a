"""Tests for the monthly bulletin: model → HTML → PDF, read back with pdftotext."""

from __future__ import annotations

import dataclasses
import http.server
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from parsers import CATEGORY_LABELS

import mailbot.render.pdf
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
from mailbot.render.pdf import BlockedURLError, make_url_fetcher, render_pdf
from tests.support.mailflow import TZ, pdf_text

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")

UNITS = {
    "GD": "广东分公司",
    "JS": "江苏分公司",
    "ZJ": "浙江分公司",
    "SC": "四川分公司",
    "SD": "山东分公司",
    "XJ": "新疆分公司",
}


def _cat(number: int, *matters: tuple[str, str]) -> CategoryMatters:
    return CategoryMatters(
        number=number,
        label=CATEGORY_LABELS[number],
        matters=tuple(Matter(unit_code=u, unit_name=UNITS[u], text=t) for u, t in matters),
    )


def sample_bulletin(*, extra_matter: str | None = None) -> Bulletin:
    """A realistic small month: 6 units, 5 strategic customers, rare characters."""
    units = (
        UnitStatus("GD", UNITS["GD"], "on_time", datetime(2026, 11, 20, 9, 41, tzinfo=TZ), 1),
        UnitStatus("JS", UNITS["JS"], "on_time", datetime(2026, 11, 27, 16, 5, tzinfo=TZ), 2),
        UnitStatus("ZJ", UNITS["ZJ"], "late", datetime(2026, 11, 29, 10, 12, tzinfo=TZ), 1),
        UnitStatus("SC", UNITS["SC"], "on_time", datetime(2026, 11, 25, 18, 30, tzinfo=TZ), 1),
        UnitStatus("SD", UNITS["SD"], "late", datetime(2026, 11, 30, 8, 55, tzinfo=TZ), 3),
        UnitStatus("XJ", UNITS["XJ"], "missing", None, None),
    )
    sgcc_cats = [
        _cat(
            1,
            ("GD", "已按2026年度全国性LNG保供方案完成11月供气，累计供气1.82亿立方米，执行率98.6%。"),
            ("JS", "苏南片区调峰气量已落实，冬季保供应急预案已与客户联合演练。"),
        ),
        _cat(4, ("JS", "客户拟在华东新建两座燃气调峰电站，希望总部出面洽谈长期供气框架协议。")),
        _cat(9, ("GD", "客户能源事业部负责人朱镕先生调任，新任联系人为刘䶮女士，已完成首次拜访对接。")),
    ]
    if extra_matter is not None:
        sgcc_cats.append(_cat(2, ("GD", extra_matter)))
        sgcc_cats.sort(key=lambda c: c.number)
    customers = (
        CustomerSection(
            code="S001",
            name="国家电网有限公司",
            hq_staff="王建国",
            units=(UNITS["GD"], UNITS["JS"]),
            reported_units=(UNITS["GD"], UNITS["JS"]),
            risk="一般",
            needs_hq=True,
            categories=tuple(sgcc_cats),
        ),
        CustomerSection(
            code="S002",
            name="中国石油化工集团有限公司",
            hq_staff="刘䶮",
            units=(UNITS["ZJ"], UNITS["SD"]),
            reported_units=(UNITS["ZJ"], UNITS["SD"]),
            risk="重大",
            needs_hq=True,
            categories=(
                _cat(5, ("ZJ", "镇海炼化2027年度购销合同价格条款尚未谈定，客户要求门站价下浮8%，存在断供风险。")),
                _cat(6, ("SD", "青岛炼化对10月计量结算差异约126万元提出异议，双方正在对账。")),
            ),
        ),
        CustomerSection(
            code="S003",
            name="中国宝武钢铁集团有限公司",
            hq_staff="李镕",
            units=(UNITS["JS"], UNITS["XJ"]),
            reported_units=(UNITS["JS"],),
            risk="无",
            needs_hq=False,
            categories=(
                _cat(2, ("JS", "客户建议总部统一LNG槽车运输服务标准，缩短跨省调运审批时间。")),
                _cat(3, ("JS", "10月总部来访商定的工业燃料替代项目已完成可研，预计12月上会。")),
            ),
        ),
        CustomerSection(
            code="S004",
            name="中国华能集团有限公司",
            hq_staff=None,
            units=(UNITS["XJ"],),
            reported_units=(),
            risk=None,
            needs_hq=False,
            categories=(),
        ),
        CustomerSection(
            code="S005",
            name="华润燃气控股有限公司",
            hq_staff="陈晓东",
            units=(UNITS["SC"],),
            reported_units=(UNITS["SC"],),
            risk="一般",
            needs_hq=False,
            categories=(_cat(8, ("SC", "成都市拟调整非居民用气价格联动机制，可能影响客户下游销售价格。")),),
        ),
    )
    vip = (
        VipMatter("V012", "深圳市燃气集团股份有限公司", "GD", UNITS["GD"],
                  "客户反映12月管存偏低，担心寒潮期间保供不足。", "已安排LNG应急储备2000吨，并加密日度沟通。", True),
        VipMatter("V020", "成都城市燃气有限责任公司", "SC", UNITS["SC"], None, None, None),
    )
    risks = (
        Risk("重大", "S002", "中国石油化工集团有限公司", UNITS["ZJ"],
             "镇海炼化2027年度购销合同价格条款尚未谈定，存在断供风险。"),
        Risk("一般", "S001", "国家电网有限公司", UNITS["GD"], "（未说明）"),
        Risk("一般", "S005", "华润燃气控股有限公司", UNITS["SC"],
             "成都市拟调整非居民用气价格联动机制。"),
    )
    coordination = (
        CoordinationItem("战略客户", "S001", "国家电网有限公司", UNITS["JS"],
                         "客户拟在华东新建两座燃气调峰电站，希望总部出面洽谈长期供气框架协议。"),
        CoordinationItem("VIP客户", "V012", "深圳市燃气集团股份有限公司", UNITS["GD"], "寒潮期间LNG应急资源调配。"),
        CoordinationItem("紧急事项", None, None, UNITS["SD"], "青岛LNG接收站外输管线检修影响下游供气。"),
    )
    urgent = (
        UrgentMatter(
            received_at=datetime(2026, 11, 12, 22, 17, tzinfo=TZ),
            unit_name=UNITS["SD"],
            customer_code="S002",
            customer_name="中国石油化工集团有限公司",
            subject="【紧急】青岛LNG接收站外输管线临时检修",
            text="接收站外输管线发现泄漏点，计划停输36小时抢修，已通知下游用户。",
            forwarded_to=("刘䶮", "值班室"),
        ),
    )
    return Bulletin(
        period="2026-11",
        department="资源与市场部",
        deadline=date(2026, 11, 28),
        generated_at=datetime(2026, 12, 1, 9, 0, tzinfo=TZ),
        units=units,
        customers=customers,
        vip=vip,
        risks=risks,
        coordination=coordination,
        urgent=urgent,
    )


def empty_bulletin() -> Bulletin:
    """A month in which no unit reported anything."""
    units = tuple(UnitStatus(code, name, "missing", None, None) for code, name in UNITS.items())
    customers = (
        CustomerSection("S001", "国家电网有限公司", "王建国", (UNITS["GD"],), (), None, False, ()),
        CustomerSection("S004", "中国华能集团有限公司", None, (UNITS["XJ"],), (), None, False, ()),
    )
    return Bulletin(
        period="2026-11",
        department="资源与市场部",
        deadline=date(2026, 11, 28),
        generated_at=datetime(2026, 12, 1, 9, 0, tzinfo=TZ),
        units=units,
        customers=customers,
        vip=(),
        risks=(),
        coordination=(),
        urgent=(),
    )


def squash(text: str) -> str:
    """Drop all whitespace: pdftotext breaks long lines wherever the PDF wrapped them."""
    return re.sub(r"\s+", "", text)


def section(text: str, start: str, end: str) -> str:
    """The text between two chapter headings; rindex skips the table of contents."""
    return text[text.rindex(start) : text.rindex(end)]


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every request it gets."""
    hits: list[str] = []
    handler = type("Handler", (_CountingHandler,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fetch_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every URL WeasyPrint asks the fetcher for, during this test's renders."""
    calls: list[str] = []
    real_make = mailbot.render.pdf.make_url_fetcher

    def spying_make(base_dir: Path | None = None) -> object:
        fetcher = real_make(base_dir)
        real_fetch = fetcher.fetch

        def fetch(url: str, headers: object = None) -> object:
            calls.append(url)
            return real_fetch(url, headers)

        fetcher.fetch = fetch  # type: ignore[method-assign]
        return fetcher

    monkeypatch.setattr(mailbot.render.pdf, "make_url_fetcher", spying_make)
    return calls


@pytest.fixture(scope="module")
def sample_pdf() -> bytes:
    return render_bulletin_pdf(sample_bulletin())


def test_sample_month_pdf_shows_headings_units_and_statuses(sample_pdf: bytes, tmp_path: Path) -> None:
    # A normal month: the masthead, every chapter and annex heading, each unit with its status label.
    assert sample_pdf.startswith(b"%PDF-")
    text = pdf_text(sample_pdf, tmp_path)
    flat = squash(text)
    for heading in ("内部资料 注意保密", "气电集团重点客户月报", "2026年第11期", "气电集团资源与市场部编",
                    "2026年12月1日", "编制：资源与市场部", "审核：", "签发：", "报告期：2026年11月",
                    "一、本月总体情况", "二、需决策与协调事项", "三、风险提示", "四、重点客户动态", "（一）紧急事项",
                    "七、下月工作安排", "附件1 报送情况", "附件2 战略客户事项明细", "附件3 VIP客户事项明细",
                    "附件4 需总部协调事项明细", "附件5 风险提示明细"):
        assert squash(heading) in flat, heading
    for name in UNITS.values():
        assert name in text
    units_part = text[text.index("报送情况", text.rindex("附件1")):text.rindex("战略客户事项明细")]
    assert units_part.count("按时") >= 3 and "逾期" in units_part and "未报" in units_part
    assert "第3版（更正）" in units_part
    gd_line = next(line for line in units_part.splitlines() if "广东分公司" in line)
    assert "按时" in gd_line and "11月20日 09:41" in gd_line
    xj_line = next(line for line in units_part.splitlines() if "新疆分公司" in line)
    assert "未报" in xj_line


def test_sample_month_pdf_shows_customers_matters_and_rare_characters(sample_pdf: bytes, tmp_path: Path) -> None:
    # Strategic customers with their matters, the reporting unit, 䶮/镕, and an unreported customer.
    text = pdf_text(sample_pdf, tmp_path)
    flat = squash(text)
    assert "S001 国家电网有限公司" in text
    assert squash("苏南片区调峰气量已落实，冬季保供应急预案已与客户联合演练。（江苏分公司）") in flat
    assert "䶮" in text and "镕" in text
    assert "刘䶮" in text and "朱镕" in flat
    huaneng = flat[flat.index("S004中国华能集团有限公司"):]
    assert huaneng.index("本月无单位报告") < huaneng.index("S005")
    assert squash("新疆分公司（未报告）") in flat
    assert squash("4. 需总部支持的合作诉求或需总部出面的合作机会") in flat


def test_short_chapters_share_a_page(sample_pdf: bytes, tmp_path: Path) -> None:
    # Six units fill half a page: 附件2 must follow 附件1 on the annex's first page, not leave it blank
    # (guards the WeasyPrint page-break quirk noted in bulletin.css).
    pages = [squash(p) for p in pdf_text(sample_pdf, tmp_path).split("\f")]
    annex = next(p for p in pages if "附件1报送情况" in p)
    assert "附件2战略客户事项明细" in annex and "S001国家电网有限公司" in annex


def test_risks_are_printed_major_first(sample_pdf: bytes, tmp_path: Path) -> None:
    # The ranked risks keep 重大 before 一般 in the risk chapter.
    flat = squash(pdf_text(sample_pdf, tmp_path))
    risks = flat[flat.rindex("三、风险提示"):flat.rindex("四、重点客户动态")]
    assert risks.index("重大") < risks.index("一般")
    assert risks.index("镇海炼化") < risks.index("成都市拟调整")
    assert "（未说明）" in risks


def test_every_page_has_the_footer(sample_pdf: bytes, tmp_path: Path) -> None:
    # Each page carries "重点客户月报 2026年11月" and "第 N 页 / 共 M 页".
    text = pdf_text(sample_pdf, tmp_path)
    pages = text.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 2
    for n, page in enumerate(pages, start=1):
        # pdftotext drops the narrow spaces around the numbers, so compare squashed.
        assert f"第{n}页/共{len(pages)}页" in squash(page)
        assert "重点客户月报2026年11月" in squash(page)


def test_untrusted_markup_is_printed_as_text_and_nothing_is_fetched(
    tmp_path: Path, http_server: tuple[str, list[str]], fetch_calls: list[str]
) -> None:
    # A subsidiary writes HTML into a matter: it appears literally and no URL is requested.
    base, hits = http_server
    evil = (
        '<img src="http://127.0.0.1:9/x.png"><script>alert("x")</script>'
        f'<img src="{base}/tracker.png"><link rel="stylesheet" href="{base}/x.css">'
    )
    b = sample_bulletin(extra_matter=evil)
    html = render_bulletin_html(b)
    assert "&lt;img src=&#34;http://127.0.0.1:9/x.png&#34;&gt;" in html
    assert "<script>" not in html and '<img src="http' not in html
    text = pdf_text(render_bulletin_pdf(b), tmp_path, layout=False)
    flat = squash(text)
    assert squash('<img src="http://127.0.0.1:9/x.png">') in flat
    assert squash('<script>alert("x")</script>') in flat
    # escaped markup is text: WeasyPrint never even asks; only our own charts, as data: URIs, are loaded
    assert [u.split(",", 1)[0] for u in fetch_calls] == ["data:image/svg+xml;base64"] * 3
    assert hits == []


def test_pdf_renderer_blocks_network_urls_even_in_raw_html(
    tmp_path: Path, http_server: tuple[str, list[str]], fetch_calls: list[str]
) -> None:
    # Defence in depth: raw HTML that does reference http(s) still fetches nothing.
    base, hits = http_server
    html = (
        '<html><head><link rel="stylesheet" href="{0}/a.css"></head><body>'
        '<p style="background: url({0}/bg.png)">测试</p><img src="{0}/a.png"></body></html>'
    ).format(base)
    pdf = render_pdf(html)
    assert pdf.startswith(b"%PDF-")
    assert len(fetch_calls) == 3  # asked, and refused each time
    assert hits == []
    assert "测试" in pdf_text(pdf, tmp_path)


def test_fetcher_allows_data_and_files_under_base_dir_only(tmp_path: Path) -> None:
    # Local assets: data: URIs and files inside base_dir load; "../" escapes and http do not.
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("x", encoding="utf-8")
    fetcher = make_url_fetcher(assets)
    assert fetcher.fetch((assets / "logo.svg").as_uri()).read().startswith(b"<svg")
    assert fetcher.fetch("data:text/plain;base64,5rWL6K+V").read() == "测试".encode()
    for url in (assets.as_uri() + "/../secret.txt", (tmp_path / "secret.txt").as_uri(),
                "file://evil.example/" + str(assets / "logo.svg"),
                "http://127.0.0.1:9/x.png", "https://example.com/x.css"):
        with pytest.raises(BlockedURLError):
            fetcher.fetch(url)
    with pytest.raises(BlockedURLError):
        make_url_fetcher().fetch((assets / "logo.svg").as_uri())


def test_empty_month_renders_with_none_sections(tmp_path: Path) -> None:
    # No unit reported: every unit is 未报, customers say 本月无单位报告, the empty chapters and annexes say 无.
    text = pdf_text(render_bulletin_pdf(empty_bulletin()), tmp_path)
    flat = squash(text)
    assert text.count("未报") >= len(UNITS)
    assert flat.count("本月无单位报告") == 3  # 四's one line, and each customer in 附件2
    assert "本月无单位报告（2家）：S001国家电网有限公司、S004中国华能集团有限公司。" in flat
    for start, end in (("二、需决策与协调事项", "三、风险提示"), ("三、风险提示", "四、重点客户动态"),
                       ("（一）紧急事项", "（二）战略客户"), ("（三）VIP客户", "七、下月工作安排"),
                       ("七、下月工作安排", "附件1"), ("附件3VIP客户事项明细", "附件4"),
                       ("附件4需总部协调事项明细", "附件5"), ("附件5风险提示明细", None)):
        part = flat[flat.rindex(start) + len(start):flat.rindex(end) if end else None]
        part = re.sub(r"重点客户月报2026年11月第\d+页/共\d+页", "", part)  # a page footer may fall in between
        assert part == "无", (start, part)


def test_unknown_unit_status_fails_loudly() -> None:
    # A status code the template does not know is a compiler bug, not a blank cell.
    b = sample_bulletin()
    bad = UnitStatus("GD", "广东分公司", "pending", None, None)
    with pytest.raises(ValueError, match="pending"):
        render_bulletin_html(dataclasses.replace(b, units=(bad,)))
