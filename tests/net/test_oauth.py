"""OAuth2 refresh-token grant against a scripted token endpoint on 127.0.0.1."""

from __future__ import annotations

import json
import stat
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mailbot.net.oauth import OAuth2Token, OAuthError, SignInRequired, microsoft365_token_url

REFRESH = "0.AAAA-refresh-token-one"


class TokenEndpoint:
    """Answers POSTs with scripted (status, JSON) replies and records each form it received."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, object]] = []
        self.forms: list[dict[str, str]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                endpoint.forms.append(dict(urllib.parse.parse_qsl(body)))
                status, payload = endpoint.replies.pop(0) if endpoint.replies else (500, {"error": "unscripted"})
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tenant/oauth2/v2.0/token"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    ep = TokenEndpoint()
    yield ep
    ep.close()


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    f = tmp_path / "m365.refresh"
    f.write_text(REFRESH + "\n")
    f.chmod(0o600)
    return f


def make(endpoint: TokenEndpoint, token_file: Path, **kw: object) -> OAuth2Token:
    return OAuth2Token(token_url=endpoint.url, client_id="app-123", refresh_token_file=token_file,
                       timeout=5, **kw)  # type: ignore[arg-type]


def test_access_token_is_fetched_once_and_cached_until_near_expiry(endpoint: TokenEndpoint, token_file: Path) -> None:
    # The refresh grant runs once; the token is reused until shortly before it expires, then renewed.
    endpoint.replies += [(200, {"access_token": "AT-1", "expires_in": 3600}),
                         (200, {"access_token": "AT-2", "expires_in": 3600})]
    clock = Clock()
    tok = make(endpoint, token_file, clock=clock)
    assert tok() == "AT-1" and tok.access_token() == "AT-1"
    assert len(endpoint.forms) == 1
    assert endpoint.forms[0] == {"grant_type": "refresh_token", "client_id": "app-123", "refresh_token": REFRESH,
                                 "scope": "https://outlook.office365.com/IMAP.AccessAsUser.All offline_access"}
    clock.now += 3600 - 400
    assert tok() == "AT-1"
    clock.now += 150  # inside the renewal margin
    assert tok() == "AT-2" and len(endpoint.forms) == 2


def test_rotated_refresh_token_is_saved_at_once_private_and_whole(endpoint: TokenEndpoint, token_file: Path) -> None:
    # A new refresh token replaces the file atomically (mode 0600, no temp file left) and is used next time.
    endpoint.replies += [(200, {"access_token": "AT-1", "expires_in": 10, "refresh_token": "RT-two"}),
                         (200, {"access_token": "AT-2", "expires_in": 10})]
    clock = Clock()
    tok = make(endpoint, token_file, clock=clock)
    tok()
    assert token_file.read_text().strip() == "RT-two"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert [p.name for p in token_file.parent.iterdir()] == [token_file.name]
    clock.now += 10
    assert tok() == "AT-2" and endpoint.forms[1]["refresh_token"] == "RT-two"


def test_confidential_client_sends_its_secret(endpoint: TokenEndpoint, token_file: Path) -> None:
    # A registered web app authenticates with its client secret, read through the callable each time.
    endpoint.replies.append((200, {"access_token": "AT", "expires_in": 3600}))
    make(endpoint, token_file, client_secret=lambda: "cs-secret", scope="s1 s2")()
    assert endpoint.forms[0]["client_secret"] == "cs-secret" and endpoint.forms[0]["scope"] == "s1 s2"


def test_refused_refresh_is_a_clear_error_without_secrets(endpoint: TokenEndpoint, token_file: Path) -> None:
    # invalid_grant says what happened and what to do; neither the refresh token nor the client secret leaks.
    endpoint.replies.append((400, {"error": "invalid_grant",
                                   "error_description": f"AADSTS70008: The refresh token {REFRESH} has expired "
                                                        "due to inactivity (secret cs-secret).\r\nTrace ID: 1"}))
    with pytest.raises(SignInRequired) as err:
        make(endpoint, token_file, client_secret=lambda: "cs-secret")()
    text = str(err.value)
    assert "HTTP 400" in text and "invalid_grant" in text and "AADSTS70008" in text and "sign in again" in text
    assert REFRESH not in text and "cs-secret" not in text and "Trace ID" not in text
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_unreachable_endpoint_and_bad_answers_are_oauth_errors(endpoint: TokenEndpoint, token_file: Path) -> None:
    # A server error, a non-JSON body, a reply without a token and no network are OAuthErrors that may pass.
    endpoint.replies += [(503, {"error": "temporarily_unavailable"}), (200, b"<html>proxy login</html>"),
                         (200, {"token_type": "Bearer"})]
    tok = make(endpoint, token_file)
    with pytest.raises(OAuthError, match="HTTP 503: temporarily_unavailable") as err:
        tok()
    assert not isinstance(err.value, SignInRequired)
    with pytest.raises(OAuthError, match="not JSON"):
        tok()
    with pytest.raises(OAuthError, match="without an access_token"):
        tok()
    url = endpoint.url
    endpoint.close()
    with pytest.raises(OAuthError, match="unreachable") as err:
        OAuth2Token(token_url=url, client_id="a", refresh_token_file=token_file, timeout=2)()
    assert not isinstance(err.value, SignInRequired)


def test_missing_refresh_token_file_says_what_to_do(endpoint: TokenEndpoint, tmp_path: Path) -> None:
    # Before the first sign-in there is no refresh token: the error names the file, and nothing is requested.
    with pytest.raises(SignInRequired, match="does not exist: sign in once"):
        make(endpoint, tmp_path / "absent")()
    assert endpoint.forms == []


def test_token_endpoint_must_be_https_except_on_loopback(token_file: Path) -> None:
    # The refresh token never travels in clear to a remote host.
    with pytest.raises(ValueError, match="must use https"):
        OAuth2Token(token_url="http://login.example.cn/token", client_id="a", refresh_token_file=token_file)
    assert microsoft365_token_url("contoso.onmicrosoft.com") == \
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
