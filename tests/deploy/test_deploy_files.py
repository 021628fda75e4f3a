"""The deploy files say what the code expects: every command they run is a real `mailbot` command, what the daemon
writes is writable under its unit, the user they run as is the one the sysusers file creates, every variable the
containers get is one the code or the example config reads, and the health checks ask `mailbot status`.

An operator follows these files as written; a renamed command, a moved token file or a misspelt variable would only
show on the production machine. Nothing here runs systemd or Docker: the files are read as they read them.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path, PurePosixPath

import pytest
import yaml
from pydantic import BaseModel

from mailbot import logformat
from mailbot.cli import build_parser
from mailbot.daemon import preflight
from mailbot.daemon.status import EXIT
from mailbot.settings import Settings, WebSettings
from tests.deploy.units import DEPLOY, PROJECT, SERVICES, Unit, command, dockerfile, read_unit, service

MAILBOT = "mailbot"      # the console script of pyproject's [project.scripts]
SAFE = ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp")   # the daemon's hardening, kept by every unit


@pytest.fixture(scope="module")
def units() -> dict[str, Unit]:
    return {name: read_unit(DEPLOY / name) for name in SERVICES}


@pytest.fixture(scope="module")
def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def parses(argv: list[str], where: str) -> str:
    """The subcommand `argv` (after `mailbot`) runs, or a failure saying where it was written."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: `mailbot {' '.join(argv)}` is not a valid mailbot command line")
    return str(args.command)


def mailbot_commands(script: str) -> list[list[str]]:
    """The `mailbot …` commands of a shell line such as `mailbot db upgrade && exec mailbot run`."""
    found = []
    for part in re.split(r"&&|\|\||;", script):
        argv = shlex.split(part.split(">")[0])
        if argv[:1] == ["exec"]:
            argv = argv[1:]
        if argv[:1] == [MAILBOT]:
            found.append(argv[1:])
    return found


def test_the_units_run_real_commands_from_the_installed_venv(units: dict[str, Unit]) -> None:
    # The daemon migrates, then runs; the board serves; reload is the signal the daemon re-reads directory.yaml on.
    ran: dict[str, list[str]] = {}
    for name, unit in units.items():
        venv_script = str(PurePosixPath(service(unit, "WorkingDirectory")) / ".venv/bin" / MAILBOT)
        for key in ("ExecStartPre", "ExecStart"):
            for line in unit["Service"].get(key, []):
                argv = command(line)
                assert argv[0] == venv_script, f"{name}: {key} runs {argv[0]}, not the project's venv {venv_script}"
                ran.setdefault(name, []).append(parses(argv[1:], f"{name} {key}"))
    assert ran == {"mailbot.service": ["db", "run"], "mailbot-web.service": ["web"]}
    reload = command(service(units["mailbot.service"], "ExecReload"))
    assert reload[:2] == ["/bin/kill", "-HUP"] and reload[2] == "$MAINPID"
    scheduler = (PROJECT / "mailbot/daemon/scheduler.py").read_text(encoding="utf-8")
    assert "signal.signal(signal.SIGHUP" in scheduler, "the daemon no longer handles the unit's reload signal"
    assert all(u["Install"]["WantedBy"] == ["multi-user.target"] for u in units.values())


def test_one_user_created_by_sysusers_runs_both_units_and_owns_the_state(units: dict[str, Unit]) -> None:
    daemon, web = units["mailbot.service"], units["mailbot-web.service"]
    kind, user, _, rest = _sysusers_line()
    assert kind == "u"
    for unit in (daemon, web):
        assert service(unit, "User") == service(unit, "Group") == user
        assert service(unit, "WorkingDirectory") == service(daemon, "WorkingDirectory")
        assert service(unit, "EnvironmentFile") == service(daemon, "EnvironmentFile")
        for key in SAFE:
            assert service(unit, key) == service(daemon, key), f"{key} differs from the daemon's"
    # The user's home is the daemon's StateDirectory, where the rotated token is kept.
    home = shlex.split(rest)[1]
    assert home == f"/var/lib/{service(daemon, 'StateDirectory')}"
    assert service(daemon, "StateDirectoryMode") == "0700"
    # The board writes no state of its own, and no more than the daemon may.
    assert "StateDirectory" not in web["Service"]
    assert set(web["Service"]["ReadWritePaths"]) <= set(daemon["Service"]["ReadWritePaths"])
    # The image runs as a user of the same name.
    docker = dockerfile(DEPLOY / "Dockerfile")
    assert docker["USER"] == [user] and any(f"useradd --system --home /app {user}" in r for r in docker["RUN"])


