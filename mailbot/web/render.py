"""Jinja2 for the board's pages and its one mail (the sign-in link), from templates/web/.

Autoescape is on for every template, whatever its name: most of what the board shows was written by units and
customers, so nothing reaches the page unescaped (no template uses `|safe`).
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "web"


@functools.cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    return env


@pass_context
def _when(ctx: Context, t: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in the settings' time zone (every page is rendered with `tz`)."""
    tz: ZoneInfo = ctx["tz"]
    return t.astimezone(tz).strftime(fmt) if t else ""


def render(template: str, /, **ctx: object) -> str:
    return environment().get_template(template).render(ctx)


def render_body(template: str, /, **ctx: object) -> tuple[Markup, Markup]:
    """A page's `title` and `main` blocks alone (the body `cache.Bodies` keeps); `page.html.j2` lays them out.

    What they hold was escaped while they were rendered here, so they go into the layout as they are."""
    t = environment().get_template(template)
    context = t.new_context(dict(ctx))
    return (Markup("".join(t.blocks["title"](context)).strip()), Markup("".join(t.blocks["main"](context))))
