"""Quote prefixes, quoted-original boundaries and the sender's new text (parsers.quotes)."""

from __future__ import annotations

import time

import pytest

from parsers.quotes import boundaries, cut_sign_off, new_text, quote_start, split_lines


@pytest.mark.parametrize("raw, depth, text", [
    ("> 1. 执行情况：", 1, "1. 执行情况："),
    ("> > 1. 执行情况：", 2, "1. 执行情况："),
    (">>1. 执行情况：", 2, "1. 执行情况："),
    ("&gt; &gt; 填报人：", 2, "填报人："),
    ("\u3000\u3000风险等级：一般", 0, "风险等级：一般"),
    ("\u00a0\t 需总部协调：是", 0, "需总部协调：是"),
    ("  >\u00a0 问题或诉求：无", 1, "问题或诉求：无"),
    ("正文 > 不是引用", 0, "正文 > 不是引用"),
])
def test_split_lines_counts_and_removes_prefixes(raw: str, depth: int, text: str) -> None:
    # Quote prefixes of any depth and leading spaces/tabs/NBSP/full-width spaces are removed.
    line = split_lines(raw)[0]
    assert (line.depth, line.text) == (depth, text)


def _start(text: str) -> int:
    lines = split_lines(text)
    return quote_start(lines, boundaries(lines))


@pytest.mark.parametrize("sample", [
    "新内容\n-----邮件原件-----\n发件人: 重点客户月报 <kcr@hq.example.cn>\n发送时间: 2026年11月20日 9:00",
    "新内容\n------------------ 原始邮件 ------------------\n发件人: \"重点客户月报\"<kcr@hq.example.cn>;",
    "新内容\n-----Original Message-----\nFrom: KCR <kcr@hq.example.cn>",
    "新内容\n----- 原始邮件 -----\n> 发件人: x",
    "新内容\n在 2026年11月20日 09:00，重点客户月报 <kcr@hq.example.cn> 写道：\n> 原文",
    "新内容\n重点客户月报 <kcr@hq.example.cn> 于2026年11月20日周五 09:00写道：\n> 原文",
    "新内容\n于 2026年11月20日 GMT+08:00 上午9:00:00, \"重点客户月报\" <kcr@hq.example.cn> 写到:\n> 原文",
    "新内容\nOn Fri, Nov 20, 2026 at 9:00 AM KCR <kcr@hq.example.cn>\nwrote:\n> 原文",
    "新内容\n发件人： 重点客户月报\n发送时间： 2026-11-20 09:00\n收件人： liming@gd.example.cn",
    "新内容\n________________________________\n发件人: 重点客户月报 <kcr@hq.example.cn>\n发送时间: 2026年11月20日 9:00:00",
    "新内容\n*发件人:* 重点客户月报\n*发送时间:* 2026年11月20日 9:00",
    "新内容\n主　题：月报\n日　期：2026-11-20 09:00\n发件人：重点客户月报",
    "新内容\n> 引用的第一行",
])
def test_quoted_original_starts_after_new_text(sample: str) -> None:
    # Separators, attributions (写道/写到/wrote, wrapped), header blocks and ">" lines all start the quote.
    assert _start(sample) == 1


def test_report_text_ending_in_xiedao_is_not_an_attribution() -> None:
    # "客户来函中写道：" followed by ordinary lines is report text, not a quote header.
    lines = split_lines("3. 跟踪进展：客户11月5日来函中写道：\n希望增加气量。")
    assert boundaries(lines) == []


def test_visit_record_is_not_a_header_block() -> None:
    # 主题：/时间：/地点： lines inside an answer are report text, not quoted mail headers.
    text = "拜访纪要：\n主题：冬季保供\n时间：2026年11月12日\n地点：深圳\n参加人：张总"
    lines = split_lines(text)
    assert boundaries(lines) == []


def test_new_text_drops_signature_and_quote() -> None:
    # 发自我的iPhone and everything below it is not new text.
    text = "已填，见下。\n\n发自我的iPhone\n\n> 在 2026年11月20日，重点客户月报 写道：\n> 原文"
    lines = split_lines(text)
    assert new_text(lines, boundaries(lines)) == "已填，见下。"


def test_new_text_drops_dash_signature_but_not_a_long_tail() -> None:
    # A "--" line starts a signature only when few lines follow it.
    short = split_lines("正文\n--\n李明\n广东分公司")
    assert new_text(short, boundaries(short)) == "正文"
    long_tail = split_lines("正文\n--\n" + "\n".join(f"第{i}行" for i in range(20)))
    assert new_text(long_tail, boundaries(long_tail)).startswith("正文\n--\n第0行")


def test_new_text_drops_disclaimer() -> None:
    # Confidentiality footers are cut like signatures.
    lines = split_lines("请总部关注。\n本邮件及其附件含有保密信息，仅限于指定收件人使用。")
    assert new_text(lines, boundaries(lines)) == "请总部关注。"


def test_bottom_post_text_below_quote_is_new_text() -> None:
    # Thunderbird/Coremail bottom-posting: unquoted lines after the ">" quote are the sender's.
    text = "在 2026/11/20 9:00, 重点客户月报 写道:\n> 原文\n> 第二行\n我的答复\n-- \n李明"
    lines = split_lines(text)
    assert new_text(lines, boundaries(lines)) == "我的答复"


def test_top_post_above_header_block_ignores_original_body() -> None:
    # Foxmail-style header block: nothing below it is new text even though it is not ">"-quoted.
    text = "收到\n\n发件人： 重点客户月报\n发送时间： 2026-11-20 09:00\n主题： 月报\n\n原文正文"
    lines = split_lines(text)
    assert new_text(lines, boundaries(lines)) == "收到"


def test_qq_literal_nbsp_separator() -> None:
    # QQ's plain part may carry &nbsp; literally inside its separator line.
    assert _start("正文\n------------------&nbsp;Original&nbsp;------------------\nFrom: x") == 1


def test_many_dash_lines_are_linear() -> None:
    # A body of 20 000 "--" lines is handled in linear time; the last dozen count as signature.
    lines = split_lines("\n".join(["--"] * 20000))
    started = time.perf_counter()
    kept = new_text(lines, boundaries(lines))
    assert time.perf_counter() - started < 1.0
    assert kept.count("--") == 20000 - 13


@pytest.mark.parametrize("text, sender, kept", [
    # name, department and contact lines after the matter go, with a closing line above them
    ("S005客户可能中断供气三天，请总部协调。\n\n谢谢！\n马丽\n陕西分公司市场营销部\n电话：029-88886666\n手机：13800000000",
     "马丽", "S005客户可能中断供气三天，请总部协调。"),
    ("管线泄漏，已抢修。\n\n李明", "李明", "管线泄漏，已抢修。"),  # the sender's own name alone
    ("管线泄漏，请协调。\nLi Ming\nTel: +86 20 3888 6666", "Li Ming", "管线泄漏，请协调。"),
    # no proof it is a sign-off: a trailing name that is not the sender's, or a line ending in 公司, stays
    ("请联系客户。\n\n王强", "李明", "请联系客户。\n\n王强"),
    ("已通知下游用户。\n榆林分公司", "李明", "已通知下游用户。\n榆林分公司"),
    # a sentence about a phone call is the matter, and a text that is all sign-off is left whole
    ("电话联系了客户，对方同意延期。\n\n李明", "李明", "电话联系了客户，对方同意延期。"),
    ("李明\n13912345678", "李明", "李明\n13912345678"),
])
def test_a_sign_off_ending_free_text_is_cut(text: str, sender: str, kept: str) -> None:
    assert cut_sign_off(text, sender) == kept
