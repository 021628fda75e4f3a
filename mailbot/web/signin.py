"""Sign-in by e-mail: a person in the directory asks for a link, the bot mails it, the link signs them in once.

The link carries 256 random bits; the database keeps only their SHA-256, so neither a backup nor a look at the
table signs anybody in. A link works once (the UPDATE that spends it is conditional, so two clicks racing cannot
both win), for `web.link_minutes`, and only for the person it was mailed to. Asking answers the same whatever the
address — known, unknown, a customer's, rate-limited — so the page cannot be used to learn who is registered.
Every request is counted (`WebSignin`), known address or not, per address and per client, over the last hour.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.db.models import Person, WebAction, WebLink, WebSignin
from mailbot.outbox.compose import Draft
from mailbot.outbox.queue import enqueue
from mailbot.web.render import render
from mailbot.web.scope import ROLES

log = logging.getLogger(__name__)

MAX_ADDRESS = 320


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ask_for_link(app: App, s: Session, address: str, client: str) -> None:
    """Record the request and, for a directory person within the limits, queue the mail with a fresh link.

    Nothing is returned on purpose: the caller shows one page whatever happened here.
    """
    now = app.now()
    address = address.strip().lower()[:MAX_ADDRESS]
    cfg = app.settings.web
    hour_ago = now - timedelta(hours=1)
    by_address = s.scalar(select(func.count()).select_from(WebSignin)
                          .where(WebSignin.address == address, WebSignin.at > hour_ago)) or 0
    by_client = s.scalar(select(func.count()).select_from(WebSignin)
                         .where(WebSignin.client == client, WebSignin.at > hour_ago)) or 0
    s.add(WebSignin(at=now, address=address, client=client))
    if by_address >= cfg.signins_per_address or by_client >= cfg.signins_per_client:
        log.warning("web sign-in: rate limit reached (address or client %s)", client)
        return
    person = s.scalar(select(Person).where(Person.email == address, Person.active.is_(True),
                                           Person.role.in_(ROLES)))
    if person is None or (person.role == "contact" and person.unit_id is None):
        return
    token = secrets.token_urlsafe(32)
    link = WebLink(token_hash=digest(token), person_id=person.id, created_at=now,
                   expires_at=now + timedelta(minutes=cfg.link_minutes), client=client)
    s.add(link)
    s.flush()
    url = f"{cfg.public_url.rstrip('/')}/signin/{token}"
    enqueue(s, key=f"web-signin:{link.id}", kind="web_signin", draft=signin_mail(app, person, url, link.expires_at),
            sender=app.identity, now=now)
    log.info("web sign-in: link %s queued for person %s", link.id, person.id)  # never the token


def signin_mail(app: App, person: Person, url: str, expires_at: datetime) -> Draft:
    ctx = {"name": person.name, "url": url, "minutes": app.settings.web.link_minutes, "expires_at": expires_at,
           "department": app.department, "tz": app.tz}
    subject = " ".join(render("mail_signin.subject.j2", **ctx).split())
    return Draft(to=[person.email], subject=subject, text=render("mail_signin.txt.j2", **ctx),
                 html=render("mail_signin.html.j2", **ctx))


def redeem(app: App, s: Session, token: str, client: str) -> int | None:
    """The person a link signs in, spending it; None for a link unknown, used, or expired."""
    now = app.now()
    link = s.scalar(select(WebLink).where(WebLink.token_hash == digest(token)))
    if link is None or link.used_at is not None or link.expires_at <= now:
        return None
    spent = s.execute(update(WebLink).where(WebLink.id == link.id, WebLink.used_at.is_(None))
                      .values(used_at=now, used_from=client)
                      .execution_options(synchronize_session=False))
    if spent.rowcount != 1:  # type: ignore[attr-defined]  # another click won the race
        return None
    person = s.scalar(select(Person).where(Person.id == link.person_id, Person.active.is_(True)))
    if person is None:
        return None
    s.add(WebAction(at=now, person_id=person.id, client=client, action="signin", target=None,
                    detail=f"link {link.id}"))
    return person.id
