"""The outgoing mail templates, rendered with realistic contexts.

Subjects are checked exactly where the design fixes them; the form must come
back verbatim in the text part and line for line in the HTML part; anything a
subsidiary wrote must be escaped in HTML; None stands for "not identified"
where the brief allows it; a missing variable is an error, never a hole.
"""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2
import pytest
from markupsafe import escape

from parsers import parse_message, render_form
from parsers.campaign import render_campaign_form
from parsers.survey import Question, render_survey_form

from mailbot.outbox.operator import operator_mail
from mailbot.render.mail import RenderedMail, cn_date, cn_datetime, render_mail
from mailbot.requests.mails import request_refused_mail
from mailbot.surveys.results import LowScore, QuestionResult, SurveyResults

TOKEN = "KCR-202611-GD-3F9A"
SIGN_OFF = "总部资源与市场部（重点客户月报系统自动发送）"

# The blank form as the request carries it (its exact text is pinned against FORM.md in tests/parsers).
FORM = render_form(token=TOKEN, unit_code="GD", unit_name="广东分公司", period="2026-11",
                   strategic=[("S001", "国家电网有限公司")], vip=[("V012", "深圳市燃气集团股份有限公司")])


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    contact_name: str
    leader_name: str = "王强"


@dataclass(frozen=True)
class Period:
    key: str
    label: str


UNIT = Unit(code="GD", name="广东分公司", contact_name="李明")
SURVEY = {"number": "MY-2026-01", "title": "2026年冬季保供客户满意度调查", "deadline": date(2026, 12, 20)}
SURVEY_RESULTS = SurveyResults(
    number="MY-2026-01", title="2026年冬季保供客户满意度调查", deadline=date(2026, 12, 20), status="closed", asked=12,
    answered=10, by_unit=3, late=1, units=(), kinds=(), sources=(), comments=(), previous=None, not_answered=(),
    questions=(QuestionResult(1, "资源供应保障", 10, 0, 4.5, (0, 0, 1, 3, 6)),
               QuestionResult(2, "服务响应速度", 9, 1, None, (0, 0, 0, 0, 0))),
    low=(LowScore("S001", "国家电网有限公司", "服务响应速度", 2),))
SURVEY_FORM = render_survey_form(token="MY-2026-01-S001", customer_code="S001", customer_name="国家电网有限公司",
                                 questions=[Question("资源供应保障", True), Question("意见与建议", False)])
PERIOD = Period(key="2026-11", label="2026年11月")
CAMPAIGN = {"number": "TG-2026-01", "title": "冬季调峰气保供服务方案", "every_days": 14,
            "description": "面向战略客户推出冬季调峰气保供服务。\n请各所属单位按期反馈。", "end_date": date(2027, 3, 31)}
CAMPAIGN_FORM = render_campaign_form(token="TG-2026-01-GD", campaign="TG-2026-01", title="冬季调峰气保供服务方案",
                                     targets=[("S001", "国家电网有限公司"), ("S008", "新奥天然气股份有限公司")])


