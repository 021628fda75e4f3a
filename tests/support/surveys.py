"""The survey tests' shared words: a survey file, S001's own contact, and a respondent filling in the form."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

ZHAOMIN = ("赵敏", "zhaomin@sgcc.example.com")   # S001's own contact (config/directory.example.yaml)
# S001 is asked directly (it has a contact); V002 has none, so GD fills in for it (代填).
SURVEY = """\
number: MY-2026-01
title: 2026年冬季保供客户满意度调查
deadline: 2026-11-20
reminders: [3, 1]
customers: [S001, V002]
questions:
  - 资源供应保障
  - 服务响应速度
  - 总体满意度
  - {text: 意见与建议, scored: false}
"""


def survey_file(tmp_path: Path, text: str = SURVEY) -> Path:
    path = tmp_path / "survey.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def filled(form_mail_text: str, answers: Mapping[str, str]) -> str:
    """The form from our mail with answers typed after the colons, as a respondent does."""
    out = []
    for line in form_mail_text.splitlines():
        key = next((k for k in answers if line.startswith(k)), None)
        out.append(line + answers[key] if key is not None else line)
    start = next(i for i, line in enumerate(out) if line.startswith("【满意度调查】"))
    end = next(i for i, line in enumerate(out) if line.startswith("【填报结束】"))
    return "\n".join(out[start:end + 1])
