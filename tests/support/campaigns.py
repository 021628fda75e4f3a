"""The campaign tests' shared words: a campaign file and a unit filling in its feedback form, in the mail body
or in the workbook the notice carries."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

PLAN = """\
number: TG-2026-01
title: 冬季调峰气保供服务方案
description: 面向战略客户推出冬季调峰气保供服务。
documents: [冬季调峰气保供服务方案.pdf]
targets: {kind: strategic, units: [GD, BJ]}
feedback: {every: 14}
reminders: [3, 1]
end: 2027-03-31
"""


def plan_file(tmp_path: Path, text: str = PLAN, document: bytes = b"%PDF-1.4\n% plan v1\n") -> Path:
    (tmp_path / "冬季调峰气保供服务方案.pdf").write_bytes(document)
    path = tmp_path / "campaign.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def filled(mail_text: str, answers: Mapping[str, Mapping[int, str]], extra: str = "") -> str:
    """The feedback form from our mail with answers typed after the colons, block by block, as a contact does;
    `extra` (a block of the unit's own) goes before 【填报结束】."""
    lines = mail_text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("【推广反馈】"))
    end = next(i for i, line in enumerate(lines) if line.startswith("【填报结束】"))
    out, customer = [], None
    for line in lines[start:end]:
        if line.startswith("【客户】"):
            customer = line[4:].split()[0]
        m = re.match(r"^(\d)\. ", line)
        if m and customer and int(m[1]) in answers.get(customer, {}):
            line += answers[customer][int(m[1])]
        out.append(line)
    return "\n".join([*out, *([extra] if extra else []), lines[end]])


def fill_campaign_workbook(data: bytes, answers: Mapping[str, Mapping[int, str]]) -> bytes:
    """Type answers into column B of the attached feedback workbook: find the 【客户】 row, then the numbered
    label under it — as a person does, never by row number."""
    book = load_workbook(io.BytesIO(data))
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    customer = None
    for a, b in sheet.iter_rows(min_row=1, max_col=2):
        label = str(a.value or "")
        if label.startswith("【客户】"):
            customer = label[4:].split()[0]
        m = re.match(r"^(\d)\. ", label)
        if m and customer and int(m[1]) in answers.get(customer, {}):
            b.value = answers[customer][int(m[1])]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def filled_request(mail_text: str, campaigns: Mapping[str, Mapping[str, Mapping[int, str]]],
                   report: Mapping[str, Mapping[str, str]]) -> str:
    """A unit's answer to a 月度报送通知 carrying campaign feedback forms: from the first form to the monthly
    form's end, `campaigns` typed into each 【推广反馈】 form by its 编号 (customer → field number → answer) and
    `report` into the monthly form (customer → a label's start, "1" or "风险等级" → answer)."""
    lines = mail_text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("【推广反馈】"))
    end = next(i for i, line in enumerate(lines) if line.startswith("【重点客户月报填报单】"))
    end = next(i for i in range(end, len(lines)) if lines[i].startswith("【填报结束】"))
    out, answers, customer = [], None, None
    for line in lines[start:end + 1]:
        if line.startswith("【推广反馈】"):
            answers, customer = campaigns.get(line.split("：", 1)[1].strip(), {}), None
        elif line.startswith("【重点客户月报填报单】"):
            answers, customer = None, None
        block = re.match(r"^【(?:客户|战略客户|VIP客户)】(\S+)", line)
        if block:
            customer = block[1]
        number = re.match(r"^(\d)\. ", line)
        if answers is not None and number and customer:
            line += answers.get(customer, {}).get(int(number[1]), "")
        elif answers is None and customer:
            line += next((v for k, v in report.get(customer, {}).items() if line.startswith(k)), "")
        out.append(line)
    return "\n".join(out)