def contexts() -> dict[str, dict[str, Any]]:
    """One realistic context per mail; dataclasses and dicts mixed on purpose."""
    received = datetime(2026, 11, 27, 8, 20, tzinfo=timezone.utc)
    return {
        "request": {
            "unit": UNIT,
            "workbook": "重点客户月报填报单-2026年11月-GD.xlsx",
            "period": PERIOD,
            "deadline": date(2026, 11, 28),
            "token": TOKEN,
            "form_text": FORM,
            "open_matters": [
                {"customer_code": "S001", "customer_name": "国家电网有限公司",
                 "summary": "10月提出的管输费结算争议，待总部协调", "status": "处理中"},
            ],
            # A campaign answered with the monthly request: its feedback form rides above the monthly form.
            "campaigns": [{"number": "TG-2026-01", "title": "冬季调峰气保供服务方案", "token": "TG-2026-01-GD",
                           "form_text": CAMPAIGN_FORM, "workbook": "推广反馈表_TG-2026-01-GD.xlsx"}],
        },
        "ack": {
            "unit": UNIT,
            "period": PERIOD,
            "token": TOKEN,
            "version": 1,
            "on_time": True,
            "received_at": received,
            "summary": [
                {"code": "S001", "name": "国家电网有限公司", "kind": "战略客户",
                 "lines": [{"label": "方案执行情况", "text": "已按方案执行"},
                           {"label": "需总部支持的合作诉求", "text": "希望总部协调管输费结算"}],
                 "risk": "一般", "needs_hq": True},
                {"code": "V012", "name": "深圳市燃气集团股份有限公司", "kind": "VIP客户",
                 "lines": [], "risk": None, "needs_hq": False},
            ],
            "warnings": [],
            "urgent_text": None,
            "requests": [],
            "read_from": None,
            "campaigns": [{"number": "TG-2026-01", "title": "冬季调峰气保供服务方案", "token": "TG-2026-01-GD",
                           "closed": False, "version": 1, "unchanged": 1,
                           "rows": [{"code": "S001", "name": "国家电网有限公司", "stage_line": "已宣贯 → 有意向（已记录变化）",
                                     "lines": [{"label": "合作意向及规模", "text": "年增供约1亿方"}],
                                     "hq_line": "否"}],
                           "warnings": ["客户 S003 华润燃气控股有限公司 不在贵单位本方案的目标客户中，已作为新增目标客户记录"]}],
        },
        "error_reply": {
            "unit": UNIT,
            "period": PERIOD,
            "token": TOKEN,
            "problems": [
                "S001 国家电网有限公司的“风险等级”填写为“较大”，不在可选范围内，请改为“无”“一般”或“重大”。",
                "邮件中有两份填报单，已按上面一份处理。",
            ],
            "marked": [],
            "form_text": FORM.replace("风险等级（无/一般/重大）：", "风险等级（无/一般/重大）：较大"),
            "original_subject": f"回复: [重点客户月报] 2026年11月 广东分公司 请于11月28日前回复 [{TOKEN}]",
            "campaigns": [{"title": "推广反馈表 TG-2026-01-GD", "marked": [5],
                           "form_text": CAMPAIGN_FORM.replace("1. 进展阶段：", "1. 进展阶段：很有兴趣", 1)}],
        },
        "reminder": {
            "unit": UNIT,
            "workbook": "重点客户月报填报单-2026年11月-GD.xlsx",
            "period": PERIOD,
            "deadline": date(2026, 11, 27),
            "days_left": 3,
            "token": TOKEN,
            "form_text": FORM,
            "campaigns": [],
        },
        "escalation": {
            "unit": UNIT,
            "period": PERIOD,
            "deadline": date(2026, 11, 27),
            "token": TOKEN,
            "reminders_sent": 3,
        },
        "urgent_forward": {
            "reply_address": "kcr@hq.example.cn",
            "recipient_name": "张伟",
            "due_at": datetime(2026, 11, 28, 0, 20, tzinfo=timezone.utc),
            "unit": UNIT,
            "customer": {"code": "S001", "name": "国家电网有限公司"},
            "candidates": [],
            "sender": {"name": "李明", "addr": "liming@gd.example.com.cn"},
            "original_subject": "【紧急】S001 输气管线遭第三方施工损坏",
            "received_at": received,
            "text": "今晨8时许，S001客户门站附近管线被第三方施工挖破，已关阀抢修。\n预计影响供气12小时。",
            "request_number": "SQ-2026-0007",
            "reasons": ["主题含【紧急】", "邮件优先级为高"],
            "open_requests": [{"number": "SQ-2026-0003", "status_cn": "处理中", "unit_name": "广东分公司",
                               "text": "请总部协调冬季保供气量。"}],
            "last_report": {"period": "2026-10", "lines": ["广东分公司 5. 合同签订、执行方面出现的重大问题、风险或隐患：价格条款未定"]},
        },
        "urgent_ack": {
            "unit": UNIT,
            "request_number": "SQ-2026-0007",
            "original_subject": "【紧急】S001 输气管线遭第三方施工损坏",
            "forwarded_to": ["张伟", "赵敏"],
        },
        "handover": {
            "recipient_name": "刘洋",
            "designated": True,
            "unit": UNIT,
            "sender": {"name": "李明", "addr": "liming@gd.example.com.cn"},
            "original_subject": "关于VIP客户填报范围的请示",
            "received_at": received,
            "text": "刘处长：\nVIP客户中已停止用气的，本月是否还需要填报？",
        },
        "handover_ack": {
            "unit": UNIT,
            "designated": True,
            "original_subject": "关于VIP客户填报范围的请示",
            "handled_by": ["刘洋"],
        },
        "request_status": {
            "req": {"number": "SQ-2026-0001", "title": "请总部协调冬季保供气量。", "status_cn": "处理中", "source_cn": "战略客户月报", "unit_name": "广东分公司",
                    "customer": "S001 国家电网有限公司", "category_label": None, "text": "请总部协调冬季保供气量。",
                    "created_at": received, "due_at": received, "assignee_name": "刘洋"},
            "history": [{"at": received, "action_cn": "状态变更", "detail": "待处理 → 处理中"}],
        },
        "request_digest": {
            "recipient_name": "张伟", "board": True, "overdue": 1, "today": received,
            "rows": [{"number": "SQ-2026-0001", "title": "请总部协调冬季保供气量。", "status_cn": "处理中", "customer": "S001 国家电网有限公司", "unit_name": "广东分公司",
                      "text": "请总部协调冬季保供气量。", "due_at": received, "overdue_days": 3, "assignee_name": "刘洋"}],
        },
        "bulletin_cover": {
            "period": PERIOD,
            "filename": "重点客户月报-2026年11月.pdf",
            "stats": {"units_total": 32, "on_time": 28, "late": 2, "missing": 2,
                      "customers_reported": 85, "risks_major": 3, "coordination": 7, "urgent": 1},
            "missing_units": ["海南分公司", "西藏分公司"],
            "late_units": ["福建分公司", "广西分公司"],
            "decisions": ["重大风险：S011 陕西延长石油（集团）有限责任公司（陕西分公司）紧急报告（11月18日）：榆林项目供气中断风险",
                          "逾期诉求：SQ-2026-0002 华润燃气控股有限公司：请总部沟通欠款事宜。（承办人陈静，逾期3天）"],
        },
        "operator_digest": {
            "items": [{"id": 4211, "from_addr": "news@list.example", "subject": "<b>特价</b>", "received_at": received,
                       "reason": "发件人 news@list.example 不是登记的联系人"}],
            "handed_over": [{"id": 4212, "unit": "广东分公司", "from_addr": "liming@gd.example.com.cn",
                             "subject": "关于VIP客户填报范围的请示", "received_at": received,
                             "to": "liuyang@hq.example.cn"}],
            "attached": 1,
        },
        "operator_notice": {
            "title": "邮件已隔离",
            "reason": "无法识别的字符集",
            "message": {"id": 4211, "from_addr": "liming@gd.example.com.cn",
                        "subject": "月报", "received_at": received},
            "details": None,
            "next_step": "排除上述原因后运行 mailbot reparse 4211 重新处理。",
            "attached": True,
        },
        "survey_form": {
            "survey": SURVEY, "token": "MY-2026-01-S001", "by_unit": False, "unit_name": "",
            "workbook": "满意度调查表_MY-2026-01-S001.xlsx",
            "customer": {"code": "S001", "name": "国家电网有限公司"}, "note": "如有疑问请联系刘洋。",
            "form_text": SURVEY_FORM,
        },
        "survey_ack": {
            "survey": SURVEY, "token": "MY-2026-01-S001", "original_subject": "回复：[满意度调查] 冬季保供",
            "customer": {"code": "S001", "name": "国家电网有限公司"}, "by_unit": True, "unit_name": "广东分公司",
            "version": 2, "late": True, "followed": True, "warnings": ["第3题未评分，不计入统计"],
            "answers": [{"number": 1, "question": "资源供应保障", "answer": "5 非常满意"},
                        {"number": 2, "question": "意见与建议", "answer": "冬季高峰期调度响应慢。\n希望加强沟通。"}],
        },
        "survey_reminder": {
            "survey": SURVEY, "token": "MY-2026-01-S001", "customer": {"code": "S001", "name": "国家电网有限公司"},
            "form_text": SURVEY_FORM, "workbook": "满意度调查表_MY-2026-01-S001.xlsx",
        },
        "survey_pending": {
            "survey": SURVEY, "unit": {"code": "GD", "name": "广东分公司"},
            "customers": [{"code": "S001", "name": "国家电网有限公司", "by_unit": False},
                          {"code": "V002", "name": "广州发展集团股份有限公司", "by_unit": True}],
        },
        "survey_report": {"r": SURVEY_RESULTS, "filename": "满意度调查报告-MY-2026-01.pdf"},
        "survey_error": {
            "survey": SURVEY, "token": "MY-2026-01-S001", "original_subject": "回复：[满意度调查] 冬季保供",
            "problems": ["第1题：评分只能填1–5分，写的是“6”"], "form_text": SURVEY_FORM,
        },
        "campaign_notice": {
            "campaign": CAMPAIGN, "unit": UNIT, "token": "TG-2026-01-GD", "due": date(2026, 11, 27),
            "customers": [{"code": "S001", "name": "国家电网有限公司"}, {"code": "S008", "name": "新奥天然气股份有限公司"}],
            "documents": ["冬季调峰气保供服务方案.pdf"], "form_text": CAMPAIGN_FORM,
            "workbook": "推广反馈表_TG-2026-01-GD.xlsx",
        },
        "campaign_update": {
            "campaign": CAMPAIGN, "unit": UNIT, "token": "TG-2026-01-GD", "due": date(2026, 12, 11), "version": 2,
            "revision": ["方案文件“冬季调峰气保供服务方案.pdf”已更新"], "changes": "调峰气量上限调整为每日80万方。",
            "new_customers": [{"code": "S008", "name": "新奥天然气股份有限公司"}],
            "documents": ["冬季调峰气保供服务方案.pdf"], "form_text": CAMPAIGN_FORM,
            "workbook": "推广反馈表_TG-2026-01-GD.xlsx",
        },
        "campaign_ack": {
            "campaign": CAMPAIGN, "unit": UNIT, "token": "TG-2026-01-GD", "version": 2, "unchanged": 1,
            "original_subject": "回复：[全国性产品及服务方案] TG-2026-01 冬季调峰气保供服务方案 广东分公司 [TG-2026-01-GD]",
            "rows": [{"code": "S001", "name": "国家电网有限公司", "stage_line": "已宣贯 → 有意向（已记录变化）",
                      "lines": [{"label": "合作意向及规模", "text": "年增供约1亿方"},
                                {"label": "预计签约时间", "text": "2027年3月（记为 2027-03）"}],
                      "hq_line": "是——已转总部办理，诉求编号 SQ-2026-0003，承办人 刘洋"}],
            "warnings": ["客户 V001 深圳市燃气集团股份有限公司 不在贵单位本方案的目标客户中，已作为新增目标客户记录"],
        },
        "campaign_error": {
            "campaign": CAMPAIGN, "token": "TG-2026-01-GD", "original_subject": "回复：推广反馈",
            "problems": ["客户S001的进展阶段只能填“未开展”“已宣贯”“有意向”“洽谈中”“已签约”“执行中”或“无意向”，填写的是“很有兴趣”"],
            "form_text": CAMPAIGN_FORM,
        },
        "campaign_reminder": {
            "campaign": CAMPAIGN, "unit": UNIT, "token": "TG-2026-01-GD", "due": date(2026, 11, 27), "days_left": 3,
            "form_text": CAMPAIGN_FORM, "workbook": "推广反馈表_TG-2026-01-GD.xlsx",
        },
        "campaign_escalation": {
            "campaign": CAMPAIGN, "unit": UNIT, "token": "TG-2026-01-GD", "due": date(2026, 11, 27),
            "reminders_sent": 2,
        },
        "campaign_report": {
            "b": {"campaign": "TG-2026-01", "title": "冬季调峰气保供服务方案", "status": "closed", "version": 2,
                  "stages": ["未开展", "已宣贯", "有意向", "洽谈中", "已签约", "执行中", "无意向"],
                  "overall": {"targets": 3, "by_stage": {"未开展": 1, "已宣贯": 0, "有意向": 1, "洽谈中": 0, "已签约": 1,
                                                         "执行中": 0, "无意向": 0},
                              "signing_by_month": {"2027-03": 1},
                              "needs_hq": [{"customer": "S001", "name": "国家电网有限公司", "unit": "GD",
                                            "request": "SQ-2026-0003", "status": "办理中"}]},
                  "units": [{"unit": "GD", "name": "广东分公司", "targets": 3,
                             "by_stage": {"未开展": 1, "已宣贯": 0, "有意向": 1, "洽谈中": 0, "已签约": 1, "执行中": 0,
                                          "无意向": 0},
                             "last_feedback": {"version": 2, "round": 2, "received": "2026-12-03"}}]},
            "unit_names": {"GD": "广东分公司"}, "filename": "推广进展报告-TG-2026-01.pdf",
        },
        "evaluation_unit": {
            "recipient_name": "黄志强", "unit": {"code": "GD", "name": "广东分公司"},
            "period": {"key": "2026-Q4", "label": "2026年第四季度", "previous_label": "2026年第三季度"},
            "score": "72.1", "score_change": "较上期提高3.2分", "rank": 1, "ranked": 6,
            "strongest": {"label": "按时报送", "text": "按时3个月，迟报0个月，未报0个月"},
            "weakest": {"label": "填报完整度", "text": "11%（14/126项）"},
            "measures": [{"label": "按时报送", "text": "按时3个月，迟报0个月，未报0个月", "change": "与上期持平"},
                         {"label": "跟踪事项按期完成率", "text": "无到期的跟踪事项", "change": ""}],
            "weights_note": "按时报送25%、填报完整度15%",
        },
        "evaluation_board": {
            "recipient_name": "张伟", "period": {"key": "2026-Q4", "label": "2026年第四季度",
                                                "previous_label": "2026年第三季度"},
            "ranked": 1, "unit_count": 2, "headers": ["按时报送", "填报完整度"],
            "rows": [{"rank": "1", "code": "GD", "name": "广东分公司", "score": "72.1 (+3.2)",
                      "cells": ["3/0/0 (±0)", "11% (+2)"]},
                     {"rank": "—", "code": "XJ", "name": "新疆分公司", "score": "—", "cells": ["—", "—"]}],
            "weights_note": "按时报送25%、填报完整度15%",
        },
    }


