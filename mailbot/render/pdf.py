"""HTML to PDF: the one place in mailbot that calls WeasyPrint.

Everything that becomes a PDF (the monthly bulletin, customer archives) is
rendered to an HTML string first and handed to `render_pdf`. The HTML carries
text copied from subsidiaries' emails, so even though templates escape it,
this module is the second wall: its URL fetcher refuses every URL except
`data:` URIs and, when a `base_dir` is given, `file:` URLs inside that
directory. Nothing is ever fetched over the network.

WeasyPrint is imported inside the functions because importing it takes about
a second, and CLI commands that never render must stay fast.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from mailbot.errors import MailbotError
from mailbot.render.mail import cn_date, cn_datetime

if TYPE_CHECKING:
    from weasyprint.urls import URLFetcher

log = logging.getLogger(__name__)


class BlockedURLError(MailbotError, ValueError):
    """A document asked for a resource this module does not fetch."""


def make_url_fetcher(base_dir: Path | None = None) -> URLFetcher:
    """Build the fetcher every render uses: `data:` only, plus `file:` under `base_dir`.

    WeasyPrint 70 accepts only `URLFetcher` instances (a plain function fails
    with AttributeError), so the rule lives in a subclass built here.
    """
    from weasyprint.urls import URLFetcher

    root = base_dir.resolve() if base_dir is not None else None

    class ConfinedURLFetcher(URLFetcher):  # type: ignore[misc]
        """Refuses any URL outside the allowed set before opening anything."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file" and root is not None and parts.netloc in ("", "localhost"):
                path = Path(url2pathname(parts.path)).resolve()
                # resolve() first, so "../" and symlinks cannot climb out.
                if path.is_relative_to(root):
                    return super().fetch(url, headers)
            log.warning("pdf: blocked resource url=%.200s", url)
            raise BlockedURLError(f"blocked resource: {url[:200]}")

    protocols = {"data", "file"} if root is not None else {"data"}
    # fail_on_errors stays False: a blocked image must not stop the bulletin.
    return ConfinedURLFetcher(allowed_protocols=protocols, allow_redirects=False, timeout=5)


def render_pdf(html: str, *, base_dir: Path | None = None) -> bytes:
    """Render an HTML document to PDF bytes; relative URLs resolve against `base_dir`."""
    from weasyprint import HTML

    base_url = base_dir.resolve().as_uri() + "/" if base_dir is not None else None
    document = HTML(string=html, base_url=base_url, url_fetcher=make_url_fetcher(base_dir))
    pdf: bytes = document.write_pdf()
    return pdf


def templates_dir() -> Path:
    """The project's `templates/` directory (mail and PDF templates)."""
    return Path(__file__).resolve().parents[2] / "templates"


def month_words(month: str) -> str:
    """"2027-03" (or a day, "2027-03-15") → "2027年3月": months kept as text read Chinese on the page."""
    year, number = month[:7].split("-")
    return f"{year}年{int(number)}月"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(templates_dir()), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(day=cn_date, stamp=cn_datetime, month=month_words)
    return env


def pdf_html(template: str, stylesheets: Sequence[str], **ctx: object) -> str:
    """A PDF's HTML from `templates/pdf/<template>`, the named stylesheets under `templates/pdf/` inlined as `css`
    (ours, so not escaped; everything in `ctx` is). Filters: `day` (2026年11月28日), `stamp` (… 14:05), `month` (2027年3月)."""
    css = Markup("\n".join((templates_dir() / "pdf" / name).read_text(encoding="utf-8") for name in stylesheets))
    return _environment().get_template(f"pdf/{template}").render(css=css, **ctx)
