"""Which form-less mail from a contact is a failed attempt at the report (domain.report_attempt)."""

from __future__ import annotations

import pytest

from mailbot.domain.report_attempt import attempts_report, looks_like_the_form


@pytest.mark.parametrize("name, form", [
    ("重点客户月度报送填报单-2026年11月-广东分公司.xlsx", True), ("Book1.XLSX", True), ("数据.et", True),
    ("11月月报.docx", True), ("KCR-202611-GD.pdf", True),
    ("出差计划.docx", False), ("会议纪要.pdf", False), ("image001.png", False),
])
def test_a_file_looks_like_the_form_by_kind_or_name(name: str, form: bool) -> None:
    assert looks_like_the_form(name) is form


@pytest.mark.parametrize("thread, number, files, accepted, attempt", [
    (True, False, (), False, True),             # a reply to the request without the form
    (False, True, (), False, True),             # our report number in the subject
    (False, False, ("月报.xlsx",), False, True),  # the workbook we could not read
    (False, False, ("出差计划.docx",), False, False),
    (False, False, (), False, False),           # a new mail: a question, a plan, news
    (True, True, ("月报.xlsx",), True, False),   # anything after the month was accepted is correspondence
])
def test_an_attempt_is_a_thread_a_number_or_a_form_file_before_the_month_is_accepted(
        thread: bool, number: bool, files: tuple[str, ...], accepted: bool, attempt: bool) -> None:
    assert attempts_report(answers_our_request=thread, carries_report_number=number, attachment_names=files,
                           month_accepted=accepted) is attempt
