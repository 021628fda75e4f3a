"""The board's Starlette app: `create_app(app)` over the composition root's `App`.

Security is in the structure, not in each page:
- the session is a signed cookie (Starlette's SessionMiddleware, itsdangerous; the key from the environment
  variable `web.secret_env`, never a file), HttpOnly, SameSite=Lax, Secure when `web.public_url` is https;
- every POST route is made by `post()`, which checks the form's CSRF token against the session's before the
  handler runs — a POST without it is refused with 403;
- every response carries a Content-Security-Policy with no inline scripts (the board has no script at all),
  no framing, no referrer (a sign-in link in the address bar never leaks through a Referer);
- every page that reads units' data gets the signed-in `Viewer` and queries through `scope.scoped`;
- with `web.trusted_user_header` set, the intranet SSO's header names the viewer — read only on a request whose
  peer is one of `web.trusted_proxies`, so a client reaching the board directly cannot claim to be anybody.
Database work runs in the thread pool: SQLAlchemy here is synchronous, the event loop must not wait on it.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session
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
from mailbot.db.models import WebAction
from mailbot.db.session import transaction
from mailbot.errors import ConfigError
from mailbot.web import bulletins, campaigns, customers, pages, surveys, visits
from mailbot.web.act import FORM_STATUSES, act_on_request, hq_staff
from mailbot.web.cache import Bodies, Body
from mailbot.web.render import TEMPLATE_DIR, render, render_body
from mailbot.web.scope import Viewer, leader_viewer, viewer_by_address, viewer_of
from mailbot.web.signin import ask_for_link, redeem

log = logging.getLogger(__name__)

# Images may be data: URIs — the charts are pygal SVG embedded that way (render/charts.py), and an SVG shown as an
# image runs no script.
CSP = "default-src 'self'; script-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'"
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"), (b"cache-control", b"no-store")]
PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
NUMBER = re.compile(r"[A-Za-z]{2,4}-\d{4}-\d{2,6}")   # SQ-2026-0001, VIS-2026-0001, MY-2026-01, TG-2026-01
CODE = re.compile(r"[A-Za-z0-9_-]{1,20}")
MIN_SECRET = 32
Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]   # web.trusted_proxies
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


def create_app(app: App, *, secret: str | None = None, show_link: Callable[[str, str], None] | None = None
               ) -> Starlette:
    """The board. `show_link(address, url)`: demo mode only (`mailbot web` on the example directory), each sign-in
    link is also handed to the terminal, since the example people's mail reaches no one."""
    cfg = app.settings.web
    secret = secret or os.environ.get(cfg.secret_env)
    if not secret or len(secret) < MIN_SECRET:
        raise ConfigError(f"{app.settings.source}: web.secret_env: set the environment variable {cfg.secret_env} "
                          f"to a random string of at least {MIN_SECRET} characters (it signs the sessions)")
    board = _Board(app, _networks(app, cfg.trusted_proxies), show_link)
    routes = [
        Route("/", board.home),
        Route("/static/board.css", board.css),
        Route("/signin", board.signin_form, methods=["GET"]),
        post("/signin", board.signin_ask),
        Route("/signin/{token}", board.signin_confirm, methods=["GET"]),
        post("/signin/{token}", board.signin_redeem),
        post("/signout", board.signout),
        Route("/month", board.month),
        Route("/month/{period}/{code}", board.unit_month),
        Route("/submissions/{submission_id:int}.eml", board.original_mail),
        Route("/requests", board.requests),
        Route("/requests/{number}", board.request, methods=["GET"]),
        post("/requests/{number}", board.request_act),
        Route("/customers", board.customers),
        Route("/customers/{code}", board.customer),
        Route("/customers/{code}/dossier.pdf", board.dossier),
        Route("/visits", board.visits),
        Route("/visits/{number}", board.visit),
        Route("/surveys", board.surveys),
        Route("/surveys/{number}/report.pdf", board.survey_report),
        Route("/campaigns", board.campaigns),
        Route("/campaigns/{number}", board.campaign),
        Route("/bulletins", board.bulletins),
        Route("/bulletins/{mail_id:int}.pdf", board.bulletin),
    ]
    middleware = [Middleware(SecurityHeaders),
                  Middleware(SessionMiddleware, secret_key=secret, session_cookie="mailbot_board",
                             max_age=cfg.session_hours * 3600, same_site="lax",
                             https_only=cfg.public_url.startswith("https:"))]
    return Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: board.error})


