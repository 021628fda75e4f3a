"""The satisfaction survey form: writing it, and reading responses (parsers.surveytext, parsers.survey).

SURVEY.md is the contract: the blank form's exact text, what each answer
means, which copy of the form wins, and where the survey number comes from.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import UnreadableMessage, parse_message
from parsers.quotes import boundaries, split_lines
from parsers.survey import Question, SurveyResponse, find_survey_copies, read_survey, render_survey_form, score_of
from parsers.surveytext import find_survey_token, question_span

TOKEN = "MY-2026-01-S001"
SUBJECT = f"回复: [满意度调查] 2026年第1期重点客户满意度调查 [{TOKEN}]"
QUESTIONS = [*(Question(t, True) for t in ("资源供应保障", "合同执行与价格", "服务响应速度", "问题解决效果",
                                           "沟通与信息交流", "总体满意度")), Question("意见与建议", False)]
FORM = render_survey_form(token=TOKEN, customer_code="S001", customer_name="国家电网有限公司", questions=QUESTIONS)
SCALE = "5 非常满意、4 满意、3 一般、2 不满意、1 非常不满意"
SEPARATOR = "-----邮件原件-----\n发件人: 气电集团资源与市场部 <survey@hq.example.cn>\n发送时间: 2026年1月12日 9:00\n" \
            f"收件人: 张三\n主题: [满意度调查] [{TOKEN}]\n\n"


def fill(answers: dict[str, str], form: str = FORM) -> str:
    """Type answers after the labels that start with the given keys."""
    out = []
    for line in form.split("\n"):
        key = next((k for k in answers if line.startswith(k)), None)
        out.append(line + answers[key] if key is not None else line)
    return "\n".join(out)


def read(text: str, subject: str = SUBJECT) -> SurveyResponse | None:
    lines = split_lines(text)
    return read_survey(lines, [b.line for b in boundaries(lines)], subject)


def survey(text: str, subject: str = SUBJECT) -> SurveyResponse:
    response = read(text, subject)
    assert response is not None
    return response


def messages(problems: tuple[object, ...]) -> list[tuple[str, str]]:
    return [(p.where, p.message) for p in problems]  # type: ignore[attr-defined]


ALL = {"1. ": "5", "2. ": "4", "3. ": "不了解", "4. ": "4", "5. ": "5", "6. ": "4", "7. ": "希望冬季保供期间加强沟通。",
       "填报人：": "张三", "联系电话：": "010-66668888"}


# --- the blank form ---------------------------------------------------------------------------

def test_the_blank_form_is_exactly_surveys_example() -> None:
    # SURVEY.md "The form", line for line.
    assert FORM == (
        "【满意度调查】编号：MY-2026-01-S001\n客户：S001 国家电网有限公司\n"
        '评分（第1–6题）：5 非常满意 4 满意 3 一般 2 不满意 1 非常不满意；不了解的可填"不了解"\n'
        "1. 资源供应保障：\n2. 合同执行与价格：\n3. 服务响应速度：\n4. 问题解决效果：\n5. 沟通与信息交流：\n"
        "6. 总体满意度：\n7. 意见与建议：\n填报人：\n联系电话：\n【填报结束】\n")


@pytest.mark.parametrize("numbers, span", [({1, 2, 3, 4, 5, 6}, "第1–6题"), ({1, 2, 4}, "第1、2、4题"),
                                           ({3}, "第3题"), ({2, 3}, "第2–3题"), ({5, 1, 2}, "第1、2、5题")])
def test_the_scoring_line_names_a_range_or_a_list(numbers: set[int], span: str) -> None:
    assert question_span(numbers) == span


def test_a_list_of_scored_questions_reads_back() -> None:
    # 第1、2、4题: question 3 is text, though its answer looks like a score.
    questions = [Question("供应", True), Question("价格", True), Question("其他意见", False), Question("服务", True)]
    form = render_survey_form(token=TOKEN, customer_code="S001", customer_name="国家电网", questions=questions)
    assert "评分（第1、2、4题）" in form
    got = survey(fill({"1. ": "5", "2. ": "4", "3. ": "5", "4. ": "3"}, form))
    assert got.scores == {"1": 5, "2": 4, "4": 3} and got.texts == {"3": "5"} and got.warnings == ()


@pytest.mark.parametrize("kwargs", [
    {"token": "MY-2026-01-S002"},                       # another customer's number
    {"token": "KCR-202601-GD"},
    {"questions": [Question("意见", False)]},            # nothing scored: the reader could not tell
    {"questions": [Question("a", True)] * 31},
    {"questions": [Question("两行\n题目", True)]},
    {"questions": [Question("价格：合理性", True)]},       # the label would end at that colon
    {"questions": [Question("价格\t合理性", True)]},
])
def test_a_form_the_reader_could_not_read_back_is_refused(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"token": TOKEN, "customer_code": "S001", "customer_name": "国家电网",
                               "questions": QUESTIONS, **kwargs}
    with pytest.raises(ValueError):
        render_survey_form(**args)  # type: ignore[arg-type]


def test_a_filled_render_round_trips() -> None:
    got = survey(fill(ALL))
    assert got.as_json(False) == {
        "kind": "survey_response", "token": TOKEN, "survey": "MY-2026-01", "customer": "S001",
        "scores": {"1": 5, "2": 4, "3": None, "4": 4, "5": 5, "6": 4}, "texts": {"7": "希望冬季保供期间加强沟通。"},
        "respondent": {"name": "张三", "phone": "010-66668888"}, "urgent": False, "errors": [], "warnings": []}
    assert got.has_answers and got.text.startswith("【满意度调查】") and got.text.endswith("【填报结束】")


def test_the_blank_form_reads_as_empty_and_its_legend_is_no_answer() -> None:
    # The 评分 line's "5 非常满意 4 满意 …" legend is the bot's, never an answer.
    got = survey(FORM)
    assert not got.has_answers and got.errors == ()
    assert got.scores == dict.fromkeys("123456") and got.texts == {"7": None}
    assert messages(got.warnings) == [("", "满意度调查表为空：各题均未填写")]


def test_no_survey_form_is_none() -> None:
    assert read("您好，收到。\n【重点客户月报填报单】\n报告编号：KCR-202611-GD") is None


# --- scores -------------------------------------------------------------------------------------

@pytest.mark.parametrize("written, score", [
    ("5", 5), ("1", 1), ("５", 5), ("4分", 4), ("４分", 4), ("3 分", 3), ("5。", 5), ("（4）", 4),
    ("非常满意", 5), ("满意", 4), ("一般", 3), ("不满意", 2), ("非常不满意", 1), ("比较满意", 4), ("较满意", 4),
    ("基本满意", 3), ("较差", 2), ("很差", 1), ("满意。", 4),
    ("★★★★☆", 4), ("★★★★★", 5), ("★☆☆☆☆", 1), ("★★★", 3), ("⭐⭐⭐⭐", 4),
    ("5 非常满意", 5), ("4（满意）", 4), ("满意 4分", 4),
    ("不了解", None), ("不清楚", None), ("N/A", None), ("n/a", None), ("", None), ("无", None), ("-", None),
])
def test_readable_scores(written: str, score: int | None) -> None:
    assert score_of(written) == (True, score)


@pytest.mark.parametrize("written", ["6", "0", "4.5", "还行吧", "4或5", "4 5", "45", "☆☆☆☆☆", "★★★★★★", "5 满意",
                                     "十分满意", "满意吧", "4，服务好"])
def test_unreadable_scores(written: str) -> None:
    assert score_of(written) == (False, None)


@pytest.mark.parametrize("written", ["6", "4.5", "还行吧", "4或5"])
def test_an_unreadable_score_is_an_error_naming_question_value_and_scale(written: str) -> None:
    # SURVEY.md: for each question, what was written and what is allowed; the score is null.
    got = survey(fill({**ALL, "2. ": written}))
    assert got.scores["2"] is None
    assert messages(got.errors) == [
        ("第2题", f"第2题是评分题，只能填1–5分（{SCALE}）或“不了解”，填写的是“{written}”")]


def test_a_score_on_the_next_line_and_a_remark_below_it() -> None:
    got = survey(FORM.replace("1. 资源供应保障：", "1. 资源供应保障：\n5").replace("2. 合同执行与价格：",
                                                                                 "2. 合同执行与价格：4\n价格偏高"))
    assert got.scores["1"] == 5 and got.scores["2"] == 4
    assert messages(got.warnings) == [("第2题", "第2题只记录评分，后面的“价格偏高”已忽略")]


def test_two_scores_on_two_lines_are_an_error() -> None:
    got = survey(FORM.replace("1. 资源供应保障：", "1. 资源供应保障：4\n5"))
    assert got.scores["1"] is None and [p.where for p in got.errors] == ["第1题"]


def test_every_score_null_is_accepted_with_a_warning() -> None:
    got = survey(fill({"1. ": "不了解", "7. ": "刚接手，下次再评。"}))
    assert got.errors == () and set(got.scores.values()) == {None}
    assert messages(got.warnings) == [("", "各评分题均未评分（空白或“不了解”），本次答复没有可统计的评分")]


# --- free text and respondent -------------------------------------------------------------------

def test_free_text_keeps_its_lines_numbered_lists_and_colons() -> None:
    comment = "几点建议：\n1、冬季保供：提前通报；\n2、价格：保持稳定。"
    # A list inside the last answer whose numbers do not follow the questions is answer text (FORM.md).
    got = survey(fill({**ALL, "7. ": comment}))
    assert got.texts["7"] == comment and got.warnings == ()


@pytest.mark.parametrize("nothing", ["无", "暂无", "没有", "无。", "/", "—", "N/A", "none"])
def test_nothing_markers_make_free_text_null(nothing: str) -> None:
    assert survey(fill({**ALL, "7. ": nothing})).texts == {"7": None}


def test_respondent_lines_keep_their_first_line() -> None:
    # 填报人 / 联系电话 are one-line fields: a sign-off typed below them is named as ignored.
    got = survey(fill({**ALL, "联系电话：": "010-66668888\n谢谢！"}))
    assert (got.respondent_name, got.respondent_phone) == ("张三", "010-66668888")
    assert messages(got.warnings) == [("联系电话", "“谢谢！”不在任何栏目下，已忽略")]


def test_text_before_the_first_label_is_ignored_with_a_warning() -> None:
    got = survey(fill(ALL).replace("客户：", "已填好，请查收。\n客户："))
    assert messages(got.warnings) == [("", "“已填好，请查收。”不在任何题目下，已忽略")]


def test_tolerated_spellings_of_the_form() -> None:
    # Bracket, colon, numbering and width variants; quote prefixes; the 编号 on a line of its own.
    text = ("> ［满意度调查］\n> 编号: my－2026－01－s001\n> 客户: S001\n> 评分（第１~６题）：5 非常满意\n"
            "> 1、资源供应保障: 5\n> （2）合同执行与价格：４分\n> ③ 服务响应速度：\n> 3\n> 4) 问题解决效果：满意\n"
            "> 5．沟通与信息交流：★★★★★\n> ⑥总体满意度：4\n> 7、意见与建议：无\n> [填报结束]")
    got = survey(text, subject="")
    assert got.token == TOKEN and got.errors == () and got.warnings == ()
    assert got.scores == {"1": 5, "2": 4, "3": 3, "4": 4, "5": 5, "6": 4} and got.texts == {"7": None}


@pytest.mark.parametrize("span", ["第1-6题", "第1~6题", "第1至6题", "第1–6题", "第１－６题", "第1、2、3、4、5、6题",
                                  "第1-3、4-6题", "1-6题"])
def test_scoring_line_spellings(span: str) -> None:
    got = survey(fill(ALL).replace("第1–6题", span))
    assert list(got.scores) == ["1", "2", "3", "4", "5", "6"] and got.warnings == ()


# --- copies -------------------------------------------------------------------------------------

def test_the_topmost_filled_copy_wins_over_the_quoted_original() -> None:
    got = survey(fill(ALL) + "\n\n" + SEPARATOR + FORM)
    assert got.scores["1"] == 5 and got.warnings == ()


def test_a_blank_copy_above_never_overrides_a_filled_one_below() -> None:
    got = survey("见下方。\n" + FORM + "\n" + SEPARATOR + fill(ALL))
    assert got.has_answers and got.scores["1"] == 5


def test_two_filled_copies_warn_and_the_top_one_wins() -> None:
    got = survey(fill({**ALL, "1. ": "3"}) + "\n\n" + SEPARATOR + fill(ALL))
    assert got.scores["1"] == 3
    assert messages(got.warnings) == [("", "邮件中有2份填写过的满意度调查表，已采用最上面的一份")]


@pytest.mark.parametrize("stop", [SEPARATOR, "发自我的iPhone\n", "【重点客户月报填报单】\n", "【推广反馈】编号：TG-2026-01-GD\n",
                                  "------------------ 原始邮件 ------------------\n"])
def test_a_copy_without_its_end_marker_stops_before_the_original(stop: str) -> None:
    # 【填报结束】 deleted: the copy ends at the next form title, separator or phone signature.
    text = fill(ALL).replace("【填报结束】", "") + stop + "1. 资源供应保障：1\n联系电话：999\n"
    got = survey(text)
    assert got.scores["1"] == 5 and got.respondent_phone == "010-66668888" and got.warnings == ()


def test_copies_are_found_between_title_and_end() -> None:
    lines = split_lines("前言\n" + FORM + "中间\n" + FORM)
    assert find_survey_copies(lines, []) == [(1, 14), (15, 28)]   # the form is 13 lines


def test_the_scoring_line_deleted_is_taken_from_the_original_below() -> None:
    # 第3题 "无" and an empty 第6题 are still scored questions, as the bot's original says; nothing was guessed.
    answers = {**ALL, "3. ": "无", "6. ": ""}
    top = "\n".join(line for line in fill(answers).split("\n") if not line.startswith("评分"))
    got = survey(top + "\n" + SEPARATOR + FORM)
    assert got.scores == {"1": 5, "2": 4, "3": None, "4": 4, "5": 5, "6": None} and got.warnings == ()


def test_the_scoring_line_lost_everywhere_is_guessed_with_a_warning() -> None:
    answers = {**ALL, "6. ": "", "7. ": "无"}
    got = survey("\n".join(line for line in fill(answers).split("\n") if not line.startswith("评分")))
    assert got.scores == {"1": 5, "2": 4, "3": None, "4": 4, "5": 5} and got.texts == {"6": None, "7": None}
    assert messages(got.warnings) == [
        ("评分", "调查表中没有“评分（第…题）”一行，已按所填内容判断：第1–5题按评分处理，其余按文字意见处理")]


def test_a_missing_scored_question_is_null_with_a_warning() -> None:
    got = survey(fill(ALL).replace("4. 问题解决效果：4\n", ""))
    assert got.scores["4"] is None
    assert messages(got.warnings) == [("第4题", "未找到第4题，按未填写处理")]


# --- the survey number --------------------------------------------------------------------------

@pytest.mark.parametrize("text, token", [
    ("MY-2026-01-S001", "MY-2026-01-S001"), ("my-2026-01-s001", "MY-2026-01-S001"),
    ("ＭＹ－２０２６－０１－Ｖ０１２", "MY-2026-01-V012"), ("[MY-2026-12-V7]", "MY-2026-12-V7"),
    ("MY–2026–01–S001", "MY-2026-01-S001"), ("MY-2026-101-S001", "MY-2026-101-S001"),
    ("MY-2026-1-S001", None), ("MY-2026-01-X001", None), ("XMY-2026-01-S001", None), ("KCR-202601-GD", None),
])
def test_find_survey_token(text: str, token: str | None) -> None:
    found = find_survey_token(text)
    assert (found.text if found else None) == token


def test_the_number_missing_from_the_form_comes_from_the_subject() -> None:
    got = survey(fill(ALL).replace(f"编号：{TOKEN}", ""))
    assert (got.token, got.survey, got.customer) == (TOKEN, "MY-2026-01", "S001") and got.warnings == ()


def test_an_unreadable_number_falls_back_to_the_subject_with_a_warning() -> None:
    got = survey(fill(ALL).replace(TOKEN, "MY-2026-S001"))
    assert got.token == TOKEN and got.errors == ()
    assert messages(got.warnings) == [("编号", "调查表中的编号“MY-2026-S001”无法识别，已采用主题中的 MY-2026-01-S001")]


def test_an_unreadable_number_without_one_in_the_subject_is_an_error() -> None:
    got = survey(fill(ALL).replace(TOKEN, "MY-2026-S001"), subject="满意度调查")
    assert got.token is None and got.customer == "S001"   # the customer still known from the 客户 line
    assert messages(got.errors) == [
        ("编号", "编号“MY-2026-S001”无法识别，应为 MY-年份-序号-客户编号 的形式（如 MY-2026-01-S001），请勿修改")]


def test_form_and_subject_disagree_the_form_wins() -> None:
    got = survey(fill(ALL), subject="回复: [MY-2026-01-S009]")
    assert got.token == TOKEN
    assert messages(got.warnings) == [("编号", "主题中的编号 MY-2026-01-S009 与调查表中的 MY-2026-01-S001 不一致，以调查表为准")]


def test_no_number_anywhere_is_a_warning() -> None:
    got = survey(fill(ALL).replace(f"编号：{TOKEN}", ""), subject="调查表")
    assert got.token is None and messages(got.warnings) == [("编号", "调查表和邮件主题中都没有编号")]


def test_a_customer_line_that_contradicts_the_number_is_a_warning() -> None:
    got = survey(fill(ALL).replace("客户：S001", "客户：S002"))
    assert got.customer == "S001"
    assert messages(got.warnings) == [("客户", "客户写的是“S002 国家电网有限公司”，与编号中的客户编号 S001 不一致，以编号为准")]


# --- through parse_message ---------------------------------------------------------------------

def _mail(body: str, subject: str = SUBJECT, extra: str = "") -> bytes:
    head = (f"From: zhangsan@sgcc.example.com.cn\r\nSubject: {subject}\r\n{extra}MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
    return (head + body).encode("utf-8", "surrogatepass")


def test_parse_message_gives_surveys_json_object() -> None:
    parsed = parse_message(_mail(fill(ALL), extra="Importance: high\r\n"))
    assert parsed.kind == "survey_response"
    assert parsed.as_json() == survey(fill(ALL)).as_json(True)   # urgent from the Importance header


# --- hostile input ------------------------------------------------------------------------------

def test_a_huge_copy_is_read_without_a_crash() -> None:
    # 20k numbered label lines and a 300 kB line inside one copy (a real form has forty lines): each read to a
    # result (speed is the bench's business).
    body = "【满意度调查】编号：MY-2026-01-S001\n" + "".join(f"{n % 40}. 题目{n}：{n % 7}\n" for n in range(20_000))
    long_line = "【满意度调查】" + "1. 评分（第1-6题）：" * 15_000
    for text in (body, long_line, "【满意度调查】\n" * 5_000):
        response = read(text)
        assert response is not None and response.survey in (None, "MY-2026-01")


FORM_LINES = FORM.split("\n")
NOISE = ["", "5", "６分", "★★☆", "不了解", "还行吧", "4.5", "评分（第1–6题）：", "评分（第99-1题）", "评分（第题）：",
         "【满意度调查】", "[满意度调查]编号：MY-2026-01-S0", "【填报结束】", "-----邮件原件-----", "发件人: x",
         "发件人: 资源与市场部", "发送时间: 今天", "发自我的iPhone", "1、", "⑳ x：", "31. 题：", "0. 零：", "\t", "客户：",
         "编号：", "填报人：\n联系电话：", "【重点客户月报填报单】", "【推广反馈】"]
FUZZ = settings(max_examples=int(os.environ.get("MAILBOT_FUZZ_EXAMPLES", "0")) or 60, deadline=None, derandomize=True,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(FORM_LINES), st.sampled_from(NOISE), st.text(max_size=20)), max_size=80),
       st.sampled_from(["", "> ", ">> "]), st.text(max_size=40))
def test_survey_lines_shuffled_and_mixed_with_noise(lines: list[str], prefix: str, subject: str) -> None:
    # Labels, markers and answers in any order, quoted or not: read or ignored, never a crash.
    text = "\n".join(prefix + line for line in lines)
    response = read(text, subject)
    if response is not None:
        json.dumps(response.as_json(False), ensure_ascii=False)
        assert set(response.scores).isdisjoint(response.texts)
        assert all(v is None or 1 <= v <= 5 for v in response.scores.values())


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 16), st.text(max_size=8)), min_size=1, max_size=6))
def test_mutated_survey_replies(edits: list[tuple[int, int, str]]) -> None:
    # A filled reply above its quoted original, with characters deleted, replaced and inserted anywhere.
    chars = list(fill(ALL) + "\n\n" + SEPARATOR + FORM)
    for at, length, insert in edits:
        at %= len(chars) + 1
        chars[at:at + length] = list(insert)
    text = "".join(chars)
    read(text)
    try:
        parsed = parse_message(_mail(text))
    except UnreadableMessage as exc:
        assert exc.reason
        return
    json.dumps(parsed.as_json(), ensure_ascii=False).encode("utf-8", "surrogatepass")
