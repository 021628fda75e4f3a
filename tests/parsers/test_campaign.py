"""The campaign feedback form (CAMPAIGN.md): writing it, and reading a unit's feedback out of body lines.

Most tests read text with `read_campaigns` directly; the last ones fuzz
`read_campaigns` and `parse_message` with mutated feedback replies (no
exception may escape, as in test_fuzz.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import UnreadableMessage, parse_message, render_form
from parsers.campaign import CampaignFeedback, read_campaigns, render_campaign_form
from parsers.campaigntext import find_campaign_token
from parsers.model import Problem
from parsers.quotes import boundaries, split_lines

TOKEN = "TG-2026-01-GD"
SUBJECT = f"回复：[推广反馈] TG-2026-01 冬季调峰气保供服务方案 广东分公司 [{TOKEN}]"
TARGETS = [("S001", "国家电网有限公司"), ("V012", "广州燃气集团有限公司")]
BLANK = render_campaign_form(token=TOKEN, campaign="TG-2026-01", title="冬季调峰气保供服务方案", targets=TARGETS)
ALLOWED = "“未开展”“已宣贯”“有意向”“洽谈中”“已签约”“执行中”或“无意向”"


def read(text: str, subject: str = SUBJECT) -> list[CampaignFeedback]:
    lines = split_lines(text)
    return read_campaigns(lines, [b.line for b in boundaries(lines)], subject)


def one(text: str, subject: str = SUBJECT) -> CampaignFeedback:
    found = read(text, subject)
    assert len(found) == 1
    return found[0]


def fill(answers: dict[str, dict[int, str]], form: str = BLANK) -> str:
    """Answers after the colons of a blank form: {customer code: {field number: answer}}."""
    out, block = [], ""
    for line in form.split("\n"):
        if line.startswith("【客户】"):
            block = line[4:].split(" ")[0]
        number = int(line[0]) if line[:2].rstrip(".").isdigit() and line[1:2] == "." else 0
        out.append(line + answers.get(block, {}).get(number, ""))
    return "\n".join(out)


def messages(problems: Sequence[Problem]) -> list[tuple[str, str]]:
    return [(p.where, p.message) for p in problems]


# --- the blank form ---------------------------------------------------------------------------

def test_blank_form_is_exactly_campaign_md() -> None:
    # The bot writes the form CAMPAIGN.md shows, one block per target, no answer filled in.
    block = "1. 进展阶段：\n2. 合作意向及规模：\n3. 本期进展：\n4. 下一步安排：\n5. 预计签约时间：\n6. 需总部支持：\n"
    assert BLANK == ("【推广反馈】编号：TG-2026-01-GD\n方案：TG-2026-01 冬季调峰气保供服务方案\n"
                     "进展阶段可填：未开展 / 已宣贯 / 有意向 / 洽谈中 / 已签约 / 执行中 / 无意向\n\n"
                     "【客户】S001 国家电网有限公司\n" + block + "【客户】V012 广州燃气集团有限公司\n" + block + "【填报结束】\n")


def test_render_refuses_a_token_of_another_campaign() -> None:
    # A writer's mistake is caught before a unit ever sees it.
    with pytest.raises(ValueError):
        render_campaign_form(token="TG-2026-02-GD", campaign="TG-2026-01", title="x", targets=TARGETS)
    with pytest.raises(ValueError):
        render_campaign_form(token="tg-2026-01-gd", campaign="TG-2026-01", title="x", targets=TARGETS)


def test_blank_form_reads_as_blank() -> None:
    # The untouched form: every target null, no errors, one warning that it is empty.
    feedback = one(BLANK)
    assert (feedback.token, feedback.campaign, feedback.unit) == (TOKEN, "TG-2026-01", "GD")
    assert [t.customer for t in feedback.targets] == ["S001", "V012"]
    assert all(t.as_json() == {"customer": t.customer, "stage": None, "intention": None, "progress": None,
                               "next": None, "expected_signing": None, "needs_hq": None} for t in feedback.targets)
    assert not feedback.has_answers and not feedback.errors
    assert messages(feedback.warnings) == [("", "【推广反馈】为空：各栏均未填写")]


def test_filled_render_round_trips() -> None:
    # Every field written into a rendered form reads back, multi-line text kept.
    text = fill({"S001": {1: "有意向", 2: "年增供约1亿方", 3: "已宣贯方案", 4: "12月洽谈", 5: "2027年3月", 6: "是"},
                 "V012": {1: "已签约", 2: "3000万方", 3: "已签约", 4: "执行", 5: "2026-12-01", 6: "否"}})
    text = text.replace("3. 本期进展：已宣贯方案", "3. 本期进展：已宣贯方案\n客户认可价格机制")
    feedback = one(text)
    assert feedback.has_answers and not feedback.errors and not feedback.warnings
    assert feedback.as_json(False)["targets"] == [
        {"customer": "S001", "stage": "有意向", "intention": "年增供约1亿方", "progress": "已宣贯方案\n客户认可价格机制",
         "next": "12月洽谈", "expected_signing": "2027-03", "needs_hq": True},
        {"customer": "V012", "stage": "已签约", "intention": "3000万方", "progress": "已签约", "next": "执行",
         "expected_signing": "2026-12-01", "needs_hq": False},
    ]
    assert list(feedback.as_json(True)) == ["kind", "token", "campaign", "unit", "targets", "urgent", "errors",
                                            "warnings"]
    assert "kind" not in feedback.as_json(True, with_kind=False)


# --- stages -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("written", "stage"), [
    *((s, s) for s in ("未开展", "已宣贯", "有意向", "洽谈中", "已签约", "执行中")),
    ("已推广", "已宣贯"), ("谈判中", "洽谈中"), ("已签合同", "已签约"), ("暂无意向", "无意向"),
    ("有意向。", "有意向"), ("\u3000洽谈中 ", "洽谈中"),
    ("", None), ("无", None), ("暂无", None), ("-", None), ("N/A", None),
])
def test_stage_values(written: str, stage: str | None) -> None:
    # The seven stages and their synonyms; empty or a nothing-marker is "no change".
    feedback = one(fill({"S001": {1: written, 3: "客户自有气源充足"}}))
    assert feedback.targets[0].stage == stage
    assert not feedback.errors


def test_unknown_stage_is_an_error_naming_customer_text_and_choices() -> None:
    feedback = one(fill({"V012": {1: "跟进中"}}))
    assert feedback.targets[1].stage is None
    assert messages(feedback.errors) == [("V012/进展阶段", f"客户V012的进展阶段只能填{ALLOWED}，填写的是“跟进中”")]


def test_stage_with_a_remark_below_keeps_the_stage_and_warns() -> None:
    # As for the monthly form's one-word fields: the first line is the value, the rest is ignored with a warning.
    feedback = one(fill({"S001": {1: "有意向\n客户下周答复"}}))
    assert feedback.targets[0].stage == "有意向" and not feedback.errors
    assert messages(feedback.warnings) == [("S001/进展阶段", "“客户下周答复”不在任何栏目下，已忽略")]


def test_no_intention_needs_a_reason() -> None:
    without = one(fill({"S001": {1: "不感兴趣", 3: "无"}}))
    assert without.targets[0].stage == "无意向"
    assert messages(without.errors) == [("S001/本期进展", "客户S001的进展阶段为“无意向”，请在“本期进展”中写明客户无意向的原因")]
    assert not one(fill({"S001": {1: "无意向", 3: "客户已与其他供应商签约"}})).errors


# --- dates and the HQ flag --------------------------------------------------------------------

@pytest.mark.parametrize(("written", "expected"), [
    ("2027年3月", "2027-03"), ("2027-03", "2027-03"), ("2027.3", "2027-03"), ("2027/3/15", "2027-03-15"),
    ("2027年3月15日", "2027-03-15"), ("２０２７年３月", "2027-03"), ("2027 年 12 月底", "2027-12"),
    ("2027年3月份", "2027-03"), ("2027-3-5", "2027-03-05"), ("待定", None), ("无", None), ("", None),
])
def test_signing_dates(written: str, expected: str | None) -> None:
    feedback = one(fill({"S001": {5: written}}))
    assert feedback.targets[0].expected_signing == expected
    assert not [w for w in feedback.warnings if w.where.endswith("预计签约时间")]


@pytest.mark.parametrize(("written", "why"), [
    ("3月底", "没有写年份，无法确定是哪一年"),
    ("明年开春", "无法识别为日期"),
    ("2027年13月", "不是有效的日期"),
    ("2027-02-30", "不是有效的日期"),
])
def test_unreadable_signing_date_is_a_warning_and_the_text_is_kept(written: str, why: str) -> None:
    feedback = one(fill({"S001": {5: written}}))
    target = feedback.targets[0]
    assert target.expected_signing is None and target.signing_text == written and not feedback.errors
    assert messages(feedback.warnings) == [(
        "S001/预计签约时间",
        f"客户S001的预计签约时间“{written}”{why}，已按未填写处理；请写成“2027年3月”或“2027年3月15日”的形式")]


@pytest.mark.parametrize(("written", "value"), [("是", True), ("Y", True), ("√", True), ("否", False),
                                                 ("不需要", False), ("no", False), ("", None)])
def test_needs_hq_reads_like_the_monthly_form(written: str, value: bool | None) -> None:
    assert one(fill({"S001": {6: written}})).targets[0].needs_hq is value


def test_bad_needs_hq_is_an_error() -> None:
    feedback = one(fill({"S001": {6: "视情况"}}))
    assert feedback.targets[0].needs_hq is None
    assert messages(feedback.errors) == [("S001/需总部支持", "客户S001的需总部支持只能填“是”或“否”，填写的是“视情况”")]


# --- blocks -----------------------------------------------------------------------------------

def test_repeated_block_same_content_is_kept_once_different_content_is_an_error() -> None:
    block = "【客户】S001 国家电网有限公司\n1. 进展阶段：有意向\n"
    head = BLANK.split("【客户】")[0]
    same = one(head + block + block + "【填报结束】")
    assert [t.customer for t in same.targets] == ["S001"] and not same.errors
    different = one(head + block + block.replace("有意向", "洽谈中") + "【填报结束】")
    assert [t.stage for t in different.targets] == ["有意向"]
    assert messages(different.errors) == [("S001", "客户S001的填报块出现了不止一次且内容不同，请只保留一个")]


def test_malformed_customer_code_is_an_error_and_the_block_dropped() -> None:
    text = BLANK.replace("【客户】V012 广州燃气集团有限公司", "【客户】广州燃气集团有限公司")
    feedback = one(fill({"V012": {1: "有意向"}}, text))
    assert [t.customer for t in feedback.targets] == ["S001"]
    assert messages(feedback.errors) == [("【客户】", "【客户】后应写客户编号（S或V加数字），写的是“广州燃气集团有限公司”")]


def test_a_new_customer_is_read_like_the_others() -> None:
    # Whether S023 is on the unit's list is for the capability to say, not the parser.
    text = BLANK.replace("【填报结束】", "【客户】s 023 佛山燃气\n1. 进展阶段：有意向\n【填报结束】")
    feedback = one(text)
    assert [t.customer for t in feedback.targets] == ["S001", "V012", "S023"]
    assert feedback.targets[2].stage == "有意向" and not feedback.errors


def test_legend_line_is_never_an_answer_even_inside_a_block() -> None:
    legend = "进展阶段可填：未开展 / 已宣贯 / 有意向 / 洽谈中 / 已签约 / 执行中 / 无意向"
    text = BLANK.replace("【客户】S001 国家电网有限公司\n", f"【客户】S001 国家电网有限公司\n{legend}\n")
    feedback = one(text)
    assert feedback.targets[0].stage is None and not feedback.has_answers


def test_missing_label_and_stray_header_text_are_warnings() -> None:
    text = fill({"S001": {1: "有意向"}}).replace("6. 需总部支持：\n", "", 1).replace(
        "进展阶段可填", "本期无其他情况\n进展阶段可填")
    feedback = one(text)
    assert messages(feedback.warnings) == [("", "“本期无其他情况”不在任何栏目下，已忽略"),
                                           ("S001", "未找到第6项“需总部支持”一栏，按未填写处理")]


def test_tolerated_brackets_numbering_and_colons() -> None:
    text = ("［推广反馈］ 编号: tg－2026－1－gd\n〔客户〕V012\n（1）进展阶段:有意向\n⑥ 需总部支持：是\n"
            "[客户]：S001 国网\n1、进展阶段：洽谈中\n【填报结束】")
    feedback = one(text, subject="推广反馈")
    assert feedback.token == TOKEN
    assert [(t.customer, t.stage, t.needs_hq) for t in feedback.targets] == [("V012", "有意向", True),
                                                                             ("S001", "洽谈中", None)]


# --- where a copy ends, and which copy wins ---------------------------------------------------

MONTHLY = render_form(token="KCR-202611-GD", unit_code="GD", unit_name="广东分公司", period="2026-11",
                      strategic=[("S001", "国家电网有限公司")], vip=[("V012", "深圳燃气")])


def test_copy_without_end_marker_stops_at_the_monthly_form() -> None:
    # Campaign blocks riding above the monthly form: the monthly form's fields never become campaign answers.
    filled_monthly = MONTHLY.replace("1. 全国性天然气产品及服务方案执行情况：", "1. 全国性天然气产品及服务方案执行情况：已执行")
    text = fill({"S001": {1: "有意向", 6: "否"}}).replace("【填报结束】\n", "") + filled_monthly
    feedback = one(text, subject="[KCR-202611-GD]")
    assert feedback.targets[1].as_json()["needs_hq"] is None and not feedback.errors
    assert "重点客户月报填报单" not in feedback.text


@pytest.mark.parametrize("stop", ["【满意度调查】编号：SV-2026-01-S001", "-----邮件原件-----", "发自我的iPhone"])
def test_copy_without_end_marker_stops_at_another_form_a_separator_or_a_signature(stop: str) -> None:
    text = fill({"V012": {1: "有意向", 6: "是"}}).replace("【填报结束】\n", "") + f"{stop}\n需总部支持：否\n"
    feedback = one(text)
    assert feedback.targets[1].needs_hq is True and not feedback.errors


def test_topmost_copy_with_answers_wins() -> None:
    filled = fill({"S001": {1: "有意向"}})
    blank_above = one(BLANK + "\n-----邮件原件-----\n" + filled)
    assert blank_above.targets[0].stage == "有意向" and not blank_above.warnings
    two_filled = one(filled + "\n-----邮件原件-----\n" + fill({"S001": {1: "已宣贯"}}))
    assert two_filled.targets[0].stage == "有意向"
    assert messages(two_filled.warnings) == [("", "邮件中有2份填写过的【推广反馈】，已采用最上面的一份")]


def test_two_campaigns_in_one_message_topmost_first() -> None:
    other = render_campaign_form(token="TG-2026-02-GD", campaign="TG-2026-02", title="LNG槽车服务", targets=TARGETS)
    found = read(fill({"S001": {1: "有意向"}}, other) + "\n" + fill({"S001": {1: "洽谈中"}}), subject="推广反馈")
    assert [(f.token, f.targets[0].stage) for f in found] == [("TG-2026-02-GD", "有意向"), (TOKEN, "洽谈中")]
    assert not any(f.warnings for f in found)


def test_no_form_no_feedback() -> None:
    assert read("您好，请问推广反馈何时截止？\n李明") == []
    assert read(MONTHLY, subject=SUBJECT) == []


# --- the feedback number ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "token"), [
    ("TG-2026-01-GD", TOKEN), ("tg-2026-01-gd", TOKEN), ("ＴＧ－２０２６－０１－ＧＤ", TOKEN),
    ("TG-2026-1-GD", TOKEN), ("TG - 2026 - 01 - GD（广东）", TOKEN), ("[TG-2026-01-GD]", TOKEN),
    ("TG-2026-01", None), ("TG-2026-GD", None), ("XTG-2026-01-GD", None), ("", None),
])
def test_token_formats(text: str, token: str | None) -> None:
    found = find_campaign_token(text)
    assert (found.text if found else None) == token


def test_token_on_its_own_line_and_from_the_subject() -> None:
    own_line = one(BLANK.replace(f"编号：{TOKEN}", f"\n编号：{TOKEN}"), subject="推广反馈")
    assert own_line.token == TOKEN
    assert messages(own_line.warnings) == [("", "【推广反馈】为空：各栏均未填写")]
    missing = one(fill({"S001": {1: "有意向"}}).replace(f"编号：{TOKEN}", ""))
    assert missing.token == TOKEN
    assert messages(missing.warnings) == [("编号", f"【推广反馈】中没有编号，已采用邮件主题中的 {TOKEN}")]


def test_unreadable_token_warns_with_a_fallback_and_errs_without() -> None:
    text = fill({"S001": {1: "有意向"}}).replace(f"编号：{TOKEN}", "编号：TG-2026-GD")
    fallback = one(text)
    assert fallback.token == TOKEN and not fallback.errors
    assert messages(fallback.warnings) == [
        ("编号", f"【推广反馈】中的编号“TG-2026-GD”无法识别，已采用邮件主题中的 {TOKEN}")]
    nothing = one(text, subject="推广反馈")
    assert (nothing.token, nothing.campaign, nothing.unit) == (None, None, None)
    assert messages(nothing.errors) == [
        ("编号", "【推广反馈】中的编号“TG-2026-GD”无法识别，应为 TG-年份-序号-单位代码 的形式，请勿修改")]


def test_copy_without_number_joins_the_messages_only_number() -> None:
    # No number in the subject: the typed copy without one belongs with the quoted notice's copy below.
    top = fill({"S001": {1: "有意向"}}).replace(f"编号：{TOKEN}", "")
    feedback = one(top + "\n-----邮件原件-----\n" + BLANK, subject="Re: 推广")
    assert feedback.token == TOKEN and feedback.targets[0].stage == "有意向"
    assert messages(feedback.warnings) == [
        ("编号", f"【推广反馈】中没有编号，已采用邮件中另一份【推广反馈】中的 {TOKEN}")]


def test_subject_and_form_disagree_the_form_wins() -> None:
    feedback = one(fill({"S001": {1: "有意向"}}), subject="Re: [TG-2026-01-SZ]")
    assert feedback.token == TOKEN
    assert messages(feedback.warnings) == [
        ("编号", f"主题中的编号 TG-2026-01-SZ 与【推广反馈】中的 {TOKEN} 不一致，以【推广反馈】为准")]


def test_no_number_anywhere_is_a_warning() -> None:
    feedback = one(fill({"S001": {1: "有意向"}}).replace(f"编号：{TOKEN}", ""), subject="推广")
    assert feedback.token is None and not feedback.errors
    assert messages(feedback.warnings) == [("编号", "【推广反馈】和邮件主题中都没有编号")]


# --- hostile input ----------------------------------------------------------------------------

def test_hostile_input_is_read_without_a_crash() -> None:
    # Many titles, many blocks, a megabyte line: each read to a result (speed is bench/bench_parse.py's business).
    cases = [
        "【推广反馈】编号：TG-2026-01-GD\n" * 20_000,
        "【推广反馈】TG-2026-01-GD\n" + "【客户】S001\n1. 进展阶段：有意向\n" * 5_000,
        "【推广反馈】" + "TG-2026-01-" * 100_000 + "\n【客户】S001 " + "1. 进展阶段：" * 50_000,
        "【推广反馈】\n【客户】S001\n5. 预计签约时间：" + "2027年" * 100_000,
    ]
    for text in cases:
        found = read(text)
        assert found and all(f.campaign in (None, "TG-2026-01") for f in found)


# --- fuzz -------------------------------------------------------------------------------------

FUZZ = settings(max_examples=int(os.environ.get("MAILBOT_FUZZ_EXAMPLES", "0")) or 50, deadline=None, derandomize=True,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
KINDS = {"bounce", "auto_reply", "monthly_report", "campaign_feedback", "survey_response", "urgent_report",
         "unknown"}
FILLED = fill({"S001": {1: "有意向", 2: "1亿方", 3: "已宣贯", 5: "2027年3月", 6: "是"},
               "V012": {1: "无意向", 3: "无", 5: "3月底", 6: "视情况"}})
LINES = FILLED.split("\n") + MONTHLY.split("\n")
NOISE = ["", "【客户】", "【客户】X1", "[推广反馈]", "【推广反馈】编号：TG-2026-01-", "1. 进展阶段：", "5. 预计签约时间：2027年99月",
         "6、需总部支持：？", "-----邮件原件-----", "发自我的iPhone", "【填报结束】", "进展阶段可填：", "（1）", "无意向"]


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(LINES), st.sampled_from(NOISE), st.text(max_size=30)), max_size=80),
       st.sampled_from(["", "> ", ">> "]), st.text(max_size=40))
def test_shuffled_feedback_lines_never_raise(lines: list[str], prefix: str, subject: str) -> None:
    # Form lines, noise and random text in any order and quoting: read or ignored, never a crash.
    for feedback in read("\n".join(prefix + line for line in lines), subject):
        json.dumps(feedback.as_json(True), ensure_ascii=False).encode("utf-8")


def _mail(body: bytes, charset: str = "utf-8") -> bytes:
    return (f"From: liming@gd.example.cn\r\nSubject: Re: [{TOKEN}]\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").encode() + body


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 32), st.binary(max_size=12)), min_size=1, max_size=6),
       st.sampled_from(["utf-8", "gb18030"]))
def test_mutated_feedback_replies_never_raise(edits: list[tuple[int, int, bytes]], charset: str) -> None:
    # A filled reply with bytes deleted, replaced and inserted anywhere parses to a known kind or is unreadable.
    raw = bytearray(_mail(("反馈如下。\n\n" + FILLED + "\n-----邮件原件-----\n" + BLANK).encode(charset), charset))
    for at, length, insert in edits:
        at %= len(raw) + 1
        raw[at:at + length] = insert
    try:
        parsed = parse_message(bytes(raw))
    except UnreadableMessage as exc:
        assert exc.reason
        return
    assert parsed.kind in KINDS
    json.dumps(parsed.as_json(), ensure_ascii=False).encode("utf-8")
