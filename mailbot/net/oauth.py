"""OAuth2 access tokens for mailbox logins (XOAUTH2), by the refresh-token grant.

Microsoft 365 and Exchange Online take no IMAP passwords: the mailbox logs in
with a short-lived access token (about an hour), obtained from the tenant's
token endpoint with a long-lived refresh token. The operator obtains the first
refresh token once, by signing in to the app registration (a consent flow
outside mailbot), and stores it in a file; from then on `OAuth2Token` keeps it
alive. The endpoint may answer with a *new* refresh token (rotation), after
which the old one may stop working: it is written to the file at once, by
write-to-temp-and-rename with mode 0600, so a crash never leaves a truncated
or world-readable token behind.

An `OAuth2Token` is a callable that returns a current access token, which is
what `ImapMailbox(oauth_token=...)` expects. The token is cached until shortly
before it expires, so every login in between costs no round trip.

Errors are `OAuthError`, with what the endpoint said (its error code and
description) but never a token or the client secret, so the message can go to
logs and to the operator's alarm mail as it is.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mailbot.errors import MailbotError
from mailbot.net.loopback import is_loopback

log = logging.getLogger(__name__)

# Scopes for an IMAP mailbox at Microsoft 365; offline_access asks for the refresh token.
M365_IMAP_SCOPE = "https://outlook.office365.com/IMAP.AccessAsUser.All offline_access"
# Renew this long before the token expires, so a login never races the expiry.
RENEW_MARGIN = 300.0


class OAuthError(MailbotError):
    """No access token could be obtained; the message names the cause and carries no secret."""


class SignInRequired(OAuthError):
    """The grant itself is refused or missing (expired/revoked refresh token, wrong client): retrying won't help,
    someone must sign in again. Mailboxes report it as a failed login, which alarms the operator."""


def microsoft365_token_url(tenant: str) -> str:
    """The v2.0 token endpoint of a Microsoft Entra tenant (its id or domain, or 'organizations')."""
    return f"https://login.microsoftonline.com/{urllib.parse.quote(tenant, safe='')}/oauth2/v2.0/token"


class OAuth2Token:
    def __init__(self, *, token_url: str, client_id: str, refresh_token_file: Path,
                 client_secret: Callable[[], str] | None = None, scope: str = M365_IMAP_SCOPE,
                 timeout: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        url = urllib.parse.urlsplit(token_url)
        if url.scheme != "https" and not (url.scheme == "http" and is_loopback(url.hostname or "")):
            # The request carries the refresh token (and maybe the client secret).
            raise ValueError(f"token endpoint {token_url!r} must use https")
        self.token_url = token_url
        self.client_id = client_id
        self.refresh_token_file = refresh_token_file
        self.scope = scope
        self.timeout = timeout
        self._client_secret = client_secret
        self._clock = clock
        self._token: str | None = None
        self._valid_until = 0.0
        # The IDLE watcher and the fetching pass may log in at the same moment: one refresh, not two.
        self._lock = threading.Lock()

    def __call__(self) -> str:
        return self.access_token()

    def access_token(self) -> str:
        """A current access token: the cached one, or a fresh one from the token endpoint."""
        with self._lock:
            if self._token is None or self._clock() >= self._valid_until:
                self._refresh()
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        """Forget the cached access token (e.g. the server refused it before its expiry)."""
        with self._lock:
            self._token = None

    def _refresh(self) -> None:
        refresh_token = self._read_refresh_token()
        form = {"grant_type": "refresh_token", "client_id": self.client_id,
                "refresh_token": refresh_token, "scope": self.scope}
        secrets = [refresh_token]
        if self._client_secret is not None:
            form["client_secret"] = self._client_secret()
            secrets.append(form["client_secret"])
        started = self._clock()
        body = self._post(form, secrets)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise OAuthError(f"token endpoint {self.token_url} answered without an access_token")
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        new_refresh = body.get("refresh_token")
        if isinstance(new_refresh, str) and new_refresh and new_refresh != refresh_token:
            self._save_refresh_token(new_refresh)
            log.info("oauth: refresh token rotated, saved to %s", self.refresh_token_file)
        self._token = token
        # Keep a margin, but for very short lifetimes at least use half of it.
        self._valid_until = started + max(lifetime - RENEW_MARGIN, lifetime / 2)
        log.debug("oauth: new access token for client %s, valid %.0f s", self.client_id, lifetime)

    def _post(self, form: dict[str, str], secrets: list[str]) -> dict[str, Any]:
        req = urllib.request.Request(self.token_url, data=urllib.parse.urlencode(form).encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "Accept": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - scheme checked
                payload = resp.read()
        except urllib.error.HTTPError as e:
            detail = _describe_error(e.read(), secrets)
            e.close()
            hint = " (sign in again to obtain a new refresh token)" if "invalid_grant" in detail else ""
            # 400/401 carry the OAuth verdict on our grant or client; 5xx and the like may pass.
            kind = SignInRequired if e.code in (400, 401) else OAuthError
            raise kind(f"token endpoint {self.token_url} refused the refresh: HTTP {e.code}: "
                             f"{detail}{hint}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise OAuthError(f"token endpoint {self.token_url} unreachable: {_scrub(str(reason), secrets)}") from None
        try:
            body = json.loads(payload)
        except ValueError:
            raise OAuthError(f"token endpoint {self.token_url} answered with something that is not JSON") from None
        if not isinstance(body, dict):
            raise OAuthError(f"token endpoint {self.token_url} answered with unexpected JSON")
        return body

    def _read_refresh_token(self) -> str:
        try:
            token = self.refresh_token_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise SignInRequired(f"refresh token file {self.refresh_token_file} does not exist: "
                             "sign in once to obtain a refresh token and store it there") from None
        except OSError as e:
            raise OAuthError(f"cannot read refresh token file {self.refresh_token_file}: {e.strerror}") from None
        if not token:
            raise SignInRequired(f"refresh token file {self.refresh_token_file} is empty")
        return token

    def _save_refresh_token(self, token: str) -> None:
        """Replace the file atomically; the temporary file is 0600 from birth (mkstemp)."""
        path = self.refresh_token_file
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(token + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself must survive a power cut
        finally:
            os.close(dir_fd)


def _describe_error(payload: bytes, secrets: list[str]) -> str:
    """The endpoint's `error` and the first line of `error_description`, scrubbed."""
    try:
        body = json.loads(payload)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return "(no OAuth error in the answer)"
    code = str(body.get("error", "unknown_error"))
    desc = str(body.get("error_description", "")).strip().splitlines()
    text = f"{code}: {desc[0]}" if desc else code
    return _scrub(text[:300], secrets)


def _scrub(text: str, secrets: list[str]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text