def _networks(app: App, proxies: tuple[str, ...]) -> Networks:
    try:
        return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)
    except ValueError as e:
        raise ConfigError(f"{app.settings.source}: web.trusted_proxies: {e}") from None


def download(name: str, data: bytes, media_type: str = "application/pdf") -> Response:
    """A file to save (never shown inline: a mail's HTML must not run as our page); the Chinese file name as
    RFC 6266 allows it (filename*), with an ASCII fallback."""
    fallback = "document" + name[name.rfind("."):]
    return Response(data, media_type=media_type, headers={
        "content-disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"})


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


def trusted_peer(request: Request, proxies: Networks) -> bool:
    """Whether the connection comes from one of our reverse proxies (the TCP peer: `mailbot web` runs uvicorn
    without its proxy-header rewriting, so `request.client` is never taken from a header)."""
    if request.client is None:
        return False
    try:
        peer = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(peer in net for net in proxies)


def client_of(request: Request, proxies: Networks = ()) -> str:
    """Where a request comes from, for the rate limit and the records: the peer, or — through one of our proxies —
    the address that proxy appended to X-Forwarded-For (the last one: anything before it the client wrote)."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for", "")
    if forwarded and trusted_peer(request, proxies):
        peer = forwarded.rsplit(",", 1)[-1].strip() or peer
    return peer[:100]


class _Board:
    """The handlers, sharing the App; each reads what it shows through `pages` (scoped by the viewer)."""

    def __init__(self, app: App, proxies: Networks = (), show_link: Callable[[str, str], None] | None = None) -> None:
        self.app = app
        self.proxies = proxies
        self.show_link = show_link
        self.bodies = Bodies()

    # --- helpers ---------------------------------------------------------------------------------------

    def page(self, request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        if "csrf" not in request.session:
            request.session["csrf"] = secrets.token_urlsafe(32)
        flash = request.session.pop("flash", None)
        return HTMLResponse(render(name, csrf=request.session["csrf"], tz=self.app.tz, flash=flash,
                                   department=self.app.department, **ctx), status_code=status)

    def body(self, name: str, **ctx: Any) -> Body:
        """A page's title and main block, for `bodies` (they show no viewer and carry no token)."""
        return render_body(name, tz=self.app.tz, **ctx)

    def viewer(self, request: Request) -> Viewer | None:
        sso = self.sso_address(request)
        if sso is not None:
            return self.sso_viewer(request, sso)
        pid, unit, email = (request.session.get(k) for k in ("person", "leader", "email"))
        with self.app.sessions() as s:
            if isinstance(pid, int):
                return viewer_of(s, pid)
            if isinstance(unit, int) and isinstance(email, str):
                return leader_viewer(s, unit, email)
        return None

    def sso_address(self, request: Request) -> str | None:
        """The SSO header's address, if configured, present, and sent by a trusted proxy (else None)."""
        header = self.app.settings.web.trusted_user_header
        if not header or header not in request.headers:
            return None
        if not trusted_peer(request, self.proxies):
            log.warning("web: %s header from %s ignored (not a trusted proxy)", header, self.client(request))
            return None
        return request.headers[header].strip().lower()[:320]

    def client(self, request: Request) -> str:
        return client_of(request, self.proxies)

    def sso_viewer(self, request: Request, address: str) -> Viewer | None:
        """Who the proxy says; their first request in a session is recorded as a sign-in, as a link's is."""
        with transaction(self.app.sessions) as s:
            viewer = viewer_by_address(s, address)
            if viewer is not None and request.session.get("sso") != address:
                if viewer.person_id is not None:
                    s.add(WebAction(at=self.app.now(), person_id=viewer.person_id, client=self.client(request),
                                    action="signin", target=None, detail="sso"))
                log.info("web: signed in by the SSO header from %s", self.client(request))
                request.session.clear()
                request.session.update({"sso": address, "csrf": secrets.token_urlsafe(32)})
        return viewer

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
            ask_for_link(self.app, s, form.get("email", ""), self.client(request), self.show_link)
        # The same page whatever the address: known, unknown or rate-limited.
        return self.page(request, "signin.html.j2", viewer=None, sent=True,
                         minutes=self.app.settings.web.link_minutes)

    def signin_confirm(self, request: Request) -> Response:
        # A click, not the GET, spends the link: mail scanners that fetch links must not use it up.
        return self.page(request, "signin_confirm.html.j2", viewer=None, token=request.path_params["token"])

    def signin_redeem(self, request: Request, form: dict[str, str]) -> Response:
        with transaction(self.app.sessions) as s:
            pid = redeem(self.app, s, request.path_params["token"], self.client(request))
        if pid is None:
            return self.page(request, "error.html.j2", status=400, viewer=None,
                             message="登录链接无效、已使用或已过期，请重新申请。")
        request.session.clear()  # a fresh session: nothing of the anonymous one carries over
        request.session.update({**pid, "csrf": secrets.token_urlsafe(32)})
        return RedirectResponse("/month", status_code=303)

    def signout(self, request: Request, form: dict[str, str]) -> Response:
        request.session.clear()
        return self.to_signin()

    def month(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_signin()
        today = self.app.today()   # before the deadline a unit is 尚未报送, after it 未报送
        with self.app.sessions() as s:
            # By default the newest month whose request went out: before the 15th, this month has nothing yet.
            period = request.query_params.get("period") or next(iter(pages.reported_months(s, today)),
                                                                f"{today:%Y-%m}")
            if not PERIOD.fullmatch(period):
                raise HTTPException(404)
            title, main = self.bodies.get(
                ("month", viewer.scope, period), (pages.month_version(s), today),
                lambda: self.body("month.html.j2", **pages.month_page(self.app, s, viewer, period)))
        return self.page(request, "page.html.j2", viewer=viewer, title=title, main=main)

    def unit_month(self, request: Request) -> Response:
        period, code = self.param(request, "period", PERIOD), self.param(request, "code", CODE)
        return self.show(request, "unit_month.html.j2",
                         lambda s, v: pages.unit_month_page(self.app, s, v, period, code))

    def original_mail(self, request: Request) -> Response:
        sid = int(request.path_params["submission_id"])
        return self.file(request, lambda s, v: pages.original_mail(s, v, sid), "message/rfc822")

    def requests(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_signin()
        q = request.query_params
        assignee, unit, customer = q.get("assignee", "")[:320], q.get("unit", "")[:12], q.get("customer", "")[:20]
        closed = q.get("all") == "1"
        minute = self.app.now().replace(second=0, microsecond=0)   # a 诉求 falls overdue as time passes
        with self.app.sessions() as s:
            title, main = self.bodies.get(
                ("requests", viewer.scope, assignee, unit, customer, closed), (pages.board_version(s), minute),
                lambda: self.body("requests.html.j2", **pages.board_page(
                    self.app, s, viewer, assignee=assignee, unit=unit, customer=customer, include_closed=closed)))
        return self.page(request, "page.html.j2", viewer=viewer, title=title, main=main)

    def request(self, request: Request, problems: tuple[str, ...] = (), form: dict[str, str] | None = None,
                status: int = 200) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_signin()
        with self.app.sessions() as s:
            data = pages.request_page(self.app, s, viewer, request.path_params["number"])
            staff = [{"email": p.email, "name": p.name} for p in hq_staff(s)] if viewer.is_hq else []
        if data is None:
            raise HTTPException(404)
        return self.page(request, "request.html.j2", status=status, viewer=viewer, req=data, problems=problems,
                         form={"status": "", "answer": "", "note": "", "transfer": "", "review": "", **(form or {})},
                         statuses=FORM_STATUSES, staff=staff)

    def request_act(self, request: Request, form: dict[str, str]) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_signin()
        number = request.path_params["number"]
        done = act_on_request(self.app, viewer, number, self.client(request), status=form.get("status", ""),
                              answer=form.get("answer", ""), note=form.get("note", ""),
                              transfer=form.get("transfer", ""), review=form.get("review") == "1")
        if not done.found:
            raise HTTPException(404)
        if done.problems:
            return self.request(request, done.problems, form, status=400)
        log.info("web: %s acted on %s from %s: %s", viewer.email, number, self.client(request), done.note)
        request.session["flash"] = "已办理，相关邮件已进入发件队列。"
        return RedirectResponse(f"/requests/{number}", status_code=303)

    # --- the archive, visits, surveys, campaigns, bulletins ---------------------------------------------

    def show(self, request: Request, template: str, read: Callable[[Session, Viewer], dict[str, Any] | None],
             **ctx: Any) -> Response:
        """A page whose data `read(session, viewer)` gives — None for what the viewer may not see (404)."""
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_signin()
        with self.app.sessions() as s:
            data = read(s, viewer)
        if data is None:
            raise HTTPException(404)
        return self.page(request, template, viewer=viewer, **ctx, **data)

    def file(self, request: Request, read: Callable[[Session, Viewer], tuple[str, bytes] | None],
             media_type: str = "application/pdf") -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_signin()
        with self.app.sessions() as s:
            found = read(s, viewer)
        if found is None:
            raise HTTPException(404)
        return download(*found, media_type=media_type)

    def param(self, request: Request, name: str, pattern: re.Pattern[str]) -> str:
        value = str(request.path_params[name])
        if not pattern.fullmatch(value):
            raise HTTPException(404)
        return value

    def customers(self, request: Request) -> Response:
        query = request.query_params.get("q", "")
        return self.show(request, "customers.html.j2", lambda s, v: customers.customers_page(s, v, query))

    def customer(self, request: Request) -> Response:
        code = self.param(request, "code", CODE)

        def read(s: Session, v: Viewer) -> dict[str, Any] | None:
            a = customers.customer_archive_for(self.app, s, v, code)
            return None if a is None else {"a": a}
        return self.show(request, "customer.html.j2", read)

    def dossier(self, request: Request) -> Response:
        code = self.param(request, "code", CODE)

        def read(s: Session, v: Viewer) -> tuple[str, bytes] | None:
            a = customers.customer_archive_for(self.app, s, v, code)
            return None if a is None else customers.dossier_pdf(a)
        return self.file(request, read)

    def visits(self, request: Request) -> Response:
        return self.show(request, "visits.html.j2", lambda s, v: visits.visits_page(self.app, s, v))

    def visit(self, request: Request) -> Response:
        number = self.param(request, "number", NUMBER)
        return self.show(request, "visit.html.j2", lambda s, v: visits.visit_page(self.app, s, v, number))

    def surveys(self, request: Request) -> Response:
        return self.show(request, "surveys.html.j2", surveys.surveys_page)

    def survey_report(self, request: Request) -> Response:
        number = self.param(request, "number", NUMBER)
        return self.file(request, lambda s, v: surveys.survey_report(self.app, s, v, number))

    def campaigns(self, request: Request) -> Response:
        return self.show(request, "campaigns.html.j2", campaigns.campaigns_page)

    def campaign(self, request: Request) -> Response:
        number = self.param(request, "number", NUMBER)
        return self.show(request, "campaign.html.j2", lambda s, v: campaigns.campaign_page(self.app, s, v, number))

    def bulletins(self, request: Request) -> Response:
        return self.show(request, "bulletins.html.j2", bulletins.bulletins_page)

    def bulletin(self, request: Request) -> Response:
        mail_id = int(request.path_params["mail_id"])
        return self.file(request, lambda s, v: bulletins.bulletin_pdf(s, v, mail_id))
