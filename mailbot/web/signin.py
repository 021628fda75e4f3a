"""Sign-in by e-mail: a person in the directory asks for a link, the bot mails it, the link signs them in once.

The link carries 256 random bits; the database keeps only their SHA-256, so neither a backup nor a look at the
table signs anybody in. A link works once (the UPDATE that spends it is conditional, so two clicks racing cannot
both win), for `web.link_minutes`, and only for the person it was mailed to. Asking answers the same whatever the
address — known, unknown, a customer's, rate-limited — so the page cannot be used to learn who is registered.
Every request is counted (`WebSignin`), known address or not, per address and per client, over the last hour.

A unit's 单位负责人 is no person row (the directory keeps them on the unit), so their link cannot be a `WebLink`
row, whose person is required: it is a row of the durable key-value state instead — `web-leader-link:<hash>`
holding the unit, the address, the expiry and, once spent, when and from where — spent by the same kind of
conditional UPDATE (on the row's whole value). The sign-in record a person's `WebAction` keeps is that row.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailbot.app import App
from mailbot.db.models import KeyValue, Person, WebAction, WebLink, WebSignin
from mailbot.outbox.compose import Draft
from mailbot.outbox.queue import enqueue
from mailbot.web.render import render
from mailbot.web.scope import ROLES, leader_unit

log = logging.getLogger(__name__)

MAX_ADDRESS = 320
LEADER_LINK = "web-leader-link:"   # + the token's SHA-256

Signed = dict[str, object]   # what the session keeps of who signed in: {"person": id}, {"leader": unit id, "email": …}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ask_for_link(app: App, s: Session, address: str, client: str,
                 show: Callable[[str, str], None] | None = None) -> None:
    """Record the request and, for a directory person or a unit leader within the limits, queue a fresh link.

    Nothing is returned on purpose: the caller shows one page whatever happened here. `show(address, url)`, in
    demo mode only, also hands the link to the terminal: the example people's mail goes nowhere.
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
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(minutes=cfg.link_minutes)
    url = f"{cfg.public_url.rstrip('/')}/signin/{token}"
    person = s.scalar(select(Person).where(Person.email == address, Person.active.is_(True)))
    if person is not None and person.role in ROLES and (person.role == "hq" or person.unit_id is not None):
        link = WebLink(token_hash=digest(token), person_id=person.id, created_at=now, expires_at=expires,
                       client=client)
        s.add(link)
        s.flush()
        enqueue(s, key=f"web-signin:{link.id}", kind="web_signin",
                draft=signin_mail(app, person.name, person.email, url, expires), sender=app.identity, now=now)
        log.info("web sign-in: link %s queued for person %s", link.id, person.id)  # never the token
        if show is not None:
            show(address, url)
        return
    unit = leader_unit(s, address) if person is None else None   # a customer's contact is never a leader here
    if unit is None:
        return
    key = LEADER_LINK + digest(token)
    s.add(KeyValue(key=key, updated_at=now, value=json.dumps(
        {"unit": unit.id, "email": address, "expires_at": expires.isoformat(), "client": client, "used_at": None,
         "used_from": None})))
    enqueue(s, key=f"web-signin:leader:{secrets.token_hex(8)}", kind="web_signin",   # nothing of the token
            draft=signin_mail(app, unit.leader_name or address, address, url, expires), sender=app.identity, now=now)
    log.info("web sign-in: link queued for the leader of unit %s", unit.code)
    if show is not None:
        show(address, url)


def signin_mail(app: App, name: str, email: str, url: str, expires_at: datetime) -> Draft:
    ctx = {"name": name, "url": url, "minutes": app.settings.web.link_minutes, "expires_at": expires_at,
           "department": app.department, "tz": app.tz}
    subject = " ".join(render("mail_signin.subject.j2", **ctx).split())
    return Draft(to=[email], subject=subject, text=render("mail_signin.txt.j2", **ctx),
                 html=render("mail_signin.html.j2", **ctx))


def redeem(app: App, s: Session, token: str, client: str) -> Signed | None:
    """Who a link signs in, spending it; None for a link unknown, used, or expired."""
    now = app.now()
    link = s.scalar(select(WebLink).where(WebLink.token_hash == digest(token)))
    if link is None:
        return _redeem_leader(app, s, token, client)
    if link.used_at is not None or link.expires_at <= now:
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
    return {"person": person.id}


def _redeem_leader(app: App, s: Session, token: str, client: str) -> Signed | None:
    now = app.now()
    row = s.get(KeyValue, LEADER_LINK + digest(token))
    if row is None:
        return None
    old = row.value
    data = json.loads(old)
    if data["used_at"] is not None or datetime.fromisoformat(data["expires_at"]) <= now:
        return None
    new = json.dumps({**data, "used_at": now.isoformat(), "used_from": client})
    spent = s.execute(update(KeyValue).where(KeyValue.key == row.key, KeyValue.value == old)
                      .values(value=new, updated_at=now).execution_options(synchronize_session=False))
    if spent.rowcount != 1:  # type: ignore[attr-defined]  # another click won the race
        return None
    log.info("web sign-in: the leader of unit id %s signed in from %s", data["unit"], client)
    return {"leader": int(data["unit"]), "email": str(data["email"])}
