"""Which customer a free text means (domain.customer_names)."""

from __future__ import annotations

import pytest

from mailbot.domain.customer_names import Named, customers_meant

GD_SERVES = [Named("S001", "国家电网有限公司", mine=True), Named("S003", "华润燃气控股有限公司", mine=True),
             Named("S008", "新奥天然气股份有限公司", mine=True), Named("V009", "东莞新奥燃气有限公司", mine=True),
             Named("S007", "中国大唐集团有限公司", aliases=("大唐集团",)),
             Named("S020", "中国南方电网有限责任公司", aliases=("南网南京", "南京南网"))]


@pytest.mark.parametrize("text, meant", [
    ("S007 电厂停机", ["S007"]),                       # a code decides, whoever serves it
    ("国家电网有限公司通知检修", ["S001"]),             # a full name
    ("南网南京今晨来函", ["S020"]),                     # an alias, though another unit serves it
    ("华润那边拖欠气款", ["S003"]),                     # a distinctive part, among the unit's own customers
    ("新奥的门站停气", ["S008", "V009"]),               # a part two of them share: both, not a guess
    ("电网和华润都来函了", ["S001", "S003"]),            # two distinctive parts, one each
    ("今晨管线泄漏，已抢修", []),                        # nothing to go on: the duty list's
    ("大唐那边来电", []),                               # a part of a customer the unit does not serve is no match
])
def test_a_customer_is_recognised_the_way_people_write_it(text: str, meant: list[str]) -> None:
    assert [c.code for c in customers_meant(text, GD_SERVES)] == meant
