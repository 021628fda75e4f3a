"""Which customer a free text is about, the way people write them: a code, a full name, an alias from the
directory (`aliases: [南网南京]`), or — among the sender unit's own customers — a distinctive part of the name.

People write "粤电宜宾", "大唐那边", "华润的欠款": a short name, rarely the registered one. Among the customers a
unit serves, a two-character piece of a name that no other of its customers shares (宜宾, 大唐, 华润) says which
one is meant; the words every company name has (有限, 集团, 燃气, 能源…) say nothing. When the text fits two
customers equally, both are returned, so the caller can say so rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CODE = re.compile(r"(?<![A-Za-z0-9])([SV]\d{3,})(?!\d)")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
# The legal form, and words too common in customer names to tell two of them apart.
_SUFFIX = re.compile(r"(?:股份有限公司|有限责任公司|有限公司|集团|控股|股份|公司|（集团）|\(集团\))+$")
_COMMON = frozenset(
    "有限 公司 集团 控股 股份 责任 中国 国家 能源 燃气 天然 然气 电力 发电 石油 石化 化工 投资 实业 发展 "
    "科技 工业 城市 供电 热电 管道 销售".split())


@dataclass(frozen=True)
class Named:
    """A customer as this module sees it: its code, registered name and aliases, and whether the sender's unit
    serves it."""

    code: str
    name: str
    aliases: tuple[str, ...] = ()
    mine: bool = False


def customers_meant(text: str, customers: Sequence[Named]) -> list[Named]:
    """The customers `text` is about, best first: [] none, [c] one, several when it cannot tell them apart.

    A code decides; then a full name or an alias (the longest written wins, the unit's own before others);
    then a distinctive part of the name of one of the unit's own customers.
    """
    by_code = {c.code: c for c in customers}
    for code in CODE.findall(text):
        if code in by_code:
            return [by_code[code]]
    written = [(len(w), c) for c in customers for w in (c.name, *c.aliases) if w and w in text]
    if written:
        longest = max(n for n, _ in written)
        best = list(dict.fromkeys(c for n, c in written if n == longest))
        mine = [c for c in best if c.mine]
        return mine or best
    return _by_distinctive_part(text, [c for c in customers if c.mine])


def _by_distinctive_part(text: str, mine: Sequence[Named]) -> list[Named]:
    """The unit's customers whose name has the most pieces in the text that no other of them has; failing any,
    every customer a shared piece in the text could mean ("新奥" for 新奥天然气 and 东莞新奥燃气 alike)."""
    pieces = {c.code: _pieces(c) for c in mine}
    owners: dict[str, list[str]] = {}
    for code, own in pieces.items():
        for piece in own:
            if piece in text:
                owners.setdefault(piece, []).append(code)
    unique = {code: sum(1 for codes in owners.values() if codes == [code]) for code in pieces}
    top = max(unique.values(), default=0)
    meant = {code for code, n in unique.items() if top and n == top} or {c for codes in owners.values() for c in codes}
    return [c for c in mine if c.code in meant]


def _pieces(c: Named) -> set[str]:
    """The two-character pieces of a customer's name and aliases, without its legal form and common words."""
    out: set[str] = set()
    for word in _words(c):
        for run in _CJK_RUN.findall(_SUFFIX.sub("", word)):
            out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out - _COMMON


def _words(c: Named) -> Iterable[str]:
    yield c.name
    yield from c.aliases
