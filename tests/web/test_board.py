"""The board (issue 19) over the Starlette app, on SQLite and PostgreSQL: signing in by the mailed link, who sees
what, escaping, CSRF, and HQ staff acting on a 诉求 with the mail command's own effects.

Scenario: GD reports on 11月18日 that S001 needs HQ (诉求 SQ-2026-0001, 承办人 刘洋). People sign in by asking for a
link and clicking it in the mail the outbox holds; the clock moves instead of waiting for links to expire.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select
from starlette.testclient import TestClient

from mailbot.app import App
from mailbot.db.models import OutboxMail, WebAction, WebLink, WebSignin
from mailbot.reports.schedule import send_requests
from mailbot.requests.store import list_requests
from mailbot.web.site import create_app
from tests.servers.ports import free_port
from tests.support.board import SECRET, ask_link, client, csrf, mailed_token, sign_in, use_link
from tests.support.mailflow import (
    GD,
    LIUYANG,
    NEEDS_HQ,
    PROJECT,
    SUNYUE,
    answer_to,
    count,
    latest,
    outbox,
    report,
    request,
    text,
)


def _raised(app: App, clock, answers: dict[str, dict[str, str]] = NEEDS_HQ) -> str:  # type: ignore[no-untyped-def]
    clock.set(2026, 11, 18, 10)
    report(app, answers)
    (row,) = list_requests(app)
    return str(row["number"])


def test_signing_in_by_the_link_read_from_the_outbox(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    _raised(app, clock)
    c = client(app)
    assert c.get("/month").headers["location"] == "/signin"
    ask_link(c, "LiuYang@hq.example.cn ")  # as people type it
    mail = latest(app, "web-signin:")
    assert mail.recipients == LIUYANG[1] and "15分钟" in mail.subject and "刘洋" in text(mail)
    token = mailed_token(app, LIUYANG[1])
    r = c.post(f"/signin/{token}", data={"csrf": csrf(c, f"/signin/{token}")})
    assert r.status_code == 303 and r.headers["location"] == "/month"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    page = c.get("/month")
    assert page.status_code == 200 and "2026年11月月度报送" in page.text and "广东分公司" in page.text
    assert page.headers["content-security-policy"] == ("default-src 'self'; script-src 'self'; img-src 'self' data:; "
                                                       "object-src 'none'; "
                                                       "frame-ancestors 'none'")
    assert "<script" not in page.text
    assert "SQ-2026-0001" in c.get("/requests").text
    with app.sessions() as s:  # only the token's hash is kept
        assert all(token not in h for h in s.scalars(select(WebLink.token_hash)))
    assert count(app, WebAction) == 1


def test_the_month_page_opens_on_the_newest_month_asked_and_offers_the_others(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # 3 December: December's request goes out on the 15th, so the board opens on November; October, asked too, is
    # one click away.
    clock.set(2026, 10, 15, 9)
    send_requests(app, "2026-10")
    _raised(app, clock)
    clock.set(2026, 12, 3, 9)
    c = client(app)
    sign_in(c, app, LIUYANG[1])
    page = c.get("/month").text
    assert "<h1>2026年11月月度报送</h1>" in page and '<a href="/month?period=2026-10">2026年10月</a>' in page
    assert "<h1>2026年10月月度报送</h1>" in c.get("/month?period=2026-10").text


def test_a_link_used_twice_or_after_15_minutes_is_refused(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(2026, 11, 18, 10)
    c = client(app)
    ask_link(c, LIUYANG[1])
    token = mailed_token(app, LIUYANG[1])
    assert use_link(c, token) == 303
    other = client(app)
    assert use_link(other, token) == 400 and other.get("/month").status_code == 303

    ask_link(c, LIUYANG[1])
    late = mailed_token(app, LIUYANG[1])
    clock.now += timedelta(minutes=15, seconds=1)
    assert use_link(client(app), late) == 400
    assert use_link(client(app), "not-a-token") == 400


def test_an_unknown_address_gets_the_same_page_and_no_mail(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(2026, 11, 18, 10)
    c = client(app)
    known = ask_link(c, LIUYANG[1])
    assert ask_link(c, "nobody@example.com") == known
    assert ask_link(c, "sunli@szgas.example.com") == known  # a customer's own contact may not sign in
    assert [m.recipients for m in outbox(app, "web-signin:")] == [LIUYANG[1]]


def test_in_demo_mode_the_link_is_also_handed_to_the_terminal(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    # `mailbot web` on the example directory: its people's mail reaches no one, so the link is printed; an address
    # that gets no link gets nothing printed either.
    clock.set(2026, 11, 18, 10)
    shown: list[tuple[str, str]] = []
    c = TestClient(create_app(app, secret=SECRET, show_link=lambda *link: shown.append(link)), follow_redirects=False)
    ask_link(c, "nobody@example.com")
    ask_link(c, LIUYANG[1])
    ((address, url),) = shown
    assert address == LIUYANG[1] and url.rsplit("/", 1)[1] == mailed_token(app, LIUYANG[1])
    assert use_link(c, url.rsplit("/", 1)[1]) == 303 and "刘洋" in c.get("/month").text   # signed in by it


def test_sign_in_requests_are_rate_limited_per_address_and_client(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(2026, 11, 18, 10)
    c = client(app)
    pages = {ask_link(c, LIUYANG[1]) for _ in range(7)}
    assert len(pages) == 1 and len(outbox(app, "web-signin:")) == 5   # web.signins_per_address
    for i in range(15):
        ask_link(c, f"x{i}@example.com")
    ask_link(c, GD[1])   # this client has asked 22 times within the hour
    assert len(outbox(app, "web-signin:")) == 5
    clock.now += timedelta(hours=1, minutes=1)
    ask_link(c, GD[1])
    assert len(outbox(app, "web-signin:")) == 6


def test_a_form_posted_without_the_csrf_token_is_refused(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    number = _raised(app, clock)
    c = client(app)
    assert c.post("/signin", data={"email": LIUYANG[1]}).status_code == 403
    assert outbox(app, "web-signin:") == []
    sign_in(c, app, LIUYANG[1])
    before = len(outbox(app))
    r = c.post(f"/requests/{number}", data={"status": "处理中"})
    assert r.status_code == 403 and "表单已失效" in r.text
    assert c.post(f"/requests/{number}", data={"status": "处理中", "csrf": "forged"}).status_code == 403
    assert request(app, number).status == "new" and len(outbox(app)) == before


def test_a_unit_contact_sees_its_own_unit_only(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    number = _raised(app, clock)
    bj = client(app)
    sign_in(bj, app, SUNYUE[1])
    assert bj.get(f"/requests/{number}").status_code == 404
    assert number not in bj.get("/requests").text
    month = bj.get("/month").text
    assert "北京分公司" in month and "广东分公司" not in month
    token = csrf(bj, "/requests")
    assert bj.post(f"/requests/{number}", data={"answer": "已处理", "csrf": token}).status_code == 404

    gd = client(app)
    sign_in(gd, app, GD[1])
    page = gd.get(f"/requests/{number}")
    assert page.status_code == 200 and "请总部协调2027年冬季保供气量。" in page.text
    assert 'name="answer"' not in page.text   # only HQ staff act
    assert gd.post(f"/requests/{number}", data={"answer": "x", "csrf": csrf(gd, "/requests")}).status_code == 404
    assert request(app, number).status == "new"


def test_what_units_wrote_is_shown_as_text(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    evil = "<script>alert(1)</script>请总部协调<b>气量</b>"
    number = _raised(app, clock, {"S001": {"4": evil, "风险等级": "一般", "需总部协调": "是"}})
    c = client(app)
    sign_in(c, app, LIUYANG[1])
    for path in ("/month", "/month/2026-11/GD", "/requests", f"/requests/{number}"):
        page = c.get(path).text
        assert "<script>alert" not in page and "<b>气量" not in page, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in c.get(f"/requests/{number}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in c.get("/month/2026-11/GD").text


def test_acting_on_a_request_sends_the_mail_the_mail_command_sends(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    number = _raised(app, clock)
    answer = "已与国家电网总部沟通，冬季保供气量增加2000万方。"
    clock.set(2026, 11, 19, 10)
    answer_to(app, latest(app, f"req-notice:{number}:assigned"), LIUYANG, f"答复：{answer}")
    by_mail = latest(app, f"req-answer:{number}:")

    c = client(app)
    sign_in(c, app, LIUYANG[1])
    r = c.post(f"/requests/{number}", data={"answer": answer, "status": "", "csrf": csrf(c, f"/requests/{number}")})
    assert r.status_code == 303
    by_web = latest(app, f"req-answer:{number}:")
    assert by_web.idem_key != by_mail.idem_key
    assert (by_web.subject, by_web.recipients, text(by_web)) == (by_mail.subject, by_mail.recipients, text(by_mail))
    assert by_web.request_id == by_mail.request_id and by_web.kind == by_mail.kind == "request_answer"
    ack = latest(app, "req-ack:")
    assert ack.recipients == LIUYANG[1] and "答复已发送给广东分公司" in text(ack)
    events = request(app, number).events
    assert [(e.actor, e.action) for e in events[-2:]] == [(LIUYANG[1], "answer")] * 2
    page = c.get(f"/requests/{number}").text
    assert "已办理" in page and "（看板）" in page

    r = c.post(f"/requests/{number}", data={"answer": "好的\n状态：关闭", "csrf": csrf(c, f"/requests/{number}")})
    assert r.status_code == 400 and "办理指令" in r.text
    assert request(app, number).status == "answered"
    sent = len(outbox(app))
    c.post(f"/requests/{number}", data={"status": "关闭", "csrf": csrf(c, f"/requests/{number}")})
    assert request(app, number).status == "closed" and len(outbox(app)) == sent + 1   # the ack


def test_signing_out_ends_the_session(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(2026, 11, 18, 10)
    c = client(app)
    sign_in(c, app, LIUYANG[1])
    assert c.post("/signout", data={"csrf": csrf(c, "/month")}).status_code == 303
    assert c.get("/month").status_code == 303
    assert count(app, OutboxMail) >= 1


def test_transfer_and_group_review_from_the_board_are_the_mail_commands(app: App, clock) -> None:  # type: ignore[no-untyped-def]
    number = _raised(app, clock)
    c = client(app)
    sign_in(c, app, LIUYANG[1])
    path = f"/requests/{number}"
    page = c.get(path).text
    assert 'name="transfer"' in page and "王芳（wangfang@hq.example.cn）" in page and 'name="review"' in page
    r = c.post(path, data={"transfer": GD[1], "csrf": csrf(c, path)})   # a unit's contact is nobody to transfer to
    assert r.status_code == 400 and "转交对象须为登记的总部人员" in r.text
    assert request(app, number).assignee.email == LIUYANG[1]

    clock.set(2026, 11, 19, 10)
    theirs = {"assignee": "wangfang@hq.example.cn"}
    assert number not in c.get("/requests", params=theirs).text
    r = c.post(path, data={"transfer": "wangfang@hq.example.cn", "review": "1", "csrf": csrf(c, path)})
    assert r.status_code == 303
    board = c.get("/requests", params=theirs).text   # the board made again at once, not the one it kept
    assert number in board and "待集团审议（1）" in board
    req = request(app, number)
    assert req.assignee.email == "wangfang@hq.example.cn" and req.status == "awaiting_approval"
    assert [(e.actor, e.action) for e in req.events[-2:]] == [(LIUYANG[1], "transfer"), (LIUYANG[1], "approval")]
    (notice,) = outbox(app, f"req-notice:{number}:transfer:")                # the mail command's notice
    assert notice.recipients == "wangfang@hq.example.cn" and "刘洋将此诉求转交您办理" in text(notice)
    ack = latest(app, "req-ack:")
    assert ack.recipients == LIUYANG[1] and "已转交王芳" in text(ack) and "已提交集团审议" in text(ack)


def test_the_sso_header_signs_in_only_through_a_trusted_proxy(make_app, clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(2026, 11, 18, 10)
    app = make_app(web={"trusted_user_header": "X-Remote-User", "trusted_proxies": ["127.0.0.1", "10.8.0.0/16"]})
    proxy = client(app, peer="10.8.3.4")
    for _ in range(2):   # the proxy appends the address it saw to what the client claimed
        page = proxy.get("/month", headers={"X-Remote-User": "LiuYang@hq.example.cn",
                                            "X-Forwarded-For": "6.6.6.6, 192.0.2.7"})
        assert page.status_code == 200 and "刘洋" in page.text
    with app.sessions() as s:   # once a session, from where the proxy says
        signins = [(a.action, a.detail, a.client) for a in s.scalars(select(WebAction))]
    assert signins == [("signin", "sso", "192.0.2.7")]
    leader = client(app, peer="127.0.0.1").get("/month", headers={"X-Remote-User": "huangzq@gd.example.cn"})
    assert leader.status_code == 200 and "黄志强" in leader.text and "四川分公司" not in leader.text
    # Anyone else reaching the board cannot claim a name; nor may the proxy name someone not in the directory.
    stranger = client(app, peer="10.9.0.1")
    assert stranger.get("/month", headers={"X-Remote-User": LIUYANG[1]}).status_code == 303
    stranger.headers["X-Forwarded-For"] = "192.0.2.99"
    ask_link(stranger, "nobody@example.com")   # nor where it comes from
    with app.sessions() as s:
        assert s.scalars(select(WebSignin.client).order_by(WebSignin.id.desc())).first() == "10.9.0.1"
    assert proxy.get("/month", headers={"X-Remote-User": "nobody@example.com"}).status_code == 303
    # Without the setting the header means nothing, whoever sends it.
    plain = client(make_app(), peer="127.0.0.1")
    assert plain.get("/month", headers={"X-Remote-User": LIUYANG[1]}).status_code == 303


def test_mailbot_web_on_the_example_directory_prints_the_link_and_needs_no_secret(tmp_path: Path) -> None:
    # README "Trying it on the demo": `mailbot web` on the example people starts without MAILBOT_WEB_SECRET and
    # prints each sign-in link, which signs the person in.
    port = free_port()
    cfg = tmp_path / "mailbot.yaml"
    cfg.write_text(json.dumps({"data_dir": str(tmp_path), "database": {"url": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
                               "directory": str(PROJECT / "config/directory.example.yaml"),
                               "mailbox": {"path": str(tmp_path / "mail")}, "outbox": {"path": str(tmp_path / "out")}}),
                   encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "MAILBOT_WEB_SECRET"} | {"PYTHONPATH": str(PROJECT)}
    log = tmp_path / "web.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mailbot", "--config", str(cfg), "web", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=PROJECT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while "Uvicorn running" not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert "sign in as e.g. liuyang@hq.example.cn" in log.read_text(), log.read_text()
        with httpx.Client(base_url=base, follow_redirects=False, timeout=10) as c:
            assert c.post("/signin", data={"email": LIUYANG[1], "csrf": csrf(c, "/signin")}).status_code == 200  # type: ignore[arg-type]
            (url,) = re.findall(rf"sign-in link for {re.escape(LIUYANG[1])}: (\S+)", log.read_text())
            path = url.split("/", 3)[3]
            r = c.post(f"/{path}", data={"csrf": csrf(c, f"/{path}")})  # type: ignore[arg-type]
            assert r.status_code == 303 and r.headers["location"] == "/month" and "刘洋" in c.get("/month").text
    finally:
        proc.terminate()
        proc.wait(10)
