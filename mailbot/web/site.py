"""The board's Starlette app: `create_app(app)` over the composition root's `App`.

Security is in the structure, not in each page:
- the session is a signed cookie (Starlette's SessionMiddleware, itsdangerous; the key from the environment
  variable `web.secret_env`, never a file), HttpOnly, SameSite=Lax, Secure when `web.public_url` is https;
- every POST route is made by `post()`, which checks the form's CSRF token against the session's before the
  handler runs — a POST without it is refused with 403;
- every response carries a Content-Security-Policy with no inline scripts (the board has no script at all),
  no framing, no referrer (a sign-in link in the address bar never leaks through a Referer);
- every page that reads units' data gets the signed-in `Viewer` and queries through `scope.scoped`.
Database work runs in the thread pool: SQLAlchemy here is synchronous, the event loop must not wait on it.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailbot.app import App
from mailbot.db.session import transaction
from mailbot.errors import ConfigError
from mailbot.web import pages
from mailbot.web.act import FORM_STATUSES, act_on_request
from mailbot.web.render import TEMPLATE_DIR, render
from mailbot.web.scope import Viewer, viewer_of
from mailbot.web.signin import ask_for_link, redeem

log = logging.getLogger(__name__)

CSP = "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'"
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"), (b"cache-control", b"no-store")]
PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
MIN_SECRET = 32
Handler = Callable[[Request, dict[str, str]], Response]


class SecurityHeaders:
    """Adds the headers above to every response, error pages included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(app: App, *, secret: str | None = None) -> Starlette:
    cfg = app.settings.web
    secret = secret or os.environ.get(cfg.secret_env)
    if not secret or len(secret) < MIN_SECRET:
        raise ConfigError(f"{app.settings.source}: web.secret_env: set the environment variable {cfg.secret_env} "
                          f"to a random string of at least {MIN_SECRET} characters (it signs the sessions)")
    board = _Board(app)
    routes = [
        Route("/", board.home),
        Route("/static/board.css", board.css),
        Route("/signin", board.signin_form, methods=["GET"]),
        post("/signin", board.signin_ask),
        Route("/signin/{token}", board.signin_confirm, methods=["GET"]),
        post("/signin/{token}", board.signin_redeem),
        post("/signout", board.signout),
        Route("/month", board.month),
        Route("/requests", board.requests),
        Route("/requests/{number}", board.request, methods=["GET"]),
        post("/requests/{number}", board.request_act),
    ]
    middleware = [Middleware(SecurityHeaders),
                  Middleware(SessionMiddleware, secret_key=secret, session_cookie="mailbot_board",
                             max_age=cfg.session_hours * 3600, same_site="lax",
                             https_only=cfg.public_url.startswith("https:"))]
    return Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: board.error})


def post(path: str, handler: Handler) -> Route:
    """A POST route whose handler runs only for a form carrying this session's CSRF token (else 403)."""
    async def endpoint(request: Request) -> Response:
        async with request.form(max_files=0, max_fields=20) as form:
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
        expected = request.session.get("csrf")
        if not expected or not secrets.compare_digest(str(expected), fields.get("csrf", "")):
            raise HTTPException(403, "表单已失效，请返回上一页刷新后重试")
        return await run_in_threadpool(handler, request, fields)
    return Route(path, endpoint, methods=["POST"])


def client_of(request: Request) -> str:
    return (request.client.host if request.client else "unknown")[:100]