def render(name: str, **overrides: Any) -> RenderedMail:
    ctx = {"department": "资源与市场部", **contexts()[name], **overrides}
    return render_mail(name, **ctx)


class _Paragraphs(HTMLParser):
    """Collects the text of every <p>, the way an HTML-to-text step sees lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "p":
            self._open = True
            self.paragraphs.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._open = False

    def handle_data(self, data: str) -> None:
        if self._open:
            self.paragraphs[-1] += data


def paragraphs(html: str) -> list[str]:
    parser = _Paragraphs()
    parser.feed(html)
    return parser.paragraphs


def assert_form_line_by_line(html: str, form: str) -> None:
    expected = [line if line.strip() else "\xa0" for line in form.splitlines()]
    found = paragraphs(html)
    start = found.index(expected[0])
    assert found[start:start + len(expected)] == expected


# --- every mail ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(contexts()))
def test_every_mail_renders_with_the_house_shell(name: str) -> None:
    # Each of the nine mails renders: one-line subject, signed text and HTML, Outlook-safe HTML.
    mail = render(name)
    assert mail.subject and "\n" not in mail.subject and "  " not in mail.subject
    assert SIGN_OFF in mail.text and mail.text.endswith("\n")
    assert SIGN_OFF in mail.html
    assert mail.html.startswith("<!DOCTYPE html>")
    assert "<style" not in mail.html and "@font-face" not in mail.html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?https?:""", mail.html)
    assert "max-width:680px" in mail.html
    assert "'Microsoft YaHei','PingFang SC','SimSun',sans-serif" in mail.html
    assert f"<title>{escape(mail.subject)}</title>" in mail.html


