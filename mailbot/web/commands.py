"""`mailbot web`: serve the board with uvicorn (loopback by default; the reverse proxy adds TLS in front).

Starlette and uvicorn are imported only when the command runs, so the rest of `mailbot` starts as fast as before.
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Callable

Add = Callable[..., argparse.ArgumentParser]   # cli's add(name, handler, help) → the subcommand's parser

_TOKEN = re.compile(r"/signin/[^\s\"?]+")


class _NoTokens(logging.Filter):
    """The access log names paths; a sign-in path carries a token, which no log may keep."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN.sub("/signin/…", a) if isinstance(a, str) else a for a in record.args)
        return True


def register(add: Add) -> None:
    sp = add("web", web, "serve the board (the month, the 诉求) on http://127.0.0.1:8080 (web.host, web.port)")
    sp.add_argument("--port", type=int, help="port (default: web.port, 8080)")
    sp.add_argument("--host", help="address to listen on (default: web.host, 127.0.0.1)")


def web(args: argparse.Namespace) -> int:
    import uvicorn

    from mailbot.app import open_app
    from mailbot.web.site import create_app

    app = open_app(args.config)
    board = create_app(app)
    logging.getLogger("uvicorn.access").addFilter(_NoTokens())
    uvicorn.run(board, host=args.host or app.settings.web.host, port=args.port or app.settings.web.port,
                log_config=None, server_header=False)
    return 0
