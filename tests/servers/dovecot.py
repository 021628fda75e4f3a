"""A throwaway Dovecot IMAP server on loopback, for integration tests of the IMAP mailbox.

`Dovecot.start()` writes a self-contained instance under one directory — config,
a self-signed certificate for localhost/127.0.0.1, a passwd-file of users and
their maildirs — and runs `dovecot -F` as a child process, so the test process
owns it and reaps it (a daemonised master is re-parented to PID 1, which on some
machines makes stopping it look slow). `stop()` ends the whole process group,
client sessions included, as a real shutdown does; `stop()` / `restart()` keep
the mail store, so a test can take the server away in the middle of a session.

Where the directory lives matters: Dovecot's auth process (user `dovecot`) and
its mail processes (user `nobody` when we run as root) must traverse it, so it
is a 0755 directory under /tmp — never pytest's 0700 `tmp_path`.

Besides alice/bob/hq the passwd-file holds a pool of unused accounts, and
`new_user()` hands out one per test: a fresh mailbox (own folders, UIDVALIDITY,
UIDs) without a restart. They are written up front because Dovecot re-reads a
changed passwd-file at most once a second, so a just-added user can be refused.

`OAuthProvider` is the identity provider for XOAUTH2 tests: a token endpoint
for the refresh grant and the RFC 7662 introspection endpoint Dovecot's
oauth2 passdb asks (`Dovecot(oauth2_introspection_url=...)`).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from imapclient import IMAPClient

from tests.servers.ports import free_ports

HOST = "127.0.0.1"
USERS = {"alice@example.test": "alicepw", "bob@example.test": "bobpw", "hq@example.test": "hqpw"}
# Fresh accounts handed out one per test. They are written before the server starts:
# Dovecot notices a changed passwd-file only on the next second's lookup.
POOL = 300
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def wait_port(port: int, timeout: float = START_TIMEOUT, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until something accepts connections on the port; fail early if `proc` died."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"dovecot exited with status {proc.returncode} before port {port} was up")
        try:
            socket.create_connection((HOST, port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on {HOST}:{port} after {timeout} s")


def _signal_group(group: int, sig: int) -> bool:
    """Signal the process group we started; False when none of it is left."""
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        return False
    return True


def binary() -> str | None:
    """The dovecot executable, also when /usr/sbin is not on PATH."""
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    return found


@dataclass(frozen=True)
class Account:
    user: str
    password: str


@dataclass(frozen=True)
class Ports:
    imap: int      # plain, STARTTLS offered
    imaps: int     # implicit TLS
    lmtp: int      # delivery, for tests that route mail through an MTA

    @classmethod
    def free(cls) -> Ports:
        return cls(*free_ports(3))


class Dovecot:
    """One Dovecot instance: `host` and `ports` say where it listens, `ssl_context()` how to trust it."""

    host = HOST

    def __init__(self, *, oauth2_introspection_url: str | None = None) -> None:
        """`oauth2_introspection_url`: also accept XOAUTH2/OAUTHBEARER, asking that URL (RFC 7662) about tokens."""
        self.oauth2_introspection_url = oauth2_introspection_url
        self.dir: Path | None = None
        self.ports: Ports | None = None
        self.users: dict[str, str] = {}
        self._next_user = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._owned_dir = False

    # --- life cycle -------------------------------------------------------------

    def start(self, root: Path | None = None, ports: Ports | None = None) -> None:
        """Write the instance (first time only for cert and maildirs) and run it; returns once IMAP accepts."""
        exe = binary()
        if exe is None:
            raise RuntimeError("the dovecot binary is not installed (Debian: dovecot-imapd dovecot-lmtpd)")
        if root is None:
            root = Path(tempfile.mkdtemp(prefix="mailbot-dovecot-"))
            self._owned_dir = True
        self.dir = root
        pinned = ports is not None or self.ports is not None
        self.ports = ports or self.ports or Ports.free()
        root.chmod(0o755)
        for sub in ("run", "state", "mail", "etc"):
            (root / sub).mkdir(exist_ok=True)
        if os.getuid() == 0:
            # Mail processes run as nobody; its maildirs must be its own.
            nobody = pwd.getpwnam("nobody")
            os.chown(root / "mail", nobody.pw_uid, nobody.pw_gid)
        if not (root / "etc" / "cert.pem").exists():
            self._make_cert()
        if not self.users:
            self.users = dict(USERS) | {f"user{i:03d}@example.test": f"pw-{i:03d}" for i in range(POOL)}
        self._write_users()
        if self.oauth2_introspection_url:
            # Dovecot POSTs token=<access token> and wants {"active": true, "username": <login name>}.
            (root / "etc" / "oauth2.conf.ext").write_text(
                f"introspection_mode = post\nintrospection_url = {self.oauth2_introspection_url}\n"
                "username_attribute = username\nactive_attribute = active\nactive_value = true\n")
        error: RuntimeError | None = None
        for attempt in range(1 if pinned else 3):
            if attempt:
                # Another listener took a port since we chose it: choose again rather than fail the test.
                self.ports = Ports.free()
            (root / "etc" / "dovecot.conf").write_text(self._config())
            with open(root / "dovecot.stderr", "ab") as log:
                # Its own session, so that stop() can end the whole instance by process group.
                self._proc = subprocess.Popen([exe, "-F", "-c", str(root / "etc" / "dovecot.conf")],
                                              stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                              start_new_session=True)
            try:
                wait_port(self.ports.imap, proc=self._proc)
                wait_port(self.ports.imaps, proc=self._proc)
                return
            except RuntimeError as e:
                self.stop()
                error = e
        raise RuntimeError(f"{error}\n--- dovecot log ---\n{self.log_tail()}") from None

    def stop(self) -> None:
        """Stop the master and every process of this instance, as a real server shutdown would.

        Client sessions (`imap` processes) outlive a terminated master until their
        client hangs up, so the whole process group started by `start` is ended —
        otherwise a test "outage" would leave the old connections working.
        """
        if self._proc is None:
            return
        group = self._proc.pid  # start_new_session: the master leads its own group
        _signal_group(group, signal.SIGTERM)
        try:
            self._proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _signal_group(group, signal.SIGKILL)
            self._proc.wait(STOP_TIMEOUT)
        # What is left are client sessions lingering over their TLS shutdown: end them now.
        _signal_group(group, signal.SIGKILL)
        self._proc = None

    def restart(self) -> None:
        """Stop and start again on the same ports, keeping the mail store."""
        self.stop()
        self.start(self.dir, self.ports)

    def cleanup(self) -> None:
        """Stop, and remove the instance directory if `start` created it."""
        self.stop()
        if self._owned_dir and self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # --- users and mail ---------------------------------------------------------

    def new_user(self) -> Account:
        """An account nobody has used yet in this instance."""
        if self._next_user >= POOL:
            raise RuntimeError(f"all {POOL} test accounts are used; raise POOL")
        user = f"user{self._next_user:03d}@example.test"
        self._next_user += 1
        return Account(user, self.users[user])

    @contextmanager
    def client(self, user: str, *, timeout: float = 10.0) -> Iterator[IMAPClient]:
        """A logged-in IMAP connection over the plain port (loopback), for setting up and inspecting."""
        assert self.ports is not None, "not started"
        c = IMAPClient(self.host, self.ports.imap, ssl=False, timeout=timeout)
        try:
            c.login(user, self.users[user])
            c.normalise_times = False
            yield c
        finally:
            try:
                c.logout()
            except (OSError, IMAPClient.Error):
                c.shutdown()

    def append(self, user: str, raw: bytes, folder: str = "INBOX", date: datetime | None = None) -> int:
        """Put a message into a folder as if delivered (`date` becomes its INTERNALDATE); returns its UID."""
        with self.client(user) as c:
            resp = c.append(folder, raw, msg_time=date)
        m = re.search(rb"APPENDUID \d+ (\d+)", resp if isinstance(resp, bytes) else str(resp).encode())
        assert m, f"no APPENDUID in {resp!r}"
        return int(m.group(1))

    def set_uidvalidity(self, user: str, folder: str, value: int) -> None:
        """Give a folder a new UIDVALIDITY, as a server rebuild or migration would."""
        assert self.dir is not None
        done = subprocess.run(["doveadm", "-c", str(self.dir / "etc" / "dovecot.conf"), "mailbox", "update",
                               "-u", user, "--uid-validity", str(value), folder],
                              capture_output=True, text=True, timeout=STOP_TIMEOUT)
        if done.returncode != 0:
            raise RuntimeError(f"doveadm mailbox update failed ({done.returncode}): {done.stderr.strip()}")

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly this server's self-signed certificate."""
        assert self.dir is not None
        return ssl.create_default_context(cafile=str(self.dir / "etc" / "cert.pem"))

    def log_tail(self, lines: int = 40) -> str:
        # Before it opens its log file (configuration, listening) Dovecot writes to stderr.
        text = "".join((self.dir / name).read_text(errors="replace") for name in ("dovecot.stderr", "dovecot.log")
                       if self.dir is not None and (self.dir / name).exists())
        return "\n".join(text.splitlines()[-lines:]) or "(no log)"

    # --- files --------------------------------------------------------------------

    def _make_cert(self) -> None:
        assert self.dir is not None
        etc = self.dir / "etc"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", str(etc / "key.pem"), "-out", str(etc / "cert.pem")],
                       check=True, capture_output=True, timeout=60)

    def _write_users(self) -> None:
        assert self.dir is not None
        path = self.dir / "etc" / "users"
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in self.users.items()))
        tmp.chmod(0o644)
        os.replace(tmp, path)

    def _config(self) -> str:
        assert self.dir is not None and self.ports is not None
        d, p = self.dir, self.ports
        if os.getuid() == 0:
            # Mail processes run as nobody, which owns the maildirs.
            nobody = pwd.getpwnam("nobody")
            ids, users, chroot = f"uid={nobody.pw_uid} gid={nobody.pw_gid} ", "", ""
        else:
            # Unprivileged: every service runs as the invoking user, without chroot.
            me = pwd.getpwuid(os.getuid()).pw_name
            ids, chroot = "", "  chroot =\n"
            users = f"default_login_user = {me}\ndefault_internal_user = {me}\n"
        # With OAuth2 each passdb answers for its own mechanisms ("none": userdb lookups, doveadm).
        oauth2 = ("passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                  f"  args = {d}/etc/oauth2.conf.ext\n}}\n") if self.oauth2_introspection_url else ""
        password_mechs = "  mechanisms = plain login none\n" if oauth2 else ""
        return f"""\
base_dir = {d}/run
state_dir = {d}/state
instance_name = mailbot-test-{p.imap}
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
protocols = imap lmtp
listen = {HOST}
ssl = yes
ssl_cert = <{d}/etc/cert.pem
ssl_key = <{d}/etc/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login{" xoauth2 oauthbearer" if self.oauth2_introspection_url else ""}
mail_location = maildir:{d}/mail/%u/Maildir
first_valid_uid = 1
mail_max_userip_connections = 100
{users}# Tests log in with wrong passwords on purpose: no failure delay, and (anvil's
# penalty socket closed to the auth process) no growing per-IP penalty that
# would slow every later login from 127.0.0.1 by seconds.
auth_failure_delay = 0
# Without this imap-login waits 5 s for a stats-writer handshake at shutdown.
stats_writer_socket_path =
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/etc/users
{password_mechs}}}
{oauth2}userdb {{
  driver = static
  args = {ids}home={d}/mail/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    port = {p.imap}
  }}
  inet_listener imaps {{
    port = {p.imaps}
    ssl = yes
  }}
{chroot}}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
{chroot}}}
service lmtp {{
  inet_listener lmtp {{
    address = {HOST}
    port = {p.lmtp}
  }}
}}
"""


