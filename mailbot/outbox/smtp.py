"""The SMTP transport: hands queued mail to the group's mail server (Postfix, Exchange, Microsoft 365).

`send_pending` (outbox/queue.py) calls `send(mail)` once per due row. This
module turns the row into one SMTP transaction — MAIL FROM the bot's address,
RCPT TO each envelope recipient, DATA with the row's bytes exactly as composed
— and says how it went in the only words the outbox understands: return
(delivered), `PermanentFailure` (this mail can never go; mark it dead), or any
other exception (try again later, with backoff).

How replies are classified, and why:

* 5xx to RCPT for every recipient, 5xx to DATA, 552 to MAIL (too big for this
  server) → `SmtpRefused`, a `PermanentFailure`: it is about *this* mail.
* 4xx anywhere, 421, a connection lost or timed out → `SmtpDeferred`: temporary.
* Anything that would fail the same way for *every* mail — cannot connect, no
  STARTTLS offered, certificate not trusted, a password or token that cannot
  be read, AUTH refused (535), 5xx to MAIL FROM (our sender address, e.g.
  Microsoft 365 "not allowed to send as") → `SmtpUnavailable`: the outbox
  stops the pass without counting an attempt, and logs it as an ERROR
  (`needs_operator`) unless the server is merely unreachable; never a reason
  to give a mail up. It also opens a short breaker (`cooldown`):
  the rest of a pass fails at once instead of each mail waiting out its own
  timeout, or logging in again with a wrong password until the account locks.
* Some recipients accepted, others refused: the mail *was* sent to the accepted
  ones, so `send` returns normally (raising would resend to them) and leaves
  the refusals in `last_refused` for the caller to report.

Sending twice. Each `send` call submits the message at most once: the only
retry inside it replaces a kept-alive connection the server had closed, and
happens before MAIL FROM was accepted, so the server holds no transaction yet.
Across calls, idempotency is the outbox's job (one row per idempotency key,
marked sent in the transaction around `send`). One window remains: the server
accepts DATA, then the bot crashes — or the connection drops before the "250"
arrives — before the row is marked sent; the next pass sends it again. The
copy carries the same Message-ID, so the recipient's client threads (most also
fold) it with the first, and the report number in the subject matches.

Secrets are callables, read at each login and never logged or kept on the
connection; `check()` proves connect, TLS, AUTH and the sender address for
`mailbot check-config` without sending anything.
"""

from __future__ import annotations

import base64
import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Literal

from mailbot.db.models import OutboxMail
from mailbot.errors import MailbotError
from mailbot.net.loopback import is_loopback
from mailbot.outbox.queue import DeliveryFailed, PermanentFailure, TransportUnavailable

log = logging.getLogger(__name__)

Security = Literal["tls", "starttls", "plain"]
Stage = Literal["connect", "tls", "auth", "mail", "rcpt", "data"]
Check = tuple[str, bool, str]

# Reply codes the transport acts on by name (RFC 5321 §4.2, RFC 3207, RFC 4954).
READY = 220               # "go ahead" to STARTTLS (smtplib checks the greeting itself)
AUTH_OK = 235
OK = 250
FORWARDED = 251           # "user not local; will forward": accepted
AUTH_CONTINUE = 334       # a challenge, or Microsoft 365's XOAUTH2 error detail
CLOSING = 421             # the server is closing the connection: drop it, try later
EXCEEDED_STORAGE = 552    # at MAIL with SIZE=: this message is too big for this server, for good
PERMANENT = 500           # 5xx and up: do not repeat the same request

_REPLY_CHARS = 300        # server texts are kept short in last_error and logs


class SmtpError(MailbotError):
    """A failure with the SMTP stage it happened at and the server's reply code, when there was one."""

    def __init__(self, stage: Stage, code: int | None, text: str) -> None:
        self.stage, self.code, self.text = stage, code, text
        super().__init__(f"{stage.upper()}: {code} {text}" if code is not None else f"{stage.upper()}: {text}")


