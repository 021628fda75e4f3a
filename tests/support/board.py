"""The board's test API: a client over the Starlette app, its CSRF token, and signing in by the mailed link.

A test speaks as a person would: ask for a link, read it in the outbox, click it; the helpers read pages the way
a browser does (the hidden `csrf` field), never the app's internals.
"""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from mailbot.app import App
from mailbot.web.site import create_app
from tests.support.mailflow import outbox, text

SECRET = "test-only-session-secret-0123456789abcdef"   # not a credential: signs this test's cookies only
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_LINK = re.compile(r"https?://\S+/signin/(\S+)")


def client(app: App) -> TestClient:
    return TestClient(create_app(app, secret=SECRET), follow_redirects=False)


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
