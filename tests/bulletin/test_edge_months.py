"""The bulletin on edge months, read from the database as the calendar compiles it: nobody reported and the
month's only 重大 risk came by urgent mail; every unit reported on time. On SQLite and PostgreSQL.

(The first month with no previous one, and a customer served by three units, are the demo's November:
tests/bulletin/test_gather.py.)
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from mailbot.app import App
from mailbot.bulletin.gather import gather
from mailbot.bulletin.model import Bulletin
from mailbot.bulletin.prose import overview
from mailbot.bulletin.render import dynamics, render_bulletin_html, render_bulletin_pdf
from mailbot.db.models import Period
from mailbot.demo import replies
from mailbot.reports.schedule import send_requests
from tests.support.mailflow import HQ, TZ, arrive, at, pdf_text, request_raw

CONTACTS = {"GD": ("李明", "liming@gd.example.cn", "020-38886666"), "SC": ("王静", "wangjing@sc.example.cn", "028-86661234"),
            "BJ": ("孙悦", "sunyue@bj.example.cn", "010-65558888"), "JS": ("吴昊", "wuhao@js.example.cn", "025-84447777"),
            "SX": ("马丽", "mali@sx.example.cn", "029-88335566"), "XJ": ("艾力", "aili@xj.example.cn", "0991-5556677")}


def november(app: App) -> Bulletin:
    app.clock.now = at(2026, 11, 30, 9, 5)  # type: ignore[attr-defined]
    with app.sessions() as s:
        period = s.scalar(select(Period).where(Period.key == "2026-11"))
        assert period is not None
        return gather(s, period, department=app.department, tz=TZ, now=app.now(), schedule=app.schedule)


def page_one(b: Bulletin, tmp_path: Path) -> str:
    return re.sub(r"\s+", "", pdf_text(render_bulletin_pdf(b), tmp_path, layout=False).split("\f")[0])


def test_nobody_reported_and_the_only_major_risk_came_by_urgent_mail(app: App, tmp_path: Path) -> None:
    app.clock.now = at(2026, 11, 13, 9)  # type: ignore[attr-defined]
    send_requests(app, "2026-11")
    app.clock.now = at(2026, 11, 18, 8, 40)  # type: ignore[attr-defined]
    arrive(app, replies.build(sender=CONTACTS["SX"][:2], to=HQ, at=app.now(), subject="【紧急】延长石油榆林项目供气中断风险",
                              body="总部领导：\n今晨接延长石油通知，其榆林化工项目可能于本周五起中断供气三天。\n\n马丽\n陕西分公司"))
    b = november(app)

    assert {u.status for u in b.units} == {"missing"} and len(b.units) == 6
    assert not any(c.reported_units for c in b.customers) and b.previous is None
    assert [x.section.code for x in dynamics(b).briefs] == ["S011"]   # 四 names only the customer with news
    assert [(r.customer_code, r.level, r.change) for r in b.risks] == [("S011", "重大", "")]   # no month before
    (decision,) = b.decisions
    assert decision.kinds[0] == "重大风险" and decision.number.startswith("SQ-2026-")
    assert decision.title == "紧急报告：延长石油榆林项目供气中断风险"
    prose = "".join(overview(b))
    assert "本月应报单位6家，按时报送0家、逾期报送0家、未报送6家，报送及时率0%。" in prose
    assert "本月风险提示1项，其中重大风险1项、一般风险0项；收到紧急事项1件。" in prose
    page1 = page_one(b, tmp_path)
    assert "陕西延长石油（集团）有限责任公司" in page1 and decision.number in page1


def test_every_unit_on_time_without_risks_has_nothing_to_decide(app: App) -> None:
    app.clock.now = at(2026, 11, 13, 9)  # type: ignore[attr-defined]
    send_requests(app, "2026-11")
    app.clock.now = at(2026, 11, 20, 10)  # type: ignore[attr-defined]
    for unit, (name, address, phone) in CONTACTS.items():
        arrive(app, replies.reply(request_raw(app, unit, "2026-11"), sender=(name, address), at=app.now(),
                                  answers={}, reporter=(name, phone)))
    b = november(app)

    assert [u.status for u in b.units] == ["on_time"] * 6 and {u.version for u in b.units} == {1}
    assert not b.risks and not b.decisions and not b.coordination
    prose = "".join(overview(b))
    assert "本月应报单位6家，按时报送6家、逾期报送0家、未报送0家，报送及时率100%。" in prose
    chapter = re.sub(r"<[^>]+>|\s+", "", render_bulletin_html(b))   # the page layout is the other test's
    assert "二、需决策与协调事项" in chapter and "本月无需决策或协调的事项" in chapter