# --- request ------------------------------------------------------------------


def test_request_subject_is_exact() -> None:
    # The monthly request's subject is fixed by FORM.md, report number in brackets.
    mail = render("request")
    assert mail.subject == "[重点客户月报] 2026年11月 广东分公司 请于11月28日前回复 [KCR-202611-GD-3F9A]"


def test_request_text_carries_the_form_verbatim() -> None:
    # The plain-text part is the canonical form: the blank form appears byte for byte.
    mail = render("request")
    assert FORM in mail.text
    assert "请于2026年11月28日前报送" in mail.text
    assert "无" in mail.text and "【紧急】" in mail.text and TOKEN in mail.text


def test_request_html_reproduces_the_form_line_for_line() -> None:
    # An HTML-mode reply keeps each form line as its own paragraph, blank lines included.
    mail = render("request")
    assert_form_line_by_line(mail.html, FORM)


def test_request_lists_open_matters_above_the_form() -> None:
    # Last month's open matters stand outside and above the form, so the form stays blank.
    mail = render("request")
    matter = "10月提出的管输费结算争议，待总部协调"
    assert mail.text.index("待跟进事项") < mail.text.index(matter) < mail.text.index("【重点客户月报填报单】")
    assert matter not in FORM
    assert mail.html.index(matter) < mail.html.index("【重点客户月报填报单】")


