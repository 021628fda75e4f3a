"""The board's test API: a client over the Starlette app, its CSRF token, and signing in by the mailed link.

A test speaks as a person would: ask for a link, read it in the outbox, click it; the helpers read pages the way
a browser does (the hidden `csrf` field), never the app's internals.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient

from mailbot.app import App
from mailbot.bulletin.compile import compile_bulletin
from mailbot.campaigns.store import launch_campaign
from mailbot.demo import replies
from mailbot.surveys.store import launch_survey
from mailbot.visits.store import plan_visit
from mailbot.web.site import create_app
from tests.support.campaigns import plan_file
from tests.support.mailflow import SC, Clock, answer_to, arrive, one, outbox, report, request_raw, text, write_plan
from tests.support.surveys import ZHAOMIN, filled, survey_file

SECRET = "test-only-session-secret-0123456789abcdef"   # not a credential: signs this test's cookies only
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_LINK = re.compile(r"https?://\S+/signin/(\S+)")


def client(app: App, peer: str = "testclient") -> TestClient:
    """A browser on the board; `peer` is the address the board sees it come from (a proxy's, say)."""
    return TestClient(create_app(app, secret=SECRET), follow_redirects=False, client=(peer, 50000))


def csrf(c: TestClient, path: str = "/signin") -> str:
    """The CSRF token of the form on `path`, as the browser would send it back."""
    m = _CSRF.search(c.get(path).text)
    assert m, f"no form on {path}"
    return m.group(1)


def ask_link(c: TestClient, address: str) -> str:
    """Ask for a sign-in link; the page's text."""
    r = c.post("/signin", data={"email": address, "csrf": csrf(c)})
    assert r.status_code == 200
    return r.text


def mailed_token(app: App, address: str) -> str:
    """The token of the last sign-in link mailed to `address`."""
    rows = [r for r in outbox(app, "web-signin:") if r.recipients == address]
    assert rows, f"no sign-in mail to {address}"
    m = _LINK.search(text(rows[-1]))
    assert m, "no link in the sign-in mail"
    return m.group(1)


def use_link(c: TestClient, token: str) -> int:
    """Open the link and click 登录; the status of the click (303 signed in, 400 refused)."""
    return c.post(f"/signin/{token}", data={"csrf": csrf(c, f"/signin/{token}")}).status_code


def sign_in(c: TestClient, app: App, address: str) -> None:
    ask_link(c, address)
    assert use_link(c, mailed_token(app, address)) == 303


# --- a month with something on every page ----------------------------------------------------------------------


def a_full_month(app: App, clock: Clock, tmp_path: Path, *, bulletin: bool = True) -> dict[str, str]:
    """November with a row on every page, GD's and SC's apart; the numbers and what GD's report wrote.

    - VIS-2026-0001: the example visit to S001 (units BJ, GD, JS), planned on 11月13日;
    - MY-2026-01: S001 asked directly (answered 11月16日), V002 through GD (not answered);
    - TG-2026-01: the example campaign, targets of GD and BJ;
    - 11月18日: GD reports S001 needs HQ, in words holding markup (SQ-2026-0001, 刘洋);
      SC reports S002 needs HQ (SQ-2026-0002) — S002 is GD's customer too, so GD's archive of it must not show it;
    - 12月1日: the bulletin of November, issued to the bulletin list (with `bulletin`).
    """
    clock.set(2026, 11, 13, 9)
    plan_visit(app, write_plan(tmp_path / "visit.yaml"))
    launch_survey(app, survey_file(tmp_path))
    launch_campaign(app, plan_file(tmp_path))
    clock.set(2026, 11, 16, 10)
    form = one(app, "survey-form:MY-2026-01-S001")
    answer_to(app, form, ZHAOMIN, filled(text(form), {"1. ": "5", "2. ": "4", "3. ": "满意", "4. ": "无"}))
    clock.set(2026, 11, 18, 10)
    report(app, {"S001": {"4": EVIL, "风险等级": "一般", "需总部协调": "是"}})
    arrive(app, replies.reply(request_raw(app, "SC"), sender=SC, at=app.now(), reporter=("王静", "028-86661234"),
                              answers={"S002": {"4": SC_ASK, "风险等级": "一般", "需总部协调": "是"}}))
    if bulletin:
        clock.set(2026, 12, 1, 10)
        compile_bulletin(app, "2026-11")
    return {"gd": "SQ-2026-0001", "sc": "SQ-2026-0002", "visit": "VIS-2026-0001", "survey": "MY-2026-01",
            "campaign": "TG-2026-01"}


EVIL = "<script>alert(1)</script>请总部协调<b>气量</b>"
SC_ASK = "请总部协调川渝地区2027年合同气量。"
