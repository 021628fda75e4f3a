"""Instant-message push for urgent matters: 企业微信, 钉钉 and 飞书 group robots, through the outbox.

A push is an outbox row like a mail (kind `push`, the channel's name as its recipient, the robot's JSON as its
bytes), so it has the mail's idempotency key and retries, and a robot that is down never holds up mail: its
failure is the row's (`DeliveryFailed`, retried with backoff), never the transport's.

The published formats (each robot's "custom robot" documentation):
- 企业微信: POST the webhook URL (`…/cgi-bin/webhook/send?key=…`) `{"msgtype": "markdown", "markdown": {"content"}}`;
  the answer `{"errcode": 0}` means accepted.
- 钉钉: POST the webhook URL (`…/robot/send?access_token=…`) `{"msgtype": "markdown", "markdown": {"title", "text"}}`;
  with 加签 the URL also carries `timestamp` (ms) and `sign` = url-quoted base64 HMAC-SHA256 of
  "timestamp\\nsecret" keyed by the secret; `{"errcode": 0}` means accepted.
- 飞书: POST the webhook URL `{"msg_type": "text", "content": {"text"}}`; with 签名校验 the body also carries
  `timestamp` (s) and `sign` = base64 HMAC-SHA256 of an empty message keyed by "timestamp\\nsecret";
  `{"code": 0}` means accepted.
The webhook URL (it holds the robot's key) and the secret come from the environment, never from a file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote_plus, urlsplit

from mailbot.db.models import OutboxMail
from mailbot.net.loopback import is_loopback
from mailbot.outbox.queue import DeliveryFailed, PermanentFailure, Transport

KINDS = ("wecom", "dingtalk", "feishu")
TIMEOUT = 10.0


@dataclass(frozen=True)
class Channel:
    """One robot: its kind, its name (the outbox row's recipient), how to get its URL and secret."""

    name: str
    kind: str
    url: Callable[[], str]
    secret: Callable[[], str | None]


def payload(kind: str, title: str, text: str) -> dict[str, object]:
    """The robot's message (before signing): a title line and the matter."""
    if kind == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": f"**{title}**\n{text}"}}
    if kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": f"#### {title}\n{text}"}}
    if kind == "feishu":
        return {"msg_type": "text", "content": {"text": f"{title}\n{text}"}}
    raise ValueError(f"unknown push kind {kind!r}")


def signed(kind: str, url: str, body: dict[str, object], secret: str | None,
           now: float) -> tuple[str, dict[str, object]]:
    """The URL and body as the robot wants them signed (unchanged without a secret, and for 企业微信)."""
    if not secret or kind == "wecom":
        return url, body
    if kind == "dingtalk":
        stamp = str(int(now * 1000))
        digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
        sign = quote_plus(base64.b64encode(digest).decode())
        return f"{url}{'&' if '?' in url else '?'}timestamp={stamp}&sign={sign}", body
    stamp = str(int(now))
    digest = hmac.new(f"{stamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return url, {"timestamp": stamp, "sign": base64.b64encode(digest).decode(), **body}


def check_url(url: str) -> None:
    """Robots are reached over HTTPS; plain HTTP only to this machine (the tests)."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.hostname or "")):
        raise ValueError(f"a push webhook must be https (got {parts.scheme}://{parts.hostname})")


class PushTransport:
    """Sends the outbox's push rows to their robots; `send` raises DeliveryFailed (retry) or PermanentFailure."""

    def __init__(self, channels: Mapping[str, Channel], clock: Callable[[], float] = time.time) -> None:
        self.channels, self.clock = dict(channels), clock

    def send(self, mail: OutboxMail) -> None:
        channel = self.channels.get(mail.recipients)
        if channel is None:
            raise PermanentFailure(f"no push channel {mail.recipients!r} in the settings")
        url = channel.url()
        check_url(url)
        url, body = signed(channel.kind, url, json.loads(mail.raw), channel.secret(), self.clock())
        request = urllib.request.Request(url, data=json.dumps(body, ensure_ascii=False).encode(),
                                         headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - https checked above
                answer = json.loads(response.read(65536) or b"{}")
        except urllib.error.HTTPError as e:
            failure = PermanentFailure if 400 <= e.code < 500 and e.code != 429 else DeliveryFailed
            raise failure(f"{channel.name}: HTTP {e.code}") from None
        except (OSError, ValueError) as e:
            raise DeliveryFailed(f"{channel.name}: {type(e).__name__}: {e}") from None
        code = answer.get("errcode", answer.get("code", 0)) if isinstance(answer, dict) else 0
        if code != 0:
            raise DeliveryFailed(f"{channel.name}: the robot answered {str(answer)[:200]}")


class Router:
    """The outbox's one transport: push rows to their robots, every other row to the mail transport."""

    def __init__(self, mail: Transport, push: PushTransport) -> None:
        self.mail, self.push = mail, push

    def send(self, row: OutboxMail) -> None:
        (self.push if row.kind == "push" else self.mail).send(row)