def test_request_without_open_matters_has_no_such_section() -> None:
    # No open matters: the heading is omitted in both parts.
    mail = render("request", open_matters=[])
    assert "待跟进事项" not in mail.text
    assert "待跟进事项" not in mail.html


def test_request_accepts_plain_dicts() -> None:
    # Callers may pass dicts instead of dataclasses; attribute syntax reads both.
    mail = render("request", unit={"code": "GD", "name": "广东分公司", "contact_name": "李明"},
                  period={"key": "2026-11", "label": "2026年11月"})
    assert mail.subject == "[重点客户月报] 2026年11月 广东分公司 请于11月28日前回复 [KCR-202611-GD-3F9A]"


# --- ack ----------------------------------------------------------------------


def test_ack_first_version_on_time() -> None:
    # A first, punctual report: no correction or lateness wording; what was understood is listed.
    mail = render("ack")
    assert mail.subject == "回复：[重点客户月报] 2026年11月 广东分公司 已收到（第1版） [KCR-202611-GD-3F9A]"
    assert "2026年11月27日 16:20" in mail.text  # received_at shown in China time
    assert "替代" not in mail.text and "逾期" not in mail.text
    assert "■ S001 国家电网有限公司（战略客户）" in mail.text
    assert "· 需总部支持的合作诉求：希望总部协调管输费结算" in mail.text
    assert "· 风险等级：一般" in mail.text
    assert "· 本月无报告事项" in mail.text
    vip = mail.text[mail.text.index("V012"):]
    assert "风险等级" not in vip and "· 需总部协调：否" in vip
    assert "【" not in mail.text  # no marker lines: a quoted ack never looks like a form


def test_ack_late_corrected_resend() -> None:
    # Version 2 arriving after the deadline: says it replaces the earlier one and was late.
    mail = render("ack", version=2, on_time=False)
    assert "（第2版）" in mail.subject
    for part in (mail.text, mail.html):
        assert "将替代此前报送的内容，以本版为准" in part
        assert "截止日期之后收到" in part and "逾期报送" in part


def test_ack_shows_warnings_urgent_text_and_unanswered_fields() -> None:
    # Warnings and the urgent block are echoed; an empty risk or HQ answer reads "未填写".
    summary = [{"code": "S007", "name": "华润燃气控股有限公司", "kind": "战略客户",
                "lines": [], "risk": None, "needs_hq": None}]
    mail = render("ack", summary=summary, warnings=["S007 未填写风险等级"],
                  urgent_text="门站压力异常\n已派人处置")
    assert "· 风险等级：未填写" in mail.text and "· 需总部协调：未填写" in mail.text
    assert "请注意" in mail.text and "S007 未填写风险等级" in mail.text
    assert "门站压力异常\n  已派人处置" in mail.text
    assert "门站压力异常<br>已派人处置" in mail.html


def test_ack_escapes_answers_in_html() -> None:
    # Hostile answer text is shown as text in HTML and left literal in the plain part.
    hostile = '<script>alert(1)</script><img src=http://evil.example/x.png>'
    summary = [{"code": "S001", "name": "国家电网<b>有限公司</b>", "kind": "战略客户",
                "lines": [{"label": "其他重要事项", "text": hostile}], "risk": "重大", "needs_hq": True}]
    mail = render("ack", summary=summary, warnings=[hostile], urgent_text=hostile)
    assert "<script" not in mail.html and "<img" not in mail.html and "<b>" not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=http://evil.example/x.png&gt;" in mail.html
    assert hostile in mail.text


# --- error_reply --------------------------------------------------------------


def test_error_reply_lists_problems_and_returns_the_form() -> None:
    # Known unit: numbered problems with their location, the sender's form quoted back for correction.
    ctx = contexts()["error_reply"]
    mail = render("error_reply")
    # Exactly one 回复： however many the sender's client stacked up.
    assert mail.subject == "【请修改后重发】回复：[重点客户月报] 2026年11月 广东分公司 请于11月28日前回复 [KCR-202611-GD-3F9A]"
    assert "1. S001 国家电网有限公司的“风险等级”填写为“较大”，不在可选范围内，请改为“无”“一般”或“重大”。" in mail.text
    assert "2. 邮件中有两份填报单，已按上面一份处理。" in mail.text
    assert ctx["form_text"] in mail.text
    assert_form_line_by_line(mail.html, ctx["form_text"])
    assert mail.text.startswith("广东分公司：")


def test_error_reply_adds_missing_token_to_subject() -> None:
    # The sender dropped the report number from the subject: it is appended once.
    mail = render("error_reply", original_subject="11月月报")
    assert mail.subject == f"【请修改后重发】回复：11月月报 [{TOKEN}]"


def test_error_reply_for_unidentified_sender() -> None:
    # Unknown unit, period and token: a generic greeting, no report number, no form.
    mail = render("error_reply", unit=None, period=None, token=None, form_text=None,
                  problems=["发件人不是已登记的月报联系人。"],
                  original_subject="")
    assert mail.subject == "【请修改后重发】回复：（无主题）"
    assert mail.text.startswith("您好！")
    assert "1. 发件人不是已登记的月报联系人。" in mail.text
    assert "报告编号" not in mail.text and "None" not in mail.text
    assert "None" not in mail.html and "【重点客户月报填报单】" not in mail.html


