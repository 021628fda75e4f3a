"""The board's pages beyond the month and the 诉求 — customer archive, visits, surveys, campaigns, bulletins — and
the 单位负责人 signing in, on SQLite and PostgreSQL: each viewer sees exactly their unit's rows, everywhere.

Scenario (tests/support/board.py `a_full_month`): November with a visit to S001 (BJ, GD, JS), a survey of S001 and
V002, a campaign for GD's and BJ's strategic customers, GD's 诉求 SQ-2026-0001 on S001 (its text holds markup) and
SC's SQ-2026-0002 on S002 — a customer GD serves too — and the bulletin issued on 12月1日 to the bulletin list.
HQ's 刘洋 sees it all; GD's leader 黄志强 signs in by a link like anybody and sees what GD's contact sees.
"""

from __future__ import annotations

import re
from pathlib import Path

from mailbot.app import App
from tests.support.board import EVIL, SC_ASK, a_full_month, ask_link, client, mailed_token, sign_in, use_link
from tests.support.mailflow import LIUYANG, WANGJING, Clock, outbox, parsed, pdf_text

HUANG = ("黄志强", "huangzq@gd.example.cn")   # GD's 单位负责人 (directory.example.yaml), no person row


def test_every_page_shows_each_viewer_its_own_rows(app: App, clock: Clock, tmp_path: Path) -> None:
    n = a_full_month(app, clock, tmp_path)

    hq = client(app)
    sign_in(hq, app, LIUYANG[1])
    listing = hq.get("/customers").text
    assert "S009" in listing and "V010" in listing                      # every customer (SC's too)
    found = hq.get("/customers", params={"q": "国能"}).text             # an alias from directory.yaml
    assert "S005" in found and "S001" not in found
    assert "S002" in hq.get("/customers", params={"q": "s00"}).text      # codes, any case
    s002 = hq.get("/customers/S002").text
    assert SC_ASK in s002 and n["sc"] in s002
    board = hq.get("/requests", params={"customer": "s002"}).text   # the board filtered by customer
    assert n["sc"] in board and n["gd"] not in board
    page = hq.get("/customers/S001").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page and "<b>气量" not in page
    assert n["visit"] in page and "MY-2026-01" in page and "TG-2026-01" in page   # the CLI's timeline, all of it
    visits = hq.get("/visits").text
    assert n["visit"] in visits and "国家电网有限公司" in visits
    visit = hq.get(f"/visits/{n['visit']}").text
    assert "2027年度天然气购销合同续签" in visit and "汇报材料准备" in visit and "北京分公司" in visit
    surveys = hq.get("/surveys").text
    assert re.search(r"MY-2026-01.*?<td>2</td><td>1</td><td>0</td><td>0</td>", surveys, re.S)  # asked, answered…
    report = hq.get("/surveys/MY-2026-01/report.pdf")
    assert report.status_code == 200 and report.content.startswith(b"%PDF")
    assert "attachment" in report.headers["content-disposition"]
    campaign = hq.get(f"/campaigns/{n['campaign']}").text
    assert "广东分公司" in campaign and "北京分公司" in campaign and "合计" in campaign
    assert 'src="data:image/svg+xml' in campaign                          # the report's own chart
    issued = hq.get("/bulletins").text
    link = re.search(r'href="(/bulletins/\d+\.pdf)">第1版', issued)
    assert "2026年11月" in issued and link
    (mailed,) = outbox(app, "bulletin:2026-11")
    (attached,) = parsed(mailed).iter_attachments()
    assert hq.get(link.group(1)).content == attached.get_content()        # the very PDF the list was mailed

    leader = client(app)
    ask_link(leader, HUANG[1])
    token = mailed_token(app, HUANG[1])
    assert use_link(leader, token) == 303 and use_link(client(app), token) == 400   # once only
    month = leader.get("/month").text
    assert "黄志强（单位负责人）" in month and "广东分公司" in month and "四川分公司" not in month
    own = leader.get("/month/2026-11/GD").text
    assert "第1版（现行）" in own and "&lt;script&gt;" in own
    mail = leader.get(re.search(r'href="(/submissions/\d+\.eml)"', own).group(1))   # the original mail
    assert mail.headers["content-type"].startswith("message/rfc822") and b"liming@gd.example.cn" in mail.content
    sc_month = hq.get("/month/2026-11/SC").text
    sc_mail = re.search(r'href="(/submissions/\d+\.eml)"', sc_month).group(1)
    assert leader.get(f"/requests/{n['gd']}").status_code == 200
    assert 'name="answer"' not in leader.get(f"/requests/{n['gd']}").text
    for path in (f"/requests/{n['sc']}", "/month/2026-11/SC", sc_mail, "/customers/S009", "/customers/S009/dossier.pdf",
                 "/customers/S004",
                 "/campaigns/TG-2026-99", "/visits/VIS-2026-0099", "/bulletins/1.pdf", f"{link.group(1)}"):
        assert leader.get(path).status_code == 404, path
    assert n["sc"] not in leader.get("/requests", params={"all": "1"}).text
    mine = leader.get("/customers").text
    assert "S002" in mine and "S009" not in mine and "V003" not in mine
    assert leader.get("/customers", params={"q": "成都"}).text.count("V003") == 0   # SC's, searched by name
    s002 = leader.get("/customers/S002").text
    assert "中国石油化工集团有限公司" in s002 and SC_ASK not in s002 and n["sc"] not in s002 and "四川" not in s002
    dossier = leader.get("/customers/S002/dossier.pdf")
    assert dossier.status_code == 200
    text = pdf_text(dossier.content, tmp_path, layout=False)
    assert "中国石油化工集团有限公司" in text and SC_ASK not in text and "四川分公司" not in text
    campaign = leader.get(f"/campaigns/{n['campaign']}").text
    assert "广东分公司" in campaign and "北京分公司" not in campaign
    assert "MY-2026-01" in leader.get("/surveys").text
    assert "您不在报送名单中" in leader.get("/bulletins").text               # the bulletin list names no unit
    assert n["visit"] in leader.get("/visits").text

    sc = client(app)
    sign_in(sc, app, WANGJING[1])
    for path in (f"/visits/{n['visit']}", "/surveys/MY-2026-01/report.pdf", f"/campaigns/{n['campaign']}",
                 f"/requests/{n['gd']}", "/customers/S001"):
        assert sc.get(path).status_code == 404, path
    assert n["visit"] not in sc.get("/visits").text and "MY-2026-01" not in sc.get("/surveys").text
    assert SC_ASK in sc.get("/customers/S002").text and EVIL not in sc.get("/customers/S002").text
