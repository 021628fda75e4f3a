"""Configuration and directory files: the embedded default, and wrong files named precisely."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.db.models import Customer, Person, Unit
from mailbot.directory.config import load_directory
from mailbot.directory.lookup import sync_directory
from mailbot.errors import ConfigError
from mailbot.settings import load_settings
from tests.support.mailflow import PROJECT


def test_no_config_file_is_the_embedded_default(tmp_path: Path) -> None:
    # A machine with no config/mailbot.yaml runs Maildir + SQLite under data/ with the demo directory.
    s = load_settings(home=tmp_path)
    assert s.mailbox.backend == "maildir" and s.outbox.transport == "maildir"
    assert s.database_url() == f"sqlite:///{tmp_path / 'data/mailbot.sqlite3'}"
    assert s.directory == "config/directory.example.yaml"


def test_example_config_is_valid() -> None:
    # The shipped example loads as it stands; a copy of it does not load the fictional directory, and describes no
    # year in part (an incomplete holiday list would silence the missing-holidays warning).
    s = load_settings(PROJECT / "config/mailbot.example.yaml", home=PROJECT)
    assert s.schedule.reminder_offsets == (7, 3, 1)
    assert s.calendar.years == {} and s.directory == "config/directory.yaml"


@pytest.mark.parametrize("yaml_text, expected", [
    ("schedule:\n  deadline_day: 40\n", "schedule.deadline_day: Input should be less than or equal to 31"),
    ("schedule:\n  reminder_offset: [7]\n", "schedule.reminder_offset: unknown key (misspelt?)"),
    ("mailbox:\n  backend: pop3\n", "mailbox.backend: Input should be 'maildir'"),
    ("identity:\n  address: nobody\n", "identity.address: not an e-mail address: 'nobody'"),
    ("schedule: [1, 2\n", "not valid YAML"),
])
def test_wrong_config_names_file_key_and_problem(tmp_path: Path, yaml_text: str, expected: str) -> None:
    # Each mistake is reported as "<file>: <key>: <what is wrong>".
    cfg = tmp_path / "mailbot.yaml"
    cfg.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_settings(cfg, home=tmp_path)
    assert str(cfg) in str(e.value) and expected in str(e.value)


def test_database_password_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The password is never in the file: it is read from the named variable, and its absence is an error.
    cfg = tmp_path / "mailbot.yaml"
    cfg.write_text("database:\n  url: postgresql+psycopg://bot@db.example.cn/kcr\n  password_env: KCR_DB_PW\n")
    s = load_settings(cfg, home=tmp_path)
    with pytest.raises(ConfigError, match="KCR_DB_PW is not set"):
        s.database_url()
    monkeypatch.setenv("KCR_DB_PW", "s3cret")
    assert s.database_url() == "postgresql+psycopg://bot:s3cret@db.example.cn/kcr"


def test_demo_directory_is_realistic() -> None:
    # The example directory has ~6 units, ~12 strategic customers (some shared) and ~10 VIP customers.
    d = load_directory(PROJECT / "config/directory.example.yaml")
    assert len(d.units) == 6 and len(d.customers.strategic) == 12 and len(d.customers.vip) == 10
    assert any(len(c.units) > 1 for c in d.customers.strategic)
    assert all(c.hq_staff for c in d.customers.strategic)


def test_directory_with_dangling_references_is_refused(tmp_path: Path) -> None:
    # A customer served by an unknown unit, or an unknown HQ staff id, is named with its key.
    bad = (PROJECT / "config/directory.example.yaml").read_text(encoding="utf-8")
    bad = bad.replace("units: [GD, BJ, JS]", "units: [GD, ZZ]").replace("duty: [zhaolei, zhangwei]", "duty: [nobody]")
    path = tmp_path / "directory.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_directory(path)
    msg = str(e.value)
    assert "customers.strategic.0.units: unit 'ZZ' is not in units" in msg
    assert "hq.duty.0: 'nobody' is not in hq.staff" in msg and str(path) in msg


def test_directory_sync_is_idempotent_and_deactivates(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Syncing twice changes nothing; a unit removed from the file is deactivated, not deleted.
    from mailbot.db.session import transaction

    with transaction(app.sessions) as s:
        sync_directory(s, app.directory)
    with app.sessions() as s:
        assert s.scalar(select(Unit).where(Unit.code == "GD")).active
        gd = s.scalar(select(Unit).where(Unit.code == "GD"))
        assert [c.code for c in gd.customers][:3] == ["S001", "S002", "S003"]
        assert s.scalar(select(Customer).where(Customer.code == "S001")).hq_staff.name == "刘洋"
        assert len(s.scalars(select(Person).where(Person.role == "hq")).all()) == 5
    smaller = app.directory.model_copy(update={"units": tuple(u for u in app.directory.units if u.code != "XJ")})
    with transaction(app.sessions) as s:
        sync_directory(s, smaller)
    with app.sessions() as s:
        assert not s.scalar(select(Unit).where(Unit.code == "XJ")).active


def test_server_backends_are_built_from_settings_with_secrets_from_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # IMAP + SMTP settings build the real backends; the password is read only when a connection is made.
    from mailbot.app import build_app
    from mailbot.mailboxes.imap import ImapMailbox
    from mailbot.outbox.smtp import SmtpTransport

    cfg = tmp_path / "mailbot.yaml"
    cfg.write_text(f"""