def test_error_reply_escapes_quoted_form_and_subject() -> None:
    # The sender's own answers and subject come back escaped in HTML, literal in text.
    form = FORM.replace("9. 其他重要事项：", "9. 其他重要事项：<script>x()</script><img src=http://e.example/a>")
    mail = render("error_reply", form_text=form, original_subject="<b>月报</b>")
    assert "<script" not in mail.html and "<img" not in mail.html and "<b>" not in mail.html
    assert "9. 其他重要事项：&lt;script&gt;x()&lt;/script&gt;&lt;img src=http://e.example/a&gt;" in mail.html
    assert form in mail.text
    assert mail.subject == f"【请修改后重发】回复：<b>月报</b> [{TOKEN}]"


# --- reminder and escalation -------------------------------------------------


def test_reminder_repeats_the_form() -> None:
    # Three days before the deadline: subject counts the days, the form comes again.
    mail = render("reminder")
    assert mail.subject == "【提醒】[重点客户月报] 2026年11月 广东分公司 距截止还有3天 [KCR-202611-GD-3F9A]"
    assert "2026年11月27日" in mail.text and "距截止还有3天" in mail.text
    assert FORM in mail.text
    assert_form_line_by_line(mail.html, FORM)


def test_reminder_on_the_last_day() -> None:
    # Deadline today: the body says so instead of "0 days left".
    mail = render("reminder", days_left=0)
    assert "今天即截止" in mail.text and "还有0天" not in mail.text


def test_escalation_to_the_unit_leader() -> None:
    # Last day, nothing received: the leader is asked politely to urge the contact.
    mail = render("escalation")
    assert mail.subject == "【督办】[重点客户月报] 2026年11月 广东分公司 尚未报送 [KCR-202611-GD-3F9A]"
    assert mail.text.startswith("王强：")
    assert "2026年11月27日" in mail.text and "李明发送3次提醒" in mail.text
    assert "烦请督促" in mail.text and TOKEN in mail.text


# --- urgent ------------------------------------------------------------------


def test_urgent_forward_to_hqfind_staff() -> None:
    # Identified customer: named in the subject; the body notes the attached original.
    mail = render("urgent_forward")
    assert mail.subject == "【紧急】国家电网有限公司：S001 输气管线遭第三方施工损坏 [SQ-2026-0007]"
    assert "发件人：李明 <liming@gd.example.com.cn>" in mail.text
    assert "李明 &lt;liming@gd.example.com.cn&gt;" in mail.html
    assert "主题含【紧急】；邮件优先级为高" in mail.text
    assert "原邮件已作为附件附上" in mail.text and "原邮件已作为附件附上" in mail.html


@pytest.mark.parametrize(
    ("unit", "customer", "who"),
    [
        (UNIT, None, "广东分公司"),
        (None, None, "someone@qq.com"),
        (None, {"code": "S001", "name": "国家电网有限公司"}, "国家电网有限公司"),
    ],
)
def test_urgent_forward_subject_falls_back(unit: Unit | None, customer: dict[str, str] | None, who: str) -> None:
    # Customer, else unit, else sender address names the matter; None never shows.
    mail = render("urgent_forward", unit=unit, customer=customer,
                  sender={"name": "", "addr": "someone@qq.com"}, original_subject="管线泄漏")
    assert mail.subject == f"【紧急】{who}：管线泄漏 [SQ-2026-0007]"
    assert "None" not in mail.text and "None" not in mail.html
    if unit is None:
        assert "来信单位：未能识别" in mail.text


def test_urgent_forward_escapes_the_urgent_text() -> None:
    # The urgent text is the sender's own words: escaped in HTML.
    mail = render("urgent_forward", text="<script>steal()</script>\n<img src=http://evil.example/t.gif>")
    assert "<script" not in mail.html and "<img" not in mail.html
    assert "&lt;script&gt;steal()&lt;/script&gt;<br>&lt;img src=http://evil.example/t.gif&gt;" in mail.html


def test_urgent_ack_to_the_sender() -> None:
    # The sender learns the request number and who has the matter.
    mail = render("urgent_ack")
    # The urgent marker is not echoed: a reply to this acknowledgement must not read as a new urgent mail.
    assert mail.subject == "已收到紧急事项：S001 输气管线遭第三方施工损坏 [SQ-2026-0007]"
    assert "SQ-2026-0007" in mail.text and "已转张伟、赵敏处理" in mail.text
    assert mail.text.startswith("广东分公司：")


def test_urgent_ack_without_unit_or_recipients() -> None:
    # Unidentified unit and nobody named yet: generic greeting, HQ duty staff.
    mail = render("urgent_ack", unit=None, forwarded_to=[])
    assert mail.text.startswith("您好！") and "已转总部值班人员处理" in mail.text
    assert "None" not in mail.text and "None" not in mail.html


# --- bulletin and operator ---------------------------------------------------


def test_bulletin_cover() -> None:
    # The bulletin's cover names the attachment, the figures and the late and missing units.
    mail = render("bulletin_cover")
    assert mail.subject == "[重点客户月报] 2026年11月 重点客户月报"
    assert "重点客户月报-2026年11月.pdf" in mail.text
    assert "应报单位32家，按时报送28家，逾期报送2家，未报送2家" in mail.text
    assert "逾期报送单位：福建分公司、广西分公司" in mail.text
    assert "未报送单位：海南分公司、西藏分公司" in mail.text
    assert "海南分公司、西藏分公司" in mail.html


