"""Outgoing mail, rendered: every message the bot sends starts here.

Each mail `<name>` is three Jinja2 templates in ``templates/email/``:
``<name>.subject.j2`` (one line), ``<name>.txt.j2`` (the plain-text
alternative — canonical wherever a form is carried, because the parser reads
what the subsidiary sends back) and ``<name>.html.j2`` (the HTML alternative,
built on ``_layout.html.j2`` with inline styles only, because Outlook drops
most ``<style>`` rules). `render_mail` renders all three and returns them as
one `RenderedMail`; composing the MIME message, threading headers and
sending are the transports' business.

Much of what a mail shows was written by subsidiaries (answers, subjects,
names), so the HTML templates autoescape and the text ones do not. A variable
a template needs but the caller did not pass raises `jinja2.UndefinedError`:
a mail with a hole in it is a bug, never something to send.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "email"

# China has had no daylight saving time since 1991, so a fixed offset is exact
# and needs no tz database on the host.
CHINA_TZ = timezone(timedelta(hours=8), "CST")

# Mail names are plain words; names starting with "_" are shared parts
# (layouts, macros), never mails of their own.
_MAIL_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class RenderedMail:
    """One mail ready to be put into MIME parts."""

    subject: str  # one line, whitespace collapsed
    text: str  # plain-text alternative
    html: str  # HTML alternative


def render_mail(name: str, **ctx: object) -> RenderedMail:
    """Render the subject, text and HTML templates of mail `name` with `ctx`.

    Context objects may be dataclasses or dicts; templates read them with
    attribute syntax, which Jinja resolves for both.
    """
    if not _MAIL_NAME.fullmatch(name):
        raise ValueError(f"not a mail template name: {name!r}")
    env = _environment()
    subject = " ".join(env.get_template(f"{name}.subject.j2").render(ctx).split())
    # The HTML <title> shows the subject; the caller never passes it.
    body_ctx = {**ctx, "mail_subject": subject}
    text = env.get_template(f"{name}.txt.j2").render(body_ctx).rstrip() + "\n"
    html = env.get_template(f"{name}.html.j2").render(body_ctx).strip() + "\n"
    return RenderedMail(subject=subject, text=text, html=unbroken_codes(html))


# Our numbers — 报告编号, 诉求, visits and their follow-ups — must never wrap across lines on a phone.
_CODE = re.compile(r"(?<![\w-])(?:KCR-\d{6}-[A-Z0-9]{2,12}(?:-[0-9A-F]{4})?|SQ-\d{4}-\d{4}|VIS-\d{4}-\d{4}(?:-\d+)?)(?![\w-])")
_TAG = re.compile(r"(<[^>]*>)")


def unbroken_codes(html: str) -> str:
    """Each of our numbers in the text of `html` (not in a tag or an attribute) kept on one line."""
    if not _CODE.search(html):
        return html
    parts = _TAG.split(html)
    inside_title = False
    for i, part in enumerate(parts):
        if i % 2:  # a tag
            inside_title = part.lower().startswith("<title") or (inside_title and not part.lower().startswith("</title"))
        elif not inside_title:
            parts[i] = _CODE.sub(r'<span style="white-space:nowrap;">\g<0></span>', part)
    return "".join(parts)


def cn_date(value: date) -> str:
    """2026-11-28 → "2026年11月28日" (an aware datetime is shown in China time)."""
    if isinstance(value, datetime):
        value = _china_time(value)
    if not isinstance(value, date):
        raise TypeError(f"cn_date needs a date, got {type(value).__name__}")
    return f"{value.year}年{value.month}月{value.day}日"


def cn_datetime(value: datetime) -> str:
    """2026-11-28 14:05 → "2026年11月28日 14:05" (aware values in China time, naive as given)."""
    if not isinstance(value, datetime):
        raise TypeError(f"cn_datetime needs a datetime, got {type(value).__name__}")
    value = _china_time(value)
    return f"{cn_date(value)} {value:%H:%M}"


def _china_time(value: datetime) -> datetime:
    # Stored times are usually aware UTC; readers are all in China.
    return value.astimezone(CHINA_TZ) if value.tzinfo is not None else value


def _autoescape(template_name: str | None) -> bool:
    # Only the HTML alternatives escape; subjects and plain text must stay literal.
    return template_name is not None and template_name.endswith(".html.j2")


_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|回复|答复|转发)\s*[:：]|【请修改后重发】)\s*", re.IGNORECASE)
_URGENT_MARK = re.compile(r"【紧急】|\[紧急\]|紧急\s*[:：]|\[URGENT\]|^URGENT\b\s*[:：]?", re.IGNORECASE)


def bare_subject(subject: str, *, drop_urgent: bool = False) -> str:
    """A subject without its stack of 回复：/Re: prefixes (we add exactly one), and optionally without
    urgent markers — so a reply to our urgent acknowledgement is not itself taken as a new urgent mail."""
    while (m := _REPLY_PREFIX.match(subject)) is not None:
        subject = subject[m.end():]
    if drop_urgent:
        subject = _URGENT_MARK.sub("", subject).strip()
    return subject.strip()


def mailto(address: str, subject: str, body: str = "") -> str:
    """A mailto: link (RFC 6068) that opens a reply to `address` with this subject and body already written."""
    query = f"subject={quote(subject, safe='')}" + (f"&body={quote(body, safe='')}" if body else "")
    return f"mailto:{quote(address, safe='@')}?{query}"


@functools.cache
def _environment() -> Environment:
    """The one Jinja2 environment for mail, built on first use."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=_autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["cn_date"] = cn_date
    env.filters["cn_datetime"] = cn_datetime
    env.filters["bare_subject"] = bare_subject
    env.filters["mailto"] = mailto
    return env