class SmtpDeferred(SmtpError, DeliveryFailed):
    """A temporary refusal (4xx, 421) or a transaction cut short: the outbox tries again later."""


class SmtpUnavailable(SmtpError, TransportUnavailable):
    """No usable session — unreachable, TLS, AUTH, or our sender refused: the same for every mail."""

    @property
    def needs_operator(self) -> bool:  # type: ignore[override]
        return not (self.stage == "connect" and self.code is None)  # anything but an outage is a setting


class SmtpRefused(SmtpError, PermanentFailure):
    """The server (or its advertised limits) refuses this mail for good."""


@dataclass(frozen=True)
class Refusal:
    """A recipient the server refused while accepting the mail for others."""

    address: str
    code: int
    text: str


class _Dropped(Exception):
    """The kept-alive connection was gone before MAIL FROM was accepted: safe to reconnect once."""


def envelope_recipients(recipients: str) -> list[str]:
    """The addr-specs of the outbox's comma-separated recipients, each once, in order."""
    return list(dict.fromkeys(addr for _, addr in getaddresses([recipients]) if addr))


def _text(reply: bytes | str) -> str:
    s = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(s.split())[:_REPLY_CHARS]


class SmtpTransport:
    """One SMTP submission account, one connection kept alive across the sends of a pass.

    Not thread-safe: one sender at a time (the outbox job runs with max_instances=1); check() uses its own connection.
    """

    def __init__(self, *, host: str, port: int, envelope_from: str, security: Security = "starttls",
                 username: str | None = None, password: Callable[[], str] | None = None,
                 oauth_token: Callable[[], str] | None = None, ssl_context: ssl.SSLContext | None = None,
                 timeout: float = 30, local_hostname: str | None = None, cooldown: float = 30) -> None:
        if security not in ("tls", "starttls", "plain"):
            raise ValueError(f"outbox.security: must be tls, starttls or plain, not {security!r}")
        if security == "plain" and not is_loopback(host):
            raise ValueError(f"outbox.security: 'plain' sends mail and passwords in clear and is allowed "
                             f"only to a loopback host, not {host!r}; use 'starttls' or 'tls'")
        if password is not None and oauth_token is not None:
            raise ValueError("outbox: give a password or oauth2, not both")
        if (password is not None or oauth_token is not None) != (username is not None):
            raise ValueError("outbox.username: needed with a password or oauth2, and only then")
        if "@" not in envelope_from or not envelope_from.isascii() or any(c in envelope_from for c in " <>,"):
            raise ValueError(f"identity.address (the envelope sender): not a plain ASCII address: {envelope_from!r}")
        if timeout <= 0:
            raise ValueError("outbox.timeout: must be positive")
        self.host, self.port, self.security = host, port, security
        self.envelope_from = envelope_from
        self.username = username
        self.timeout, self.local_hostname, self.cooldown = timeout, local_hostname, cooldown
        self._password, self._oauth_token = password, oauth_token
        self._context = ssl_context or ssl.create_default_context()
        self._smtp: smtplib.SMTP | None = None
        self._down_until = 0.0
        self._down: SmtpUnavailable | None = None
        self.last_refused: tuple[Refusal, ...] = ()  # set by every send(): recipients refused while others got it

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    # --- delivery -------------------------------------------------------------------------------

    def send(self, mail: OutboxMail) -> None:
        """Submit one queued mail; raise SmtpRefused (permanent) or another exception (temporary)."""
        self.last_refused = ()
        rcpts = envelope_recipients(mail.recipients)
        if not rcpts:
            raise SmtpRefused("rcpt", None, f"no recipient address in {mail.recipients!r}")
        smtp, reused = self._session()
        try:
            self._transact(smtp, mail, rcpts)
        except _Dropped as e:
            self._drop()
            if not reused:
                raise SmtpDeferred("mail", None, f"connection lost: {e}") from e
            log.debug("msg=%s smtp %s had closed the kept connection; reconnecting", mail.message_id, self.where)
            smtp, _ = self._session()
            try:
                self._transact(smtp, mail, rcpts)
            except _Dropped as again:
                self._drop()
                raise SmtpDeferred("mail", None, f"connection lost: {again}") from again

    def close(self) -> None:
        """Say QUIT and forget the connection; the next send opens a new one."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass  # it is going away either way
        self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        self._smtp = None

    def _session(self) -> tuple[smtplib.SMTP, bool]:
        """The kept connection, or a new one unless the breaker is open; True when reused."""
        if self._smtp is not None:
            return self._smtp, True
        wait = self._down_until - time.monotonic()
        if self._down is not None and wait > 0:
            d = self._down
            raise SmtpUnavailable(d.stage, d.code, f"{d.text} (not trying again for {wait:.0f} s)")
        try:
            self._smtp = self._open()
        except SmtpUnavailable as e:
            self._trip(e)
            raise
        self._down = None
        return self._smtp, False

    def _trip(self, e: SmtpUnavailable) -> None:
        """Every mail would fail like this one: stop trying for `cooldown` seconds.

        send_pending logs the stop once per pass (an error when `e.needs_operator`), so nothing is logged here.
        """
        self._drop()
        self._down, self._down_until = e, time.monotonic() + self.cooldown
        log.debug("smtp %s unusable for %.0f s: %s", self.where, self.cooldown, e)

    def _transact(self, smtp: smtplib.SMTP, mail: OutboxMail, rcpts: list[str]) -> None:
        msg = mail.message_id
        options = self._mail_options(smtp, mail, rcpts)
        try:
            code, reply = smtp.mail(self.envelope_from, options)
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            raise _Dropped(str(e)) from e
        if code == CLOSING:
            raise _Dropped(f"{code} {_text(reply)}")
        if code != OK:
            self._reset(smtp)
            if code == EXCEEDED_STORAGE:
                raise SmtpRefused("mail", code, _text(reply))
            if code >= PERMANENT:
                refusal = SmtpUnavailable("mail", code, _text(reply))  # our sender, not this mail
                self._trip(refusal)
                raise refusal
            raise SmtpDeferred("mail", code, _text(reply))

        accepted: list[str] = []
        refused: list[Refusal] = []
        for rcpt in rcpts:
            code, reply = self._command(smtp, "rcpt", lambda: smtp.rcpt(rcpt))
            if code in (OK, FORWARDED):
                accepted.append(rcpt)
            else:
                refused.append(Refusal(rcpt, code, _text(reply)))
        if not accepted:
            self._reset(smtp)
            detail = "; ".join(f"{r.address}: {r.code} {r.text}" for r in refused)
            if all(r.code >= PERMANENT for r in refused):
                raise SmtpRefused("rcpt", refused[0].code, detail)
            raise SmtpDeferred("rcpt", next(r.code for r in refused if r.code < PERMANENT), detail)

        try:
            code, reply = smtp.data(mail.raw)
        except smtplib.SMTPDataError as e:  # DATA itself refused (no 354): nothing was sent
            self._reset(smtp)
            raise (SmtpRefused if e.smtp_code >= PERMANENT else SmtpDeferred)("data", e.smtp_code,
                                                                              _text(e.smtp_error)) from e
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            self._drop()
            log.warning("msg=%s smtp %s: connection lost during DATA; the server may have accepted it, "
                        "so the retry may deliver a second copy", msg, self.where)
            raise SmtpDeferred("data", None, f"connection lost during DATA, outcome unknown: {e}") from e
        if code != OK:
            if code == CLOSING:
                self._drop()
            raise (SmtpRefused if code >= PERMANENT else SmtpDeferred)("data", code, _text(reply))
        if refused:
            self.last_refused = tuple(refused)
            log.warning("msg=%s smtp %s: sent to %s; refused %s", msg, self.where, ", ".join(accepted),
                        "; ".join(f"{r.address} ({r.code} {r.text})" for r in refused))
        log.debug("msg=%s smtp %s accepted: %s", msg, self.where, _text(reply))

    def _command(self, smtp: smtplib.SMTP, stage: Stage,
                 call: Callable[[], tuple[int, bytes]]) -> tuple[int, bytes]:
        """One command inside a transaction; a lost connection or 421 abandons it (temporary)."""
        try:
            code, reply = call()
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            self._drop()
            raise SmtpDeferred(stage, None, f"connection lost: {e}") from e
        if code == CLOSING:
            self._drop()
            raise SmtpDeferred(stage, code, _text(reply))
        return code, reply

    def _reset(self, smtp: smtplib.SMTP) -> None:
        """End a refused transaction so the kept connection is clean for the next mail."""
        try:
            code, _ = smtp.rset()
        except (smtplib.SMTPException, OSError):
            code = 0
        if code != OK:
            self._drop()

    def _mail_options(self, smtp: smtplib.SMTP, mail: OutboxMail, rcpts: list[str]) -> list[str]:
        """MAIL FROM parameters the message needs and the server offers; refuse what can never pass."""
        options: list[str] = []
        size = len(mail.raw)
        if smtp.has_extn("size"):
            limit = smtp.esmtp_features.get("size", "").strip()
            if limit.isdigit() and 0 < int(limit) < size:
                raise SmtpRefused("mail", None, f"the message is {size} bytes; {self.where} accepts at most {limit}")
            options.append(f"SIZE={size}")
        if not mail.raw.isascii():
            if smtp.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
            else:  # rare today; such servers pass 8-bit bodies through in practice
                log.warning("msg=%s smtp %s does not offer 8BITMIME; sending the 8-bit body anyway",
                            mail.message_id, self.where)
        if not all(r.isascii() for r in rcpts):
            if not smtp.has_extn("smtputf8"):
                raise SmtpRefused("rcpt", None, f"a recipient address is not ASCII and {self.where} "
                                                "does not offer SMTPUTF8")
            options.append("SMTPUTF8")
        return options

    # --- the session: connect, TLS, AUTH --------------------------------------------------------

    def _open(self, steps: list[Check] | None = None) -> smtplib.SMTP:
        """A connected, encrypted, authenticated session; SmtpUnavailable names the stage that failed."""
        stage: Stage = "connect"
        smtp: smtplib.SMTP | None = None
        try:
            # Given the host, the constructor connects (and for "tls" shakes hands) and checks the 220 greeting.
            if self.security == "tls":
                smtp = smtplib.SMTP_SSL(self.host, self.port, local_hostname=self.local_hostname,
                                        timeout=self.timeout, context=self._context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout)
            smtp.ehlo_or_helo_if_needed()
            greeting = (smtp.ehlo_resp or smtp.helo_resp or b"").split(b"\n")[0]
            _step(steps, f"connect {self.where}", _text(greeting))
            if self.security == "starttls":
                stage = "tls"
                if not smtp.has_extn("starttls"):
                    raise SmtpUnavailable("tls", None, "the server does not offer STARTTLS; not sending in clear")
                code, reply = smtp.starttls(context=self._context)
                if code != READY:
                    raise smtplib.SMTPResponseException(code, reply)
                smtp.ehlo()
            if steps is not None:
                steps.append((f"TLS ({self.security})", True, self._tls_state(smtp)))
            stage = "auth"
            mechanism = self._login(smtp)
            _step(steps, "AUTH", f"{mechanism} as {self.username}" if mechanism else "not configured")
        except SmtpUnavailable:
            if smtp is not None:
                smtp.close()
            raise
        except MailbotError as e:  # the secret or OAuth token could not be had: a setting, never this mail
            if smtp is not None:
                smtp.close()
            raise SmtpUnavailable(stage, None, str(e)) from None
        except smtplib.SMTPResponseException as e:
            if smtp is not None:
                smtp.close()
            raise SmtpUnavailable(stage, e.smtp_code, _text(e.smtp_error)) from e
        except (smtplib.SMTPException, OSError) as e:  # refused, reset, timed out, TLS and certificate errors
            if smtp is not None:
                smtp.close()
            failed: Stage = "tls" if isinstance(e, ssl.SSLError) else stage
            raise SmtpUnavailable(failed, None, f"{type(e).__name__}: {e}") from e
        log.info("smtp connected to %s (%s%s)", self.where, self.security,
                 f", AUTH {mechanism} as {self.username}" if mechanism else "")
        return smtp

    def _tls_state(self, smtp: smtplib.SMTP) -> str:
        if not isinstance(smtp.sock, ssl.SSLSocket):
            return "none: plain is allowed to a loopback host only"
        verified = self._context.verify_mode == ssl.CERT_REQUIRED and self._context.check_hostname
        return f"{smtp.sock.version()}, certificate {'verified' if verified else 'NOT verified (ssl_context)'}"

    def _login(self, smtp: smtplib.SMTP) -> str | None:
        """AUTH with one mechanism only, so a wrong password costs one failed login, not three."""
        if self.username is None:
            return None
        offered = smtp.esmtp_features.get("auth", "").upper().split()
        if self._oauth_token is not None:
            mechanism: str | None = "XOAUTH2" if "XOAUTH2" in offered else None
        else:
            mechanism = next((m for m in ("PLAIN", "LOGIN") if m in offered), None)
        if mechanism is None:
            wanted = "XOAUTH2" if self._oauth_token is not None else "PLAIN or LOGIN"
            raise SmtpUnavailable("auth", None, f"the server offers AUTH {' '.join(offered) or '(none)'}, "
                                                f"not {wanted}")
        user = self.username
        if mechanism == "XOAUTH2":
            assert self._oauth_token is not None
            # On failure the server sends its JSON error as a challenge; an empty answer ends the exchange.
            _auth(smtp, mechanism, _b64(f"user={user}\x01auth=Bearer {self._oauth_token()}\x01\x01"), "")
        elif mechanism == "PLAIN":
            assert self._password is not None
            _auth(smtp, mechanism, _b64(f"\0{user}\0{self._password()}"))
        else:
            assert self._password is not None
            _auth(smtp, mechanism, _b64(user), _b64(self._password()))
        return mechanism

    # --- mailbot check-config -------------------------------------------------------------------

    def check(self) -> list[Check]:
        """Connect, TLS, AUTH and MAIL FROM on a connection of its own, then RSET and QUIT: nothing is sent."""
        steps: list[Check] = []
        try:
            smtp = self._open(steps)
        except SmtpUnavailable as e:
            names = {"connect": f"connect {self.where}", "tls": f"TLS ({self.security})",
                     "auth": "AUTH"}
            steps.append((names.get(e.stage, e.stage), False, str(e)))
            return steps
        try:
            code, reply = smtp.mail(self.envelope_from)
            steps.append((f"sender {self.envelope_from}", code == OK, f"{code} {_text(reply)}"))
            smtp.rset()
            smtp.quit()
        except (smtplib.SMTPException, OSError) as e:
            steps.append((f"sender {self.envelope_from}", False, f"{type(e).__name__}: {e}"))
        finally:
            smtp.close()
        return steps


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode("ascii")


def _auth(smtp: smtplib.SMTP, mechanism: str, first: str, *answers: str) -> None:
    """AUTH by hand: smtplib's auth() encodes credentials as ASCII, and RFC 4954 allows UTF-8 passwords."""
    code, reply = smtp.docmd("AUTH", f"{mechanism} {first}")
    for answer in answers:
        if code != AUTH_CONTINUE:
            break
        code, reply = smtp.docmd(answer)
    if code == AUTH_CONTINUE:  # the server wants more than this mechanism has to say: cancel
        smtp.docmd("*")
    if code != AUTH_OK:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _step(steps: list[Check] | None, name: str, detail: str) -> None:
    if steps is not None:
        steps.append((name, True, detail))