def test_bulletin_cover_when_everyone_reported() -> None:
    # Nobody late or missing: no empty lists.
    mail = render("bulletin_cover", missing_units=[], late_units=[],
                  stats={**contexts()["bulletin_cover"]["stats"], "late": 0, "missing": 0})
    assert "逾期报送单位" not in mail.text and "未报送单位" not in mail.text


def test_operator_notice_with_traceback() -> None:
    # A traceback goes into <pre>, escaped; the mail concerned is identified.
    details = 'Traceback (most recent call last):\n  File "intake.py", line 3\nValueError: <unknown charset "x-gbk">'
    mail = render("operator_notice", details=details)
    assert mail.subject == "【运维通知】邮件已隔离"
    assert "编号：4211" in mail.text and details in mail.text
    assert f"{escape(details)}</pre>" in mail.html
    assert "<unknown" not in mail.html


def test_operator_notice_without_message_or_details() -> None:
    # A notice about the mailbox itself: no message block, no details block.
    mail = render("operator_notice", title="IMAP 登录连续失败", reason="OAuth2 令牌已过期", message=None, details=None)
    assert mail.subject == "【运维通知】IMAP 登录连续失败"
    assert "相关邮件" not in mail.text and "<pre" not in mail.html


def test_what_a_sender_wrote_is_echoed_only_in_part() -> None:
    # A 100,000-character subject and sender: the refusal and the operator's notice repeat 200 characters
    # of each ("…" marking the cut) in the subject line and in the body alike.
    subject = "请核实" * 33_334
    raw = ("From: someone@gd.example.cn\r\nTo: kcr@hq.example.cn\r\nMessage-ID: <m@gd.example.cn>\r\n"
           "Subject: =?utf-8?b?" + base64.b64encode(subject.encode()).decode() + "?=\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n状态：关闭\r\n").encode()
    p = parse_message(raw)
    assert p.envelope.subject == subject
    refused = request_refused_mail("资源与市场部", p, "SQ-2026-0001")
    assert refused.subject == "回复：" + subject[:199] + "…"
    notice = operator_mail("资源与市场部", "it-ops@hq.example.cn", "邮件已隔离：" + subject, "发件人不在名单中",
                                 message={"id": 7, "from_addr": "x" * 5000 + "@evil.example", "subject": subject,
                                          "received_at": datetime(2026, 11, 19, tzinfo=timezone.utc)})
    assert notice.subject == "【运维通知】" + ("邮件已隔离：" + subject)[:199] + "…"
    assert f"主题：{subject[:199]}…\n" in notice.text and f"发件人：{'x' * 199}…\n" in notice.text
    assert len(notice.text) < 2000 and len(notice.html) < 10_000


# --- the renderer ------------------------------------------------------------


def test_subject_whitespace_is_collapsed() -> None:
    # A folded or padded original subject still yields a one-line subject.
    mail = render("urgent_ack", original_subject="【紧急】\r\n\t管线\n  泄漏  ")
    assert mail.subject == "已收到紧急事项：管线 泄漏 [SQ-2026-0007]"


def test_missing_variable_raises() -> None:
    # A context without the token is a caller bug: rendering fails instead of sending a gap.
    ctx = {"department": "资源与市场部", **contexts()["request"]}
    del ctx["token"]
    with pytest.raises(jinja2.UndefinedError):
        render_mail("request", **ctx)


def test_missing_attribute_raises() -> None:
    # A unit without its contact name is as much a bug as a missing variable.
    with pytest.raises(jinja2.UndefinedError):
        render("request", unit={"code": "GD", "name": "广东分公司"})


def test_missing_department_raises() -> None:
    # The common `department` variable is required by every mail.
    with pytest.raises(jinja2.UndefinedError):
        render_mail("urgent_ack", **contexts()["urgent_ack"])


@pytest.mark.parametrize("name", ["_layout", "../request", "Request", ""])
def test_shared_parts_and_bad_names_are_not_mails(name: str) -> None:
    # Layouts and path tricks are refused before any template is looked up.
    with pytest.raises(ValueError):
        render_mail(name, department="资源与市场部")


def test_unknown_mail_raises() -> None:
    # A name with no templates is reported by Jinja.
    with pytest.raises(jinja2.TemplateNotFound):
        render_mail("no_such_mail", department="资源与市场部")


def test_chinese_date_filters() -> None:
    # Dates read the Chinese way; aware times are shown in China time, naive ones as given.
    assert cn_date(date(2026, 11, 28)) == "2026年11月28日"
    assert cn_datetime(datetime(2026, 11, 28, 14, 5)) == "2026年11月28日 14:05"
    assert cn_datetime(datetime(2026, 11, 28, 16, 5, tzinfo=timezone.utc)) == "2026年11月29日 00:05"
    assert cn_date(datetime(2026, 11, 28, 20, 0, tzinfo=timezone(timedelta(hours=-5)))) == "2026年11月29日"
    with pytest.raises(TypeError):
        cn_datetime(date(2026, 11, 28))  # type: ignore[arg-type]