def _sysusers_line() -> tuple[str, str, str, str]:
    lines = [ln for ln in (DEPLOY / "mailbot.sysusers").read_text(encoding="utf-8").splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert len(lines) == 1
    kind, user, ident, rest = lines[0].split(None, 3)
    return kind, user, ident, rest


def writable(unit: Unit) -> list[PurePosixPath]:
    paths = [PurePosixPath(p) for p in " ".join(unit["Service"].get("ReadWritePaths", [])).split()]
    paths += [PurePosixPath("/var/lib") / d for d in unit["Service"].get("StateDirectory", [])]
    return paths


def under(path: PurePosixPath, roots: list[PurePosixPath]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def test_what_the_daemon_writes_lies_where_its_unit_lets_it_write(units: dict[str, Unit]) -> None:
    # The example config, read from the unit's working directory: the database, the data folder, the Maildirs and
    # the OAuth2 refresh token (written again each time it rotates) must be writable under ProtectSystem=strict;
    # the config folder must not be, and the token must not live in it (it used to: rotation failed).
    daemon, web = units["mailbot.service"], units["mailbot-web.service"]
    home = PurePosixPath(service(daemon, "WorkingDirectory"))
    text = (PROJECT / "config/mailbot.example.yaml").read_text(encoding="utf-8")
    settings = Settings.model_validate({**yaml.safe_load(text), "home": Path(str(home))})
    database = PurePosixPath(settings.database_url().removeprefix("sqlite:///"))
    written = {"data_dir": settings.path(settings.data_dir), "database": database,
               "mailbox.path": settings.path(settings.mailbox.path), "outbox.path": settings.path(settings.outbox.path)}
    # The OAuth2 blocks are commented out in the example; their paths are what an operator copies.
    tokens = re.findall(r"refresh_token_file:\s*(\S+)", text)
    assert tokens, "the example config no longer shows oauth2.refresh_token_file"
    written |= {f"refresh_token_file {i}": settings.path(t) for i, t in enumerate(tokens)}
    for what, path in written.items():
        assert under(PurePosixPath(str(path)), writable(daemon)), f"{what} {path} is read-only under mailbot.service"
        assert not under(PurePosixPath(str(path)), [home / "config", PurePosixPath("/etc")]), what
    # The board writes the SQLite database (sign-in links, 诉求 commands as rows) and nothing else.
    assert under(database, writable(web)) and not under(database.parent / "x", [home / "config"])


def code_reads() -> set[str]:
    """Every environment variable mailbot may read: the `*_env` defaults of the settings, the names the example
    config gives (`{env: …}`, `…_env:`, commented blocks included), and the names read in the code itself."""
    names: set[str] = set()

    def defaults(model: type[BaseModel]) -> None:
        for name, field in model.model_fields.items():
            if name.endswith("_env") and isinstance(field.default, str):
                names.add(field.default)
            if isinstance(field.default, BaseModel):
                defaults(type(field.default))

    defaults(Settings)
    example = (PROJECT / "config/mailbot.example.yaml").read_text(encoding="utf-8")
    names |= set(re.findall(r"(?:\benv|_env):\s*([A-Z][A-Z0-9_]+)", example))
    for source in (PROJECT / "mailbot").rglob("*.py"):
        names |= set(re.findall(r"environ(?:\.get)?\s*[(\[]\s*[\"']([A-Z][A-Z0-9_]+)[\"']",
                                source.read_text(encoding="utf-8")))
    return names | {logformat.ENV, preflight.ALLOW_ENV}


def test_the_containers_get_only_variables_the_code_reads(compose: dict) -> None:  # type: ignore[type-arg]
    known = code_reads()
    assert {"MAILBOT_HOME", "MAILBOT_WEB_SECRET", "MAILBOT_DB_PASSWORD", "MAILBOT_LOG_FORMAT"} <= known
    ours = {name: s for name, s in compose["services"].items() if "build" in s}
    assert set(ours) == {"mailbot", "web"}
    for name, s in ours.items():
        assert set(s.get("environment", {})) <= known, f"compose service {name} passes a variable nothing reads"
        assert s["env_file"] == "../secrets.env" and s["build"]["dockerfile"] == "deploy/Dockerfile"
        assert s["environment"][logformat.ENV] in logformat.FORMATS
    # secrets.env, whose names the example lists: each read by mailbot or by the PostgreSQL image beside it.
    listed = re.findall(r"^([A-Z][A-Z0-9_]*)=", (DEPLOY / "secrets.env.example").read_text(encoding="utf-8"), re.M)
    postgres = [n for n in listed if n.startswith("POSTGRES_")]
    assert set(listed) - set(postgres) <= known and postgres == ["POSTGRES_PASSWORD"]
    assert compose["services"]["db"]["image"].startswith("postgres:")
    # What the code reads by default with no setting to change it must be in the list: without the web secret the
    # board refuses to start.
    assert {WebSettings().secret_env, "MAILBOT_DB_PASSWORD"} <= set(listed)


def test_the_containers_run_real_commands_and_check_health_with_mailbot_status(compose: dict) -> None:  # type: ignore[type-arg]
    docker = dockerfile(DEPLOY / "Dockerfile")
    cmd = json.loads(docker["CMD"][-1])
    assert cmd[:2] == ["sh", "-c"]
    assert [parses(a, "Dockerfile CMD") for a in mailbot_commands(cmd[2])] == ["db", "run"]
    web = compose["services"]["web"]
    assert web["command"][0] == MAILBOT and parses(web["command"][1:], "compose web") == "web"
    # The image's health check is `mailbot status`, passing on healthy (0) and warning (1), failing on an alarm.
    health = docker["HEALTHCHECK"][-1].split(" CMD ", 1)[1]
    assert [parses(a, "HEALTHCHECK") for a in mailbot_commands(health)] == ["status"]
    assert "[ $? -le 1 ]" in health and (EXIT["ok"], EXIT["warning"], EXIT["alarm"]) == (0, 1, 2)
    # The board's own check asks a page every visitor may see, on the port it listens on and compose publishes.
    probe = " ".join(web["healthcheck"]["test"])
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*?)'", probe)
    assert url is not None
    port = int(url.group(1))
    assert port == WebSettings().port and web["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert f'Route("{url.group(2)}", board.signin_form, methods=["GET"])' in \
        (PROJECT / "mailbot/web/site.py").read_text(encoding="utf-8")


def test_the_readme_walks_through_every_deploy_file() -> None:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    deploying = readme.split("\n## Deploying\n", 1)[1].split("\n## ", 1)[0]
    for f in sorted(DEPLOY.iterdir()):
        assert f"deploy/{f.name}" in deploying, f"README \"Deploying\" does not mention deploy/{f.name}"
