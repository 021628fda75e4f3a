"""The daemon started as deploy/mailbot.service starts it, as an unprivileged user, rotating its OAuth2 token.

On a scratch root laid out like the installation — /opt/mailbot (the venv, config/ owned by root, data/ owned by
the service user), /var/lib/mailbot (the StateDirectory, 0700, the user's), /etc/mailbot/env — the unit's own
ExecStartPre and ExecStart lines run, their paths moved under the root, as `nobody` (the unit's User=mailbot,
which this machine has no reason to create), in the unit's WorkingDirectory with the EnvironmentFile's variables.
The mailbox is Dovecot taking XOAUTH2, the token endpoint a loopback http.server that answers the refresh grant
with a new refresh token, as Microsoft's does. What must hold: the daemon reaches its first poll (the mail waiting
in the inbox is handled), the rotated token is in the state directory (0600, the user's, nothing else left there),
the config folder is untouched, every log line is JSON (the env file asks for it) and names the inbound id, and
SIGTERM stops it cleanly.

What this does not build is systemd's sandbox (ProtectSystem=strict): ownership stands in for it — the user can
write only data/ and the state directory, as under the unit. Needs root (to run as another user); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, select

from mailbot.db.migrate import head_revision
from mailbot.db.models import InboundMessage
from mailbot.demo import replies
from tests.deploy.units import DEPLOY, PROJECT, command, environment, install_venv, moved, read_unit, service, snapshot
from tests.servers.dovecot import Dovecot, OAuthProvider, require_dovecot

USER = "nobody"
MAILBOX = "alice@example.test"
BOT = "kcr@hq.gas.test"           # a directory of our own: example domains would be refused outside demo mode
CONTACT = ("李明", "liming@gd.gas.test")
DIRECTORY = {
    "hq": {"staff": [{"id": "wangfang", "name": "王芳", "email": "wangfang@hq.gas.test"}],
           "duty": ["wangfang"], "bulletin": ["wangfang"]},
    "units": [{"code": "GD", "name": "广东分公司", "contacts": [{"name": CONTACT[0], "email": CONTACT[1]}],
               "hq_staff": "wangfang"}],
    "customers": {},
}
DEADLINE = 20.0


@pytest.fixture(scope="module")
def oauth_imap() -> Iterator[tuple[Dovecot, OAuthProvider]]:
    if os.geteuid() != 0:
        pytest.skip("running the daemon as another user (the unit's User=) needs root")
    require_dovecot()
    endpoint = OAuthProvider(MAILBOX, refresh="RT-0")
    server = Dovecot(oauth2_introspection_url=f"{endpoint.url}/introspect")
    try:
        server.start()
        yield server, endpoint
    finally:
        server.cleanup()
        endpoint.close()


def lay_out(root: Path, unit: dict[str, dict[str, list[str]]], dovecot: Dovecot, token_url: str) -> dict[str, Path]:
    """The installation as README "Deploying" leaves it, under `root`."""
    nobody = pwd.getpwnam(USER)
    home = Path(moved(root, service(unit, "WorkingDirectory")))
    (home / "config").mkdir(parents=True)
    install_venv(home / ".venv", USER)
    data = home / "data"                      # install -d -m 750 -o mailbot data
    data.mkdir(mode=0o750)
    os.chown(data, nobody.pw_uid, nobody.pw_gid)
    state = root / "var/lib" / service(unit, "StateDirectory")   # what systemd creates for StateDirectory=
    state.mkdir(parents=True)
    state.chmod(int(service(unit, "StateDirectoryMode"), 8))
    os.chown(state, nobody.pw_uid, nobody.pw_gid)
    # The operator's first refresh token, obtained once by signing in, at the path the example config gives.
    example = (PROJECT / "config/mailbot.example.yaml").read_text(encoding="utf-8")
    token_file = Path(moved(root, example.split("refresh_token_file:", 1)[1].split()[0]))
    assert token_file.parent == state
    token_file.write_text("RT-0\n")
    token_file.chmod(0o600)
    os.chown(token_file, nobody.pw_uid, nobody.pw_gid)
    assert dovecot.dir is not None and dovecot.ports is not None
    shutil.copy(dovecot.dir / "etc/cert.pem", home / "config/hq-ca.pem")
    config = {
        "identity": {"address": BOT, "token_secret_env": None}, "operator": "it-ops@hq.gas.test",
        "mailbox": {"backend": "imap", "host": dovecot.host, "port": dovecot.ports.imaps, "security": "tls",
                    "ca_file": "config/hq-ca.pem", "username": MAILBOX, "backfill": True, "timeout": 10,
                    "oauth2": {"token_url": f"{token_url}/tenant/oauth2/v2.0/token", "client_id": "app-123",
                               "refresh_token_file": str(token_file)}},
        "outbox": {"transport": "maildir", "path": "data/outbox"},
        "schedule": {"poll_seconds": 30, "tick_seconds": 3600},
    }
    (home / "config/mailbot.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    (home / "config/directory.yaml").write_text(yaml.safe_dump(DIRECTORY, allow_unicode=True), encoding="utf-8")
    env = Path(moved(root, service(unit, "EnvironmentFile").lstrip("-")))
    env.parent.mkdir(parents=True, mode=0o700)
    env.write_text("MAILBOT_LOG_FORMAT=json\n")   # journald/Loki: one JSON object a line
    env.chmod(0o600)
    return {"home": home, "data": data, "state": state, "token": token_file, "env": env}


def start(line: str, root: Path, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    pw = pwd.getpwnam(USER)
    argv = [moved(root, a) for a in command(line)]
    with log.open("ab") as out:
        return subprocess.Popen(argv, cwd=cwd, env=env, user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                                umask=0o022, stdin=subprocess.DEVNULL, stdout=out, stderr=out)


def wait_for(check: object, what: str, log: Path, proc: subprocess.Popen[bytes]) -> None:
    end = time.monotonic() + DEADLINE
    while not check():  # type: ignore[operator]
        if proc.poll() is not None or time.monotonic() > end:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            pytest.fail(f"{what}: not within {DEADLINE} s (daemon exit {proc.returncode})\n{tail}")
        time.sleep(0.1)


def test_the_unit_starts_the_daemon_as_its_user_and_the_rotated_token_lands_in_the_state_directory(
        oauth_imap: tuple[Dovecot, OAuthProvider], tmp_path: Path) -> None:
    dovecot, endpoint = oauth_imap
    unit = read_unit(DEPLOY / "mailbot.service")
    # Not pytest's tmp_path: its parents are 0700, which the service user could not traverse.
    root = Path(tempfile.mkdtemp(prefix="mailbot-root-"))
    root.chmod(0o755)
    daemon: subprocess.Popen[bytes] | None = None
    try:
        paths = lay_out(root, unit, dovecot, endpoint.url)
        home, config = paths["home"], paths["home"] / "config"
        before = snapshot(config) | snapshot(paths["env"].parent)
        assert all(p.stat().st_uid == 0 and not p.stat().st_mode & 0o022 for p in (config, *config.iterdir()))
        dovecot.append(MAILBOX, replies.build(sender=CONTACT, to=BOT, subject="关于冬季保供的请示",
                                              body="请问本月用气计划何时下达？", at=datetime.now(timezone.utc)))
        env = environment(paths["env"], paths["state"], USER)

        (pre,) = unit["Service"]["ExecStartPre"]
        upgraded = start(pre, root, home, env, tmp_path / "pre.log")
        assert upgraded.wait(60) == 0, (tmp_path / "pre.log").read_text()
        assert f"database at revision {head_revision()}" in (tmp_path / "pre.log").read_text()

        log = tmp_path / "daemon.log"
        daemon = start(service(unit, "ExecStart"), root, home, env, log)
        database = create_engine(f"sqlite:///{paths['data'] / 'mailbot.sqlite3'}")

        def handled() -> list[tuple[int, str]]:
            with database.connect() as c:
                rows = c.execute(select(InboundMessage.id, InboundMessage.status)).all()
            return [(r.id, r.status) for r in rows if r.status != "received"]

        wait_for(handled, "the first poll handling the waiting mail", log, daemon)
        ((inbound_id, status),) = handled()
        database.dispose()
        assert status == "handed_over"   # a contact's question, handed to the unit's 总部对接人

        # The refresh grant was made once with the operator's token; the endpoint's new one replaced it in place.
        assert [(g["refresh_token"], g["client_id"]) for g in endpoint.grants] == [("RT-0", "app-123")]
        token = paths["token"].stat()
        assert paths["token"].read_text() == f"{endpoint.refresh}\n" == "RT-1\n"
        assert (stat.S_IMODE(token.st_mode), token.st_uid) == (0o600, pwd.getpwnam(USER).pw_uid)
        assert sorted(p.name for p in paths["state"].iterdir()) == ["refresh-token"]   # no temporary file left
        assert snapshot(config) | snapshot(paths["env"].parent) == before

        daemon.send_signal(signal.SIGTERM)   # systemctl stop
        assert daemon.wait(15) == 0
        lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
        mine = [line for line in lines if line.get("inbound_id") == inbound_id]
        assert mine and f"msg={inbound_id} status=handed_over" in mine[-1]["message"]
        assert any("refresh token rotated" in line["message"] for line in lines)
        assert not any(t in log.read_text(encoding="utf-8") for t in ("RT-0", "RT-1", *endpoint.issued))
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)
        shutil.rmtree(root, ignore_errors=True)