database: {{url: "sqlite:///{tmp_path}/db.sqlite3"}}
directory: {PROJECT}/config/directory.example.yaml
mailbox: {{backend: imap, host: imap.hq.example.cn, username: kcr@hq.example.cn, password: {{env: KCR_IMAP_PW}}}}
outbox: {{transport: smtp, host: smtp.hq.example.cn, username: kcr@hq.example.cn, password: {{env: KCR_SMTP_PW}}}}
""")
    app = build_app(load_settings(cfg, home=tmp_path))
    assert isinstance(app.mailbox, ImapMailbox) and app.mailbox.name == "imap:kcr@hq.example.cn@imap.hq.example.cn/INBOX"
    assert isinstance(app.transport, SmtpTransport)
    with pytest.raises(ConfigError, match="KCR_IMAP_PW is not set"):
        app.settings.secret(app.settings.mailbox.password, "mailbox.password")  # type: ignore[arg-type]


@pytest.mark.parametrize("section, expected", [
    ("mailbox: {backend: imap, host: imap.example.cn, username: u, password: {env: X}, security: plain}",
     "mailbox.security"),
    ("mailbox: {backend: imap, host: imap.example.cn}", "imap needs host, username and password"),
    ("outbox: {transport: smtp}", "smtp needs host"),
    ("mailbox: {backend: imap, host: h, username: u, password: {env: X, file: y}}", "give exactly one of env or file"),
])
def test_incomplete_or_unsafe_server_settings_are_refused(tmp_path: Path, section: str, expected: str) -> None:
    # Plain text to a remote server, a missing host or a doubly-given secret: a config error, not a crash.
    from mailbot.app import build_app

    cfg = tmp_path / "mailbot.yaml"
    cfg.write_text(f'database: {{url: "sqlite:///{tmp_path}/db.sqlite3"}}\ndirectory: {PROJECT}/config/directory.example.yaml\n{section}\n')
    with pytest.raises(ConfigError) as e:
        app = build_app(load_settings(cfg, home=tmp_path))
        app.mailbox, app.transport  # noqa: B018 - building them is the check
    assert expected in str(e.value) and str(cfg) in str(e.value)


# --- mistakes found only when mailbot starts: the real command, one line, no traceback ---------------------

def _mailbot(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailbot", *args], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(PROJECT), **(env or {})})


def _config(tmp_path: Path, body: str) -> Path:
    cfg = tmp_path / "mailbot.yaml"
    cfg.write_text(f"data_dir: {tmp_path}/data\ndirectory: {PROJECT}/config/directory.example.yaml\n{body}\n",
                   encoding="utf-8")
    return cfg


UNREACHABLE = ("database.url: cannot connect to postgresql+psycopg://postgres:***@127.0.0.1:1/test: "
               "connection to server at \"127.0.0.1\", port 1 failed: Connection refused")


@pytest.mark.parametrize("body, expected", [
    ("timezone: Mars/Olympus",
     "timezone: unknown time zone 'Mars/Olympus' (an IANA name such as Asia/Shanghai)"),
    ("database: {url: notaurl}",
     "database.url: not a database URL; write sqlite:///PATH or postgresql+psycopg://USER@HOST[:PORT]/DBNAME"),
    ("database: {url: 'mysql://bot@db.example.cn/kcr'}",
     "database.url: mailbot runs on SQLite or PostgreSQL, not mysql"),
    ("database: {url: 'sqlite:///{tmp}/no/such/dir/mailbot.sqlite3'}",
     "database.url: cannot open the SQLite database: the directory {tmp}/no/such/dir does not exist"),
    ("database: {url: 'postgresql+psycopg://postgres:pw-in-url@127.0.0.1:1/test'}", UNREACHABLE),
    ("database: {url: 'postgresql://postgres@127.0.0.1:1/test', password_env: KCR_TEST_DB_PW}", UNREACHABLE),
], ids=["timezone", "not-a-url", "other-database", "sqlite-directory-missing", "postgres-unreachable",
        "postgres-unreachable-password-from-env"])
def test_start_up_mistakes_are_one_line_naming_file_and_key(tmp_path: Path, body: str, expected: str) -> None:
    # Each ends `mailbot status` with exit 1 and "<file>: <key>: <what is wrong>": no traceback, no password.
    assert_one_line(tmp_path, body.replace("{tmp}", str(tmp_path)), "status", expected.replace("{tmp}", str(tmp_path)))


@pytest.mark.parametrize("command", ["db upgrade", "run --once"])
def test_every_way_of_starting_reports_an_unreachable_database_in_one_line(tmp_path: Path, command: str) -> None:
    # `mailbot db upgrade` and the daemon's start meet the same database the same way.
    assert_one_line(tmp_path, "database: {url: 'postgresql+psycopg://postgres:pw-in-url@127.0.0.1:1/test'}",
                    command, UNREACHABLE)


def assert_one_line(tmp_path: Path, body: str, command: str, expected: str) -> None:
    cfg = _config(tmp_path, body)
    r = _mailbot(tmp_path, "--config", str(cfg), *command.split(), env={"KCR_TEST_DB_PW": "pw-from-env"})
    assert r.returncode == 1, r.stderr
    assert f"mailbot: {cfg}: {expected}" in r.stderr.splitlines(), r.stderr
    assert "Traceback" not in r.stderr
    assert "pw-in-url" not in r.stderr + r.stdout and "pw-from-env" not in r.stderr + r.stdout
