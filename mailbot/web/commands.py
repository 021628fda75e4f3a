"""`mailbot web`: serve the board with uvicorn (loopback by default; the reverse proxy adds TLS in front).

Starlette and uvicorn are imported only when the command runs, so the rest of `mailbot` starts as fast as before.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import secrets
import sys
from collections.abc import Callable

Add = Callable[..., argparse.ArgumentParser]   # cli's add(name, handler, help) → the subcommand's parser

_TOKEN = re.compile(r"/signin/[^\s\"?]+")


class _NoTokens(logging.Filter):
    """The access log names paths; a sign-in path carries a token, which no log may keep."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN.sub("/signin/…", a) if isinstance(a, str) else a for a in record.args)
        return True


def _print_link(address: str, url: str) -> None:
    print(f"demo mode: sign-in link for {address}: {url}", file=sys.stderr, flush=True)


def register(add: Add) -> None:
    sp = add("web", web, "serve the board (the month, 诉求, customers, visits, surveys, campaigns, bulletins) on "
                         "http://127.0.0.1:8080 (web.host, web.port)")
    sp.add_argument("--port", type=int, help="port (default: web.port, 8080)")
    sp.add_argument("--host", help="address to listen on (default: web.host, 127.0.0.1)")


def web(args: argparse.Namespace) -> int:
    import uvicorn

    from mailbot.app import open_app
    from mailbot.daemon.preflight import example_directory_in_force
    from mailbot.web.site import create_app

    app = open_app(args.config)
    if not example_directory_in_force(app.settings):
        board = create_app(app)
    else:  # demo mode: the example people's mail reaches no one, so their links are shown here
        secret = os.environ.get(app.settings.web.secret_env) or secrets.token_urlsafe(32)   # sessions end with it
        board = create_app(app, secret=secret, show_link=_print_link)
        print(f"demo mode (the example directory): sign in as e.g. liuyang@hq.example.cn (HQ) or "
              f"liming@gd.example.cn (广东分公司) at http://{args.host or app.settings.web.host}:"
              f"{args.port or app.settings.web.port}/signin — the link is printed here", file=sys.stderr, flush=True)
    logging.getLogger("uvicorn.access").addFilter(_NoTokens())
    # proxy_headers off: the board itself decides which peers are our proxies (web.trusted_proxies) and reads
    # X-Forwarded-For and the SSO header only from them; uvicorn's rewriting would hide the peer it checks.
    uvicorn.run(board, host=args.host or app.settings.web.host, port=args.port or app.settings.web.port,
                log_config=None, server_header=False, proxy_headers=False)
    return 0