def test_request_mails_render_with_history_and_help() -> None:
    # The request notice shows the card, the history and how to act by reply; HTML escapes the unit's text.
    from datetime import datetime, timezone

    at = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)
    req = {"number": "SQ-2026-0001", "title": "请总部协调冬季保供气量。", "status_cn": "待处理", "source_cn": "战略客户月报", "unit_name": "广东分公司",
           "customer": "S001 国家电网有限公司", "category_label": "4. 需总部支持的合作诉求或需总部出面的合作机会",
           "text": "请总部协调<b>保供</b>。", "created_at": at, "due_at": at, "assignee_name": "刘洋"}
    mail = render_mail("request_notice", department="资源与市场部", reason_cn="待办", recipient_name="刘洋",
                       reply_address="kcr@hq.example.cn",
                       lead="请办理。", note=None, note_label="新情况", req=req,
                       history=[{"at": at, "actor": "liming@gd.example.cn", "action_cn": "登记", "detail": None}])
    assert mail.subject.startswith("【诉求待办】S001 国家电网有限公司：") and mail.subject.endswith("[SQ-2026-0001]")
    assert "状态：处理中" in mail.text and "2026年11月18日 10:00" in mail.text
    assert "&lt;b&gt;保供&lt;/b&gt;" in mail.html and "<b>保供" not in mail.html
    answer = render_mail("request_answer", department="资源与市场部", req=req, answer="已协调。", answered_by="刘洋")
    assert "已协调。" in answer.text and answer.subject.startswith("【诉求答复】")


def test_a_handover_escapes_what_the_sender_wrote_and_says_who_has_it() -> None:
    mail = render("handover", text="<img src=x onerror=alert(1)>\n请回复", original_subject="<b>请示</b>")
    assert "<img" not in mail.html and "&lt;img src=x onerror=alert(1)&gt;" in mail.html
    assert "<b>请示</b>" not in mail.html and mail.subject == "【所属单位来信】广东分公司 李明：<b>请示</b>"
    assert "直接回复本邮件即回复李明本人" in mail.text
    ack = render("handover_ack")
    assert ack.subject == "已转交：关于VIP客户填报范围的请示"
    assert "已转交总部对接人刘洋阅处" in ack.text and "暂未能受理" not in ack.text
    assert "已转交总部王芳阅处" in render("handover_ack", designated=False, handled_by=["王芳"]).text


@pytest.mark.parametrize("name", ["urgent_forward", "ack", "request"])
def test_our_numbers_never_wrap_in_html_and_stay_plain_in_the_title(name: str) -> None:
    html = render(name).html
    codes = set(re.findall(r"(?:SQ-\d{4}-\d{4}|KCR-\d{6}-[A-Z0-9-]+?(?=[^A-Z0-9-]))", re.sub(r"<[^>]*>", " ", html)))
    assert codes
    for code in codes:
        assert f'<span style="white-space:nowrap;">{code}</span>' in html
    title = html[html.index("<title>"):html.index("</title>")]
    assert "<span" not in title


def test_urgent_forward_offers_one_click_commands_in_the_same_request() -> None:
    # Each link opens a reply to the bot whose subject keeps SQ-2026-0007 and whose body holds the command.
    from urllib.parse import parse_qs, unquote, urlsplit

    html = render("urgent_forward").html
    links = [unescape(h) for h in re.findall(r'href="(mailto:[^"]+)"', html)]
    assert len(links) == 5
    parts = [urlsplit(link) for link in links]
    assert {unquote(p.path) for p in parts} == {"kcr@hq.example.cn"}
    queries = [parse_qs(p.query) for p in parts]
    assert all("SQ-2026-0007" in q["subject"][0] and q["subject"][0].startswith("回复：") for q in queries)
    assert [q["body"][0] for q in queries] == ["状态：处理中", "答复：", "转交：", "需集团审议：是", "关闭"]


# --- layout in a real browser ---------------------------------------------------------------------------------
# Every HTML mail fits a phone (420 px) and a desktop (1200 px) without scrolling sideways: all are laid out in one
# headless Chromium run, each in an iframe of the given width, and a script reports each document's scrollWidth
# against its width (Debian's `chromium`, installed by `make test`).

WIDTHS = (420, 1200)
SCRIPT = """<script>
window.addEventListener('load', () => {
  const out = [];
  for (const f of document.querySelectorAll('iframe')) {
    const d = f.contentDocument.documentElement;
    out.push(f.id + '=' + d.scrollWidth + '/' + d.clientWidth);
  }
  document.body.setAttribute('data-widths', out.join(' '));
});
</script>"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (make test installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def test_every_mail_fits_a_phone_and_a_desktop_without_scrolling_sideways(tmp_path: Path) -> None:
    frames = []
    for name in sorted(contexts()):
        page = html.escape(render(name).html, quote=True)
        for width in WIDTHS:
            frames.append(f'<iframe id="{name}@{width}" style="width:{width}px;height:400px;border:0" '
                          f'srcdoc="{page}"></iframe>')
    (tmp_path / "mails.html").write_text(f"<!doctype html><html><body>{''.join(frames)}{SCRIPT}</body></html>",
                                         encoding="utf-8")
    dom = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          (tmp_path / "mails.html").as_uri()], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'data-widths="([^"]*)"', dom)
    assert found, "the layout script did not run"
    widths = dict(item.split("=") for item in found.group(1).split())
    assert len(widths) == len(contexts()) * len(WIDTHS)
    overflow = {frame: w for frame, w in widths.items() if int(w.split("/")[0]) > int(w.split("/")[1])}
    assert overflow == {}
