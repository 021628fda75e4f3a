"""Plan files HQ staff write (a visit, a survey, a campaign): read as text, every mistake named at once.

YAML 1.1 reads an unquoted ``14:00`` as the number 840 and refuses to load a
file at all over an impossible date such as ``2026-13-01``; plan files are
therefore read with every plain scalar as text (`TextLoader`), and dates are
read out of the text with a message naming the key. Problems are collected
(`PlanReader`) and raised together (`PlanError`), each as
``<file>: <key>: <what is wrong>`` in Chinese, because the people who write
these files read Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from mailbot.errors import MailbotError

_DATE_TEXT = re.compile(r"^\s*(\d{4})\s*(?:[-./]|年)\s*(\d{1,2})\s*(?:[-./]|月)\s*(\d{1,2})\s*日?\s*$")


class TextLoader(yaml.SafeLoader):
    """SafeLoader with no implicit numbers or timestamps: nothing in a plan is a number."""


TextLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


class PlanError(MailbotError):
    """The plan file is wrong; `problems` holds one ``file: key: message`` line per mistake."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


def load_mapping(text: str, source: str, example: str) -> dict[Any, Any]:
    """The file's top-level mapping; `example` names the commented example file to point at."""
    try:
        data = yaml.load(text, Loader=TextLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise PlanError([f"{source}: 不是有效的 YAML：{e}"]) from None
    if not isinstance(data, dict):
        raise PlanError([f"{source}: 文件应为“键: 值”的形式，参见 {example}"])
    return data


@dataclass
class PlanReader:
    """Collects problems while reading, so the author sees every mistake in one run."""

    source: str
    problems: list[str] = field(default_factory=list)

    def bad(self, key: str, message: str) -> None:
        self.problems.append(f"{self.source}: {key}: {message}")

    def unknown_keys(self, data: Mapping[Any, Any], known: frozenset[str]) -> None:
        for key in sorted(set(map(str, data)) - known):
            self.bad(key, "未知的键（拼写错误？）")

    def text(self, data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.bad(where, "必须填写")
            return None
        if isinstance(value, (dict, list)):
            self.bad(where, "应为一段文字")
            return None
        return str(value).strip()

    def day(self, value: Any, where: str) -> date | None:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        m = _DATE_TEXT.match(str(value)) if value is not None else None
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                pass
        self.bad(where, f"日期应写作 2026-11-20，写的是“{'' if value is None else value}”")
        return None

    def items(self, data: Mapping[str, Any], key: str) -> list[tuple[str, Any]]:
        """A list value as (key.i, item) pairs; absent is empty, anything but a list is a problem."""
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.bad(key, "应为列表（每项一行，以“- ”开头）")
            return []
        return [(f"{key}.{i}", v) for i, v in enumerate(value)]

    def done(self) -> None:
        if self.problems:
            raise PlanError(self.problems)
