"""An SMTP server on 127.0.0.1 for the tests: aiosmtpd that records what it receives and misbehaves on cue.

It keeps every accepted message (envelope and the raw bytes as they arrived),
counts connections, and can be told to refuse the next transactions at MAIL,
RCPT or DATA with a given reply, or to refuse some recipients always. STARTTLS
or implicit TLS use a self-signed certificate for 127.0.0.1 (`make_cert`), and
AUTH checks one test user (PLAIN, LOGIN, XOAUTH2). `stop()` and `start()` keep
the port, so a test can take the server down and bring it back.

The server runs in aiosmtpd's own thread; the lists are guarded by a lock and
a message is recorded before the client sees "250", so the test thread may
read them as soon as its send returns.
"""

from __future__ import annotations

import base64
import datetime
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers.ports import free_port

Stage = Literal["MAIL", "RCPT", "DATA"]
HOST = "127.0.0.1"
OK = "250 OK"
AUTH_INVALID = "535 5.7.8 Authentication credentials invalid"


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert.pem, key.pem)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailbot test sink")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "sink-cert.pem", directory / "sink-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def client_context(cert: Path) -> ssl.SSLContext:
    """What a client that trusts the sink's certificate uses (hostname checked, as in production)."""
    return ssl.create_default_context(cafile=str(cert))


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes                     # the DATA bytes after dot-unstuffing, as the client sent them
    mail_options: tuple[str, ...]
    tls: bool
    login: str | None


@dataclass(frozen=True)
class User:
    login: str
    password: str
    token: str = "test-oauth-token"


TEST_USER = User("kcr@hq.example.cn", "s3cret-密码")  # a UTF-8 password, as RFC 4954 allows


class _Handler:
    """aiosmtpd finds these hooks by name."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        envelope.failure = self.sink._take_failure()  # type: ignore[attr-defined]  # one plan per transaction
        if (refusal := _failure(envelope, "MAIL")) is not None:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return OK

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if (refusal := _failure(envelope, "RCPT") or self.sink.refused.get(address)) is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if (refusal := _failure(envelope, "DATA")) is not None:
            return refusal
        login = getattr(session.auth_data, "login", None)
        self.sink._record(Received(
            mail_from=envelope.mail_from or "", rcpt_tos=tuple(envelope.rcpt_tos),
            raw=envelope.original_content or b"", mail_options=tuple(envelope.mail_options),
            tls=server.transport is not None and server.transport.get_extra_info("ssl_object") is not None,
            login=login.decode() if isinstance(login, bytes) else login))
        return "250 2.0.0 Ok: queued"

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """Microsoft 365's mechanism: one base64 blob `user=…^Aauth=Bearer …^A^A`; errors come as a challenge."""
        user = self.sink.user
        blob = base64.b64decode(args[1]) if len(args) > 1 else b""
        if user is not None and blob == f"user={user.login}\x01auth=Bearer {user.token}\x01\x01".encode():
            return AuthResult(success=True, auth_data=LoginPassword(user.login.encode(), b""))
        await server.challenge_auth('{"status":"401","schemes":"bearer",'
                                    '"scope":"https://outlook.office365.com/.default"}')
        return AuthResult(success=False, handled=False)


def _failure(envelope: Envelope, stage: Stage) -> str | None:
    plan: tuple[Stage, str] | None = getattr(envelope, "failure", None)
    return plan[1] if plan is not None and plan[0] == stage else None


class _CountingController(Controller):
    def __init__(self, sink: SmtpSink, **kw: Any) -> None:
        super().__init__(_Handler(sink), **kw)
        self.sink = sink

    def factory(self) -> SMTP:
        with self.sink._lock:  # aiosmtpd builds one SMTP protocol object per connection
            self.sink.connections += 1
        server: SMTP = super().factory()  # type: ignore[no-untyped-call]
        return server


class SmtpSink:
    def __init__(self, *, tls: Literal["starttls", "implicit"] | None = None, cert: tuple[Path, Path] | None = None,
                 user: User | None = None, data_size_limit: int = 10 * 1024 * 1024,
                 smtputf8: bool = True, exclude_auth: tuple[str, ...] = (), port: int | None = None) -> None:
        self.port = port or free_port()
        self.tls, self.user = tls, user
        self.data_size_limit, self.smtputf8, self.exclude_auth = data_size_limit, smtputf8, exclude_auth
        self._server_ctx: ssl.SSLContext | None = None
        if tls is not None:
            assert cert is not None, "TLS needs make_cert()"
            self._server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._server_ctx.load_cert_chain(*cert)
        self.messages: list[Received] = []
        self.connections = 0
        self.refused: dict[str, str] = {}  # recipient → the reply that refuses it, every time
        self._failures: list[tuple[Stage, str]] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    # --- steering -------------------------------------------------------------------------------

    def fail_next(self, reply: str, *, at: Stage = "RCPT", times: int = 1) -> None:
        """Answer the next `times` transactions with `reply` (e.g. "451 4.3.0 Try later") at `at`."""
        with self._lock:
            self._failures.extend([(at, reply)] * times)

    def _take_failure(self) -> tuple[Stage, str] | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _record(self, message: Received) -> None:
        with self._lock:
            self.messages.append(message)

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        ok = (self.user is not None and isinstance(auth_data, LoginPassword)
              and auth_data.login == self.user.login.encode() and auth_data.password == self.user.password.encode())
        # handled=False: aiosmtpd itself then answers 535 to a failure
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    # --- life -----------------------------------------------------------------------------------

    def start(self) -> SmtpSink:
        kw: dict[str, Any] = {"hostname": HOST, "port": self.port, "server_hostname": "sink.test",
                              "data_size_limit": self.data_size_limit, "enable_SMTPUTF8": self.smtputf8,
                              "ready_timeout": 5.0, "timeout": 30}
        if self.tls == "implicit":
            kw["ssl_context"] = self._server_ctx
        elif self.tls == "starttls":
            kw["tls_context"] = self._server_ctx
            kw["require_starttls"] = True
        if self.user is not None:
            # aiosmtpd counts only STARTTLS as TLS, so with implicit TLS it must not insist on it
            kw.update(authenticator=self._authenticate, auth_required=True,
                      auth_require_tls=self.tls == "starttls", auth_exclude_mechanism=self.exclude_auth)
        with self._lock:
            before = self.connections
        controller = _CountingController(self, **kw)
        controller.start()
        with self._lock:
            self.connections = before  # start() itself connects once to wake the server up
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None
