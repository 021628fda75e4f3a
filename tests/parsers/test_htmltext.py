"""HTML → text conversion (parsers.htmltext)."""

from __future__ import annotations

from parsers.htmltext import html_to_text


def test_outlook_paragraphs_and_nbsp() -> None:
    # MsoNormal paragraphs become lines; &nbsp; paragraphs become blank lines; &nbsp; runs spaces.
    html = ("<p class=MsoNormal>填报人：李明<o:p></o:p></p><p class=MsoNormal>&nbsp;<o:p></o:p></p>"
            "<p class=MsoNormal>联系电话：&nbsp;&nbsp;0755-88886666</p>")
    assert html_to_text(html) == "填报人：李明\n\n联系电话：  0755-88886666"


def test_div_br_soup() -> None:
    # <div>/<br> soup as QQ and NetEase write it: one line per div, <div><br></div> a blank line.
    html = "<div>第一行<br></div><div><br></div><div>第二行<br>第三行</div>"
    assert html_to_text(html) == "第一行\n\n第二行\n第三行"


def test_table_row_label_and_answer_cells() -> None:
    # A label cell ending in a colon runs into its answer cell; other cells are tab-separated.
    html = ("<table><tr><td><p>1. 执行情况：</p></td><td><p>已执行</p><p>第二行</p></td></tr>"
            "<tr><td>风险等级（无/一般/重大）</td><td>一般</td></tr>"
            "<tr><td colspan=2>【填报结束】</td></tr></table>")
    assert html_to_text(html) == "1. 执行情况：已执行\n第二行\n风险等级（无/一般/重大）\t一般\n【填报结束】"


def test_unclosed_cells_and_rows() -> None:
    # Tag soup with missing </td> and </tr> still yields one line per row.
    assert html_to_text("<table><tr><td>a：<td>b<tr><td>c<td>d</table>") == "a：b\nc\td"


def test_blockquote_becomes_quote_prefix() -> None:
    # <blockquote> content gets "> " per level so quote detection works as in plain text.
    html = "答复<blockquote>原文<br>第二行<blockquote>更早</blockquote></blockquote>"
    assert html_to_text(html) == "答复\n> 原文\n> 第二行\n> > 更早"


def test_style_script_comments_and_conditionals_are_dropped() -> None:
    # <style>, <script>, comments and Office conditional blocks produce no text.
    html = ("<head><style>p {color:red}</style><script>var a = '<p>';</script></head>"
            "<!--[if gte mso 9]><xml>x</xml><![endif]--><p><![if !supportLists]>1.<![endif]> 条目</p>")
    assert html_to_text(html) == "1. 条目"


def test_hr_is_outlook_rule_and_entities_decode() -> None:
    # <hr> becomes Outlook's underscore rule; entities such as &lt; decode after tokenising.
    assert html_to_text("a &lt;b&gt;<hr>c") == "a <b>\n" + "_" * 32 + "\nc"


def test_ordered_list_numbers_are_kept() -> None:
    # <ol><li> items are numbered (respecting start=) so numbered labels survive.
    assert html_to_text('<ol start="3"><li>甲：</li><li>乙</li></ol><ul><li>丙</li></ul>') == "3. 甲：\n4. 乙\n丙"


def test_pre_keeps_whitespace() -> None:
    # <pre> keeps line breaks and spaces (163 puts the quoted original in <pre>).
    assert html_to_text("<pre>a  b\n&gt; c</pre>") == "a  b\n> c"


def test_garbage_does_not_raise() -> None:
    # Unterminated tags, comments and quotes never raise.
    for html in ("<div title=\"x", "<!-- never closed", "<<<>>>", "<table><td>", "</td></tr></table>", ""):
        assert isinstance(html_to_text(html), str)