class OAuthProvider:
    """A token endpoint (refresh grant) and the RFC 7662 introspection Dovecot asks, on one loopback port.

    Tokens it issued are valid for `user` until `revoke`d; anything else is not. Given `refresh`, it behaves as a
    tenant that rotates refresh tokens: only the current one is accepted (else `invalid_grant`), and each grant
    returns a new one (RT-1, RT-2…).
    """

    def __init__(self, user: str = "alice@example.test", *, refresh: str | None = None) -> None:
        self.user = user
        self.refresh = refresh
        self.grants: list[dict[str, str]] = []
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
                status, reply = 200, provider.answer(self.path, form)
                if reply is None:
                    status, reply = 400, {"error": "invalid_grant", "error_description": "refresh token unknown"}
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def answer(self, path: str, form: dict[str, str]) -> dict[str, object] | None:
        if path == "/introspect":
            token = form.get("token", "")
            active = token in self.issued and token not in self.revoked
            return {"active": True, "username": self.user} if active else {"active": False}
        self.grants.append(form)
        if self.refresh is None:
            self.issued.append(f"AT-{len(self.issued) + 1}-{form.get('refresh_token')}")
            return {"access_token": self.issued[-1], "expires_in": 3600}
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh:
            return None
        self.issued.append(f"AT-{len(self.issued) + 1}")
        self.refresh = f"RT-{len(self.issued)}"
        return {"access_token": self.issued[-1], "expires_in": 3600, "refresh_token": self.refresh}

    def revoke(self, token: str) -> None:
        self.revoked.add(token)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def require_dovecot() -> None:
    """Skip where Dovecot is not installed, with the reason — but fail in CI, which must run the real IMAP path."""
    import os

    import pytest

    if binary() is None:
        if os.environ.get("CI"):
            pytest.fail("the dovecot binary is required in CI (apt-get install dovecot-imapd dovecot-lmtpd)")
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)")
