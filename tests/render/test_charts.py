"""Charts for the PDFs (mailbot/render/charts.py): inert vector SVG with Chinese labels, names escaped."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from mailbot.render.charts import Series, bar_chart, count_ticks, data_uri, line_chart
from mailbot.render.pdf import render_pdf
from tests.support.mailflow import pdf_text

SVG = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script> & 华润燃气 <img src="http://127.0.0.1:9/x.png">'


def texts(svg: bytes) -> list[str]:
    return ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_customer_names_with_markup_are_text_and_the_svg_is_inert() -> None:
    # A name a unit wrote with markup in it is a label like any other: escaped, and the chart stays well-formed
    # XML with no script, no link and no URL but the XML namespaces.
    svg = bar_chart("风险提示（项）", ["10月", EVIL], [Series(EVIL, (1.0, 2.0)), Series("一般", (0.0, 3.0))],
                    stacked=True)
    labels = texts(svg)  # parses: a raw "<script>" or "&" would not
    assert EVIL in labels and "风险提示（项）" in labels and "10月" in labels
    raw = svg.decode("utf-8")
    assert "<script" not in raw and "<img" not in raw and "<a " not in raw
    assert "&lt;script&gt;" in raw and "&amp; 华润燃气" in raw
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", raw))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://127.0.0.1:9/x.png"}
    # The one URL left is inside an escaped label: text, never an attribute of any element.
    assert not [v for e in ET.fromstring(svg).iter() for v in e.attrib.values() if "://" in v]


def test_percent_line_keeps_gaps_for_months_without_data() -> None:
    # A month nobody was asked (None) is a gap, not a zero; the y axis is fixed at 0–100 %.
    svg = line_chart("报送及时率（%）", ["9月", "10月", "11月"],
                     [Series("报送及时率", (None, 66.7, 50.0))], percent=True)
    labels = texts(svg)
    assert "100%" in labels and "0%" in labels and "报送及时率（%）" in labels
    assert "9月" in labels and "11月" in labels


def test_chart_in_a_pdf_reads_back_in_chinese(tmp_path: Path) -> None:
    # Embedded as a data: URI (the only URL the PDF renderer loads), its Chinese labels are real text in the PDF.
    svg = bar_chart("诉求（件）", ["10月", "11月"], [Series("新登记", (3.0, 5.0)), Series("已答复", (1.0, 4.0))])
    uri = data_uri(svg)
    assert uri.startswith("data:image/svg+xml;base64,") and base64.b64decode(uri.split(",", 1)[1]) == svg
    pdf = render_pdf(f'<html><body><img style="width:120mm" src="{uri}"></body></html>')
    text = re.sub(r"\s+", "", pdf_text(pdf, tmp_path))
    for label in ("诉求（件）", "10月", "11月", "新登记", "已答复"):
        assert label in text, label


def test_counts_are_labelled_at_whole_numbers_only() -> None:
    # pygal's own steps for small counts are fractional: rounded, the axis read "0 0 1 1 1 2".
    assert count_ticks([Series("甲", (1.0, 2.0)), Series("乙", (1.0, 1.0))], stacked=True) == [0, 1, 2, 3]
    assert count_ticks([Series("甲", (1.0, 2.0)), Series("乙", (1.0, None))], stacked=True) == [0, 1, 2]
    assert count_ticks([Series("甲", (0.0,))], stacked=False) == [0, 1]
    assert count_ticks([Series("甲", (37.0, 12.0))], stacked=False) == [0, 8, 16, 24, 32, 40]
    svg = bar_chart("诉求（件）", ["10月", "11月"], [Series("新登记", (1.0, 2.0))]).decode()
    assert ">0.5<" not in svg and ">1.5<" not in svg