class _Board:
    """The handlers, sharing the App; each reads what it shows through `pages` (scoped by the viewer)."""

    def __init__(self, app: App) -> None:
        self.app = app

    # --- helpers ---------------------------------------------------------------------------------------

    def page(self, request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        if "csrf" not in request.session:
            request.session["csrf"] = secrets.token_urlsafe(32)
        flash = request.session.pop("flash", None)
        return HTMLResponse(render(name, csrf=request.session["csrf"], tz=self.app.tz, flash=flash,
                                   department=self.app.department, **ctx), status_code=status)

    def viewer(self, request: Request) -> Viewer | None:
        pid = request.session.get("person")
        if not isinstance(pid, int):
            return None
        with self.app.sessions() as s:
            return viewer_of(s, pid)

    @staticmethod
    def to_signin() -> RedirectResponse:
        return RedirectResponse("/signin", status_code=303)

    def error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        text = {404: "页面不存在，或您无权查看。", 405: "不支持的请求。"}.get(exc.status_code, exc.detail)
        return self.page(request, "error.html.j2", status=exc.status_code, message=text,
                         viewer=self.viewer(request))

    # --- pages -----------------------------------------------------------------------------------------

    def home(self, request: Request) -> Response:
        return RedirectResponse("/month" if self.viewer(request) else "/signin", status_code=303)

    def css(self, request: Request) -> Response:
        return Response((TEMPLATE_DIR / "board.css").read_bytes(), media_type="text/css")

    def signin_form(self, request: Request) -> Response:
        return self.page(request, "signin.html.j2", viewer=None, sent=False)

    def signin_ask(self, request: Request, form: dict[str, str]) -> Response:
        with transaction(self.app.sessions) as s:
            ask_for_link(self.app, s, form.get("email", ""), client_of(request))
        # The same page whatever the address: known, unknown or rate-limited.
        return self.page(request, "signin.html.j2", viewer=None, sent=True,
                         minutes=self.app.settings.web.link_minutes)

    def signin_confirm(self, request: Request) -> Response:
        # A click, not the GET, spends the link: mail scanners that fetch links must not use it up.
        return self.page(request, "signin_confirm.html.j2", viewer=None, token=request.path_params["token"])

    def signin_redeem(self, request: Request, form: dict[str, str]) -> Response:
        with transaction(self.app.sessions) as s:
            pid = redeem(self.app, s, request.path_params["token"], client_of(request))
        if pid is None:
            return self.page(request, "error.html.j2", status=400, viewer=None,
                             message="登录链接无效、已使用或已过期，请重新申请。")
        request.session.clear()  # a fresh session: nothing of the anonymous one carries over
        request.session.update({"person": pid, "csrf": secrets.token_urlsafe(32)})
        return RedirectResponse("/month", status_code=303)

    def signout(self, request: Request, form: dict[str, str]) -> Response:
        request.session.clear()
        return self.to_signin()

    def month(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_signin()
        period = request.query_params.get("period") or f"{self.app.today():%Y-%m}"
        if not PERIOD.fullmatch(period):
            raise HTTPException(404)
        with self.app.sessions() as s:
            data = pages.month_page(self.app, s, viewer, period)
        return self.page(request, "month.html.j2", viewer=viewer, **data)

    def requests(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_signin()
        q = request.query_params
        with self.app.sessions() as s:
            data = pages.board_page(self.app, s, viewer, assignee=q.get("assignee", "")[:320],
                                    unit=q.get("unit", "")[:12], include_closed=q.get("all") == "1")
        return self.page(request, "requests.html.j2", viewer=viewer, **data)

    def request(self, request: Request, problems: tuple[str, ...] = (), form: dict[str, str] | None = None,
                status: int = 200) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_signin()
        with self.app.sessions() as s:
            data = pages.request_page(self.app, s, viewer, request.path_params["number"])
        if data is None:
            raise HTTPException(404)
        return self.page(request, "request.html.j2", status=status, viewer=viewer, req=data, problems=problems,
                         form={"status": "", "answer": "", "note": "", **(form or {})}, statuses=FORM_STATUSES)

    def request_act(self, request: Request, form: dict[str, str]) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_signin()
        number = request.path_params["number"]
        done = act_on_request(self.app, viewer, number, client_of(request), status=form.get("status", ""),
                              answer=form.get("answer", ""), note=form.get("note", ""))
        if not done.found:
            raise HTTPException(404)
        if done.problems:
            return self.request(request, done.problems, form, status=400)
        log.info("web: %s acted on %s from %s: %s", viewer.email, number, client_of(request), done.note)
        request.session["flash"] = "已办理，相关邮件已进入发件队列。"
        return RedirectResponse(f"/requests/{number}", status_code=303)
