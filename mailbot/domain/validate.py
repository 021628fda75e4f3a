"""Validate a parsed report against the directory: the checks the parser cannot make alone.

Pure: the caller passes what the directory says about the unit. The parser's own
errors (a bad 风险等级, an unreadable 需总部协调) come first; these add what only
the directory knows — a customer code that does not exist or belongs to
another unit, a strategic customer missing from the reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from parsers import ParsedMessage, Problem


@dataclass(frozen=True)
class UnitView:
    """What the directory says about the reporting unit and the customers mailbot knows."""

    code: str
    strategic: frozenset[str]        # strategic customers this unit serves
    vip: frozenset[str]              # VIP customers this unit serves
    known: Mapping[str, str]         # every active customer code → "strategic" | "vip"


@dataclass(frozen=True)
class Verdict:
    problems: tuple[Problem, ...]    # the report is refused and answered with these
    warnings: tuple[Problem, ...]    # accepted, and told in the acknowledgement

    @property
    def accepted(self) -> bool:
        return not self.problems


def validate_report(p: ParsedMessage, unit: UnitView) -> Verdict:
    problems = list(p.errors)
    warnings = list(p.warnings)
    if p.unit is not None and p.unit != unit.code:
        problems.append(Problem("报告编号", f"报告编号属于单位“{p.unit}”，但发件人是{unit.code}的联系人"))
    if not p.has_answers:
        problems.append(Problem("", "填报单未填写任何内容；无事项的栏目请填写“无”"))

    seen: set[str] = set()
    for block in p.strategic:
        code = block.customer
        if code in seen:
            problems.append(Problem(code, f"战略客户{code}出现了两次，请只保留一份"))
        seen.add(code)
        if unit.known.get(code) != "strategic":
            problems.append(Problem(code, f"“{code}”不是系统中的战略客户编码，请核对"))
        elif code not in unit.strategic:
            warnings.append(Problem(code, f"战略客户{code}不在本单位服务名单中，已照常收录"))
    for vip in p.vip:
        code = vip.customer
        if code in seen:
            problems.append(Problem(code, f"VIP客户{code}出现了两次，请只保留一份"))
        seen.add(code)
        if unit.known.get(code) != "vip":
            problems.append(Problem(code, f"“{code}”不是系统中的VIP客户编码，请核对"))
    missing = sorted(unit.strategic - seen)
    if missing and p.has_answers:
        warnings.append(Problem("", "以下战略客户本次未填报：" + "、".join(missing)))
    return Verdict(tuple(problems), tuple(warnings))
