"""Charts as vector SVG with Chinese labels, for the PDFs (bulletin; later surveys and campaigns).

Pure inputs → SVG bytes, drawn by pygal (pure Python, no browser). What
comes out is meant for WeasyPrint as a `data:` URI, so it must be inert:
pygal always writes a `<script>` (its tooltip config) into `<defs>`, and it is
taken out here; nothing in the SVG points to a URL. Labels may be customer
or unit names — text that units wrote into the directory or their mail — and
pygal sets them through lxml/ElementTree, which escapes `<` and `&`; the
tests hold it to that.

Fonts: SVG `<text>` does not inherit the page's font in WeasyPrint, so the
family is named in the chart's own style (the PDFs' CJK font first).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

FONT = "Noto Sans CJK SC, WenQuanYi Zen Hei, sans-serif"
# Print-friendly: dark blue, red, amber, green, grey — distinguishable in greyscale by lightness.
COLOURS = ("#1f3a5f", "#a50000", "#d08a00", "#3f7f4f", "#8a8f98")


@dataclass(frozen=True)
class Series:
    """One line or bar series: its legend label and one value per x label (None: no data that month)."""

    label: str
    values: tuple[float | None, ...]


def line_chart(title: str, x_labels: Sequence[str], series: Sequence[Series], *, percent: bool = False,
               width: int = 520, height: int = 260, colours: Sequence[str] = COLOURS) -> bytes:
    """A line chart (e.g. 报送及时率 by month); `percent` fixes the y axis at 0–100 %."""
    import pygal  # type: ignore[import-untyped]

    chart = pygal.Line(_config(width, height, colours), show_dots=True, dots_size=2.5, allow_interruptions=True,
                       range=(0, 100) if percent else None, include_x_axis=True)
    if percent:
        chart.value_formatter = lambda v: f"{v:.0f}%"
    return _draw(chart, title, x_labels, series)


def bar_chart(title: str, x_labels: Sequence[str], series: Sequence[Series], *, stacked: bool = False,
              width: int = 520, height: int = 260, colours: Sequence[str] = COLOURS, decimals: int = 0) -> bytes:
    """Bars by month (e.g. risks by level, stacked; 诉求 opened and closed, side by side). With `decimals=0` the
    values are counts: the y axis is labelled at whole numbers only (pygal's own steps are fractional for small
    counts, and rounded they read "0 0 1 1 1 2")."""
    import pygal  # type: ignore[import-untyped]

    kind = pygal.StackedBar if stacked else pygal.Bar
    chart = kind(_config(width, height, colours), include_x_axis=True)
    chart.value_formatter = lambda v: f"{v:.{decimals}f}"
    if decimals == 0:
        chart.y_labels = count_ticks(series, stacked=stacked)
    return _draw(chart, title, x_labels, series)


def count_ticks(series: Sequence[Series], *, stacked: bool) -> list[int]:
    """Whole-number y labels from 0 to the tallest bar, at most about six of them."""
    columns = zip(*(s.values for s in series), strict=False)
    tallest = max((sum(v or 0 for v in col) if stacked else max((v or 0 for v in col), default=0)
                   for col in columns), default=0)
    top = max(1, int(-(-tallest // 1)))
    step = max(1, -(-top // 5))
    return list(range(0, top + step, step))


def data_uri(svg: bytes) -> str:
    """The SVG as a `data:` URI, the only kind of URL the PDF renderer loads."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _config(width: int, height: int, colours: Sequence[str]) -> object:
    import pygal  # type: ignore[import-untyped]
    from pygal.style import Style  # type: ignore[import-untyped]

    style = Style(font_family=FONT, background="white", plot_background="white", foreground="#333",
                  foreground_strong="#1a1a1a", foreground_subtle="#d0d4da", colors=tuple(colours),
                  title_font_size=15, label_font_size=11, major_label_font_size=11, legend_font_size=11,
                  value_font_size=10, opacity="1", opacity_hover="1", transition="0s",
                  guide_stroke_color="#d0d4da", guide_stroke_dasharray="0",
                  major_guide_stroke_color="#b8bfc8", major_guide_stroke_dasharray="0")
    config = pygal.Config()
    config.style = style
    config.width, config.height = width, height
    config.js = []              # no script URL: the PDF renderer would refuse it, and it serves only a browser
    config.disable_xml_declaration = True
    # Not legend_at_bottom_columns: with it set pygal 3.1 draws the legend below the canvas, where it is cut off.
    config.legend_at_bottom = True
    config.truncate_label = -1  # a month or a name is short; never cut "11月" to "1…"
    config.truncate_legend = -1
    config.print_values = False
    config.margin = 6
    config.spacing = 8
    config.no_data_text = "无数据"
    return config


def _draw(chart: object, title: str, x_labels: Sequence[str], series: Sequence[Series]) -> bytes:
    chart.title = title  # type: ignore[attr-defined]
    chart.x_labels = list(x_labels)  # type: ignore[attr-defined]
    for s in series:
        chart.add(s.label, list(s.values))  # type: ignore[attr-defined]
    svg: str = chart.render(is_unicode=True)  # type: ignore[attr-defined]
    return _inert(svg).encode("utf-8")


# pygal writes exactly one inline <script> (window.pygal config) and, with js=[], no others; its text is JSON
# with '<' escaped by the serializer, so a non-greedy match to the first closing tag removes it whole.
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S)
# Comments carry pygal's version banner and URLs; harmless, but "no URL in the SVG" is simpler to hold to.
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def _inert(svg: str) -> str:
    return _COMMENT.sub("", _SCRIPT.sub("", svg))
