"""Follow README "Deploying" line by line on a scratch root, as root, and say what each line did or why it did not.

    .venv/bin/python tools/follow_deploying.py [--keep]

The sh block is read from README.md itself, so a change to the README is what gets followed. Each line is printed
(`$ …`), then one status line per command of it: `ran`, `checked` (looked at instead of run) or `skipped — why`,
then `edited` where its comment asks the operator to edit something. The first failing step stops the walk with
`FAILED: …` and exit status 1; it ends with `Not covered:`, the list of what this walk could not do.

The scratch root stands for a Debian 12 host before the first line: /etc/passwd and /etc/group (copies of this
host's, so a new system uid is one nobody here has), /etc/sysusers.d, /etc/systemd/system, /var/lib, and the
project in /opt/mailbot (the files `git ls-files` lists, tracked or new: a checkout of this working tree). Paths
under /etc, /var/lib and /opt/mailbot are moved under it; the working directory is its /opt/mailbot.

- `systemd-sysusers` runs for real with `--root`: the `mailbot` user exists in the scratch root's /etc/passwd
  only, never in this host's, so it is safe in CI. Commands "as mailbot" run with its uid and gid (setuid from
  this script), which is what `sudo -u mailbot` does, without sudo's name lookup.
- `make production` is not run: `make -n` shows the pip line installs `.` with no extras, dpkg says whether the
  Debian packages are there, and the `.venv` is a thin one (tests/deploy/test_unit_start.py's) over this
  project's venv, with the copy first on its path — so the code that runs is the copy's, as after `pip install
  -e .` in /opt/mailbot. A real venv with pip takes ~6 s and the packages would need the network.
- After a line whose comment says "then edit", "then replace" or "then fill in", the edits an operator makes: the
  bot's address and the operator on a domain of their own, the example directory moved off the example domains,
  the secrets the config names filled in and the rest dropped; the mailbox and outbox stay the example's Maildir
  and file outbox under data/.
- `systemctl` is not run (no systemd here): the copied units must be deploy/'s (whose commands
  test_unit_start.py runs), name the sysusers user and run commands that exist; `--now` becomes what systemd
  would do for the daemon: the StateDirectory, the EnvironmentFile, `ExecStartPre`, then a mail dropped into the
  Maildir and `ExecStart` with `--once`, which must hand the mail to the unit's 总部对接人 through the outbox.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import filecmp
import os
import re
import secrets
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pytest  # noqa: E402 - install_venv reports an unusable interpreter with pytest.skip
import yaml  # noqa: E402
from sqlalchemy import create_engine, select  # noqa: E402

from mailbot.db.models import InboundMessage  # noqa: E402
from mailbot.demo import replies  # noqa: E402
from mailbot.settings import load_settings  # noqa: E402
from tests.deploy.units import (  # noqa: E402
    DEPLOY,
    PROJECT,
    command,
    environment,
    install_venv,
    moved,
    read_unit,
    service,
    snapshot,
)

README = PROJECT / "README.md"
DOMAIN = "gas.test"                 # the operator's own domain: not one the daemon refuses as an example
EXAMPLE = re.compile(r"\bexample\.(cn|com|org|net)\b")
SUDO_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"   # Debian's sudoers secure_path
SKELETON = ("etc/sysusers.d", "etc/systemd/system", "var/lib", "opt")
TIMEOUT = 60

# What no line of the walk can reach, whatever the README says.
ALWAYS_UNCOVERED = [
    "systemd itself: the units are checked and their commands run, but not by systemd — no sandbox "
    "(ProtectSystem=strict is approximated by ownership), no Restart=, no journal, no SIGHUP reload",
    "the host's user database: the mailbot user lives in the scratch root's /etc/passwd; sudo is not run "
    "(its environment reset is imitated: PATH, HOME, USER, LOGNAME, SHELL, LANG)",
    "pip and apt: `make production` is read with `make -n`, its venv is a thin one over this project's packages",
    "Debian 12 itself: the commands are this host's (cp, install, make, systemd-sysusers)",
    "PostgreSQL: the walk keeps the example's SQLite (check-config reports either's schema without upgrading "
    "it: tests/test_cli.py)",
    "the network servers: the example's Maildir and file outbox need no login (tests/deploy/test_unit_start.py "
    "logs in to Dovecot by XOAUTH2 from the unit's commands)",
]


class Failed(Exception):
    pass


@dataclass
class Walk:
    """The scratch host and what the walk learnt on the way."""

    root: Path
    user: str | None = None
    uid: int = -1
    gid: int = -1
    uncovered: list[str] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return self.root / "opt/mailbot"

    def path(self, arg: str) -> str:
        """A path of the README under the scratch root (relative ones stay relative to /opt/mailbot)."""
        if not arg.startswith("/"):
            return arg
        if arg.startswith(("/etc/", "/var/lib/", "/opt/mailbot")):
            return str(self.root / arg.lstrip("/"))
        raise Failed(f"{arg}: a path outside /etc, /var/lib and /opt/mailbot, which this walk does not move")

    def ids(self, name: str, database: str) -> str:
        """A user or group name as the scratch root's /etc/passwd or /etc/group resolves it."""
        for line in (self.root / "etc" / database).read_text().splitlines():
            fields = line.split(":")
            if fields[0] == name:
                return fields[2]
        raise Failed(f"{name}: no such {'user' if database == 'passwd' else 'group'} in the scratch /etc/{database}")

    def as_user(self, argv: list[str], env: dict[str, str], what: str) -> str:
        """Run argv as the service user in /opt/mailbot: its standard output, or Failed with all it printed."""
        proc = subprocess.run(argv, cwd=self.home, env=env, user=self.uid, group=self.gid, extra_groups=[],
                              umask=0o022, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=TIMEOUT)
        if proc.returncode != 0:
            raise Failed(f"{what}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
        return proc.stdout.strip()


def say(status: str, text: str) -> None:
    print(f"  {status:8} {text}", flush=True)


def deploying_block(readme: str) -> list[str]:
    """The lines of the first sh block under "## Deploying" (blank lines left out)."""
    section = readme.split("\n## Deploying\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```sh\n(.*?)^```", section, re.S | re.M)
    if match is None:
        raise Failed("README.md: no ```sh block in the Deploying section")
    return [line for line in match.group(1).splitlines() if line.strip()]


def split_line(line: str) -> tuple[list[list[str]], str]:
    """A README line as its commands (argv each, `&&` between them) and its trailing comment."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token == "&&":
            commands.append([])
        elif token in (";", "|", "||", "&", ">", "<", ">>"):
            raise Failed(f"{token!r}: shell syntax this walk does not follow (only `&&` between commands)")
        else:
            commands[-1].append(token)
    comment = line.split(" #", 1)[1].strip() if " #" in line else ""
    return [c for c in commands if c], comment


# --- the commands of the README ------------------------------------------------------------------------------


def run_here(walk: Walk, argv: list[str]) -> None:
    proc = subprocess.run(argv, cwd=walk.home, capture_output=True, text=True, timeout=TIMEOUT)
    if proc.returncode != 0:
        raise Failed(f"{shlex.join(argv)}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}")


def do_cp(walk: Walk, argv: list[str]) -> None:
    moved_argv = [argv[0], *(walk.path(a) for a in argv[1:])]
    run_here(walk, moved_argv)
    say("ran", shlex.join(moved_argv).replace(str(walk.root), "<root>"))


def do_install(walk: Walk, argv: list[str]) -> None:
    out, args = [argv[0]], iter(argv[1:])
    for a in args:
        if a in ("-o", "--owner", "-g", "--group"):
            name = next(args)
            out += [a, walk.ids(name, "passwd" if a in ("-o", "--owner") else "group")]
        elif a in ("-m", "--mode"):
            out += [a, next(args)]
        else:
            out.append(walk.path(a))
    run_here(walk, out)
    say("ran", shlex.join(out).replace(str(walk.root), "<root>") + "   (names resolved in the scratch /etc)")


def do_sysusers(walk: Walk, argv: list[str]) -> None:
    run_here(walk, [argv[0], f"--root={walk.root}", *argv[1:]])
    conf = [line.split() for line in (DEPLOY / "mailbot.sysusers").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    (user,) = [fields[1] for fields in conf if fields[0] == "u"]
    walk.user = user
    walk.uid, walk.gid = int(walk.ids(user, "passwd")), int(walk.ids(user, "group"))
    if any(line.split(":")[2] == str(walk.uid) for line in Path("/etc/passwd").read_text().splitlines()):
        raise Failed(f"uid {walk.uid} is taken on this host: the scratch /etc/passwd was not this host's copy")
    say("ran", f"{argv[0]} --root=<root>: user {user} uid {walk.uid} gid {walk.gid}, in the scratch /etc only")


def do_make(walk: Walk, argv: list[str]) -> None:
    if argv[1:] != ["production"]:
        raise Failed(f"{shlex.join(argv)}: a make target this walk does not know")
    dry = subprocess.run(["make", "-n", "production"], cwd=walk.home, capture_output=True, text=True,
                         timeout=TIMEOUT)
    pip = [line for line in dry.stdout.splitlines() if "pip install" in line and "--upgrade pip" not in line]
    if dry.returncode != 0 or len(pip) != 1 or shlex.split(pip[0])[-1] != "." or "[" in pip[0]:
        raise Failed(f"make -n production: expected one `pip install … .` without extras\n{dry.stdout}{dry.stderr}")
    say("checked", f"make -n production installs the project without extras: {pip[0].strip()}")
    debs = subprocess.run(["make", "-s", "--eval", "print-debs: ; @echo $(DEBS)", "print-debs"], cwd=walk.home,
                          capture_output=True, text=True, timeout=TIMEOUT).stdout.split()
    query = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", *debs],
                           capture_output=True, text=True, timeout=TIMEOUT) if shutil.which("dpkg-query") else None
    installed = {p for p, _, s in (line.partition(" ") for line in (query.stdout if query else "").splitlines())
                 if s == "installed"}
    missing = [d for d in debs if d not in installed]
    if not debs:
        raise Failed("make: the Makefile's DEBS (make production's Debian packages) is empty or gone")
    if missing:
        say("skipped", f"apt-get install {' '.join(missing)} — this walk installs no Debian packages")
        walk.uncovered.append(f"the Debian packages not on this host: {' '.join(missing)}")
    else:
        say("checked", f"the {len(debs)} Debian packages of make system-deps are installed")
    try:
        install_venv(walk.home / ".venv", str(walk.user))
    except pytest.skip.Exception as e:
        raise Failed(f".venv: {e}") from None
    site = next((walk.home / ".venv/lib").glob("python3*/site-packages"))
    (site / "opt-mailbot.pth").write_text(f"{walk.home}\n")   # the copy before the editable install's finder
    where = subprocess.run([str(walk.home / ".venv/bin/python"), "-c", "import mailbot; print(mailbot.__file__)"],
                           cwd="/", capture_output=True, text=True, timeout=TIMEOUT).stdout.strip()
    if Path(where) != walk.home / "mailbot/__init__.py":
        raise Failed(f".venv: imports mailbot from {where}, not from /opt/mailbot")
    say("ran", ".venv: a thin venv over this project's packages that imports /opt/mailbot's code (pip skipped)")


def do_sudo(walk: Walk, argv: list[str]) -> None:
    if argv[1] != "-u" or argv[2] != walk.user:
        raise Failed(f"{shlex.join(argv)}: expected `sudo -u {walk.user} …` (the sysusers user)")
    home = walk.root / "var/lib" / walk.user
    env = {"PATH": SUDO_PATH, "HOME": str(home), "USER": walk.user, "LOGNAME": walk.user,
           "SHELL": "/usr/sbin/nologin", "LANG": "C.UTF-8"}
    out = walk.as_user([walk.path(a) for a in argv[3:]], env, shlex.join(argv))
    say("ran", f"{shlex.join(argv[3:])} as uid {walk.uid}, sudo's environment (not /etc/mailbot/env):")
    for line in out.splitlines():
        say("", f"| {line}")
    named = secret_names(walk)
    if named:
        # A finding, not a failure: this configuration reads no password, but one that does ({env: …}) would
        # fail here while the unit, which reads /etc/mailbot/env, would not.
        say("note", f"sudo's environment lacks {', '.join(sorted(named))} (the config names it; only the units "
                    f"read /etc/mailbot/env): a password given as {{env: …}} would fail this line")
        walk.uncovered.append("check-config with secrets: sudo does not pass /etc/mailbot/env (see the note)")


def do_systemctl(walk: Walk, argv: list[str]) -> None:
    if argv[1] != "enable":
        raise Failed(f"{shlex.join(argv)}: a systemctl verb this walk does not know")
    names = [a for a in argv[2:] if not a.startswith("-")]
    for name in names:
        copied = walk.root / "etc/systemd/system" / f"{name}.service"
        if not copied.exists():
            raise Failed(f"{name}.service: not in /etc/systemd/system, which `systemctl enable` needs")
        if not filecmp.cmp(copied, DEPLOY / copied.name, shallow=False):
            raise Failed(f"{copied.name}: not deploy/{copied.name}, whose commands tests/deploy/ run")
        unit = read_unit(copied)
        if (service(unit, "User"), service(unit, "Group")) != (walk.user, walk.user):
            raise Failed(f"{copied.name}: User=/Group= is not the sysusers user {walk.user}")
        lines = [v for k in ("ExecStartPre", "ExecStart") for v in unit["Service"].get(k, [])]
        for line in lines:
            program = Path(moved(walk.root, command(line)[0]))
            if not os.access(program, os.X_OK):
                raise Failed(f"{copied.name}: {command(line)[0]} is not there to run")
        tested = ", whose commands tests/deploy/test_unit_start.py runs" if name == "mailbot" else ""
        say("checked", f"{copied.name}: the same as deploy/{copied.name}{tested}; User={walk.user}; "
                       f"runs {'; '.join(lines)}")
    if "--now" not in argv:
        return
    for name in names:
        if name == "mailbot":
            start_daemon(walk)
        else:
            say("skipped", f"starting {name} — the board is optional (README: only if you use it) and this "
                           f"operator uses none; tests/web starts `mailbot web`")
            walk.uncovered.append(f"{name}.service not started (the board needs MAILBOT_WEB_SECRET and a proxy)")


def start_daemon(walk: Walk) -> None:
    """What systemd does for `systemctl start mailbot`, with `mailbot run --once` for the daemon."""
    unit = read_unit(walk.root / "etc/systemd/system/mailbot.service")
    state = walk.root / "var/lib" / service(unit, "StateDirectory")
    state.mkdir(mode=int(service(unit, "StateDirectoryMode"), 8), exist_ok=True)
    os.chown(state, walk.uid, walk.gid)
    env = environment(Path(moved(walk.root, service(unit, "EnvironmentFile").lstrip("-"))), state, str(walk.user),
                      home=str(state))
    if Path(moved(walk.root, service(unit, "WorkingDirectory"))) != walk.home:
        raise Failed("mailbot.service: WorkingDirectory= is not /opt/mailbot")
    config = walk.home / "config"
    before = snapshot(config)
    for line in unit["Service"]["ExecStartPre"]:
        out = walk.as_user([moved(walk.root, a) for a in command(line)], env, f"ExecStartPre={line}")
        say("ran", f"ExecStartPre={line} as uid {walk.uid} with /etc/mailbot/env: {out.splitlines()[-1]}")
    settings = load_settings(home=walk.home)   # where the daemon keeps its database and outbox, as it reads them
    contact, staff = drop_mail(walk)
    line = service(unit, "ExecStart")
    out = walk.as_user([*(moved(walk.root, a) for a in command(line)), "--once"], env, f"ExecStart={line} --once")
    say("ran", f"ExecStart={line} --once (instead of the daemon's loop): {out.splitlines()[-1]}")
    database = create_engine(settings.database_url())
    with database.connect() as c:
        rows = c.execute(select(InboundMessage.from_addr, InboundMessage.status)).all()
    database.dispose()
    if [(r.from_addr, r.status) for r in rows] != [(contact, "handed_over")]:
        raise Failed(f"the mail from {contact}: expected handed over to the 总部对接人, the database says {rows}")
    outbox = settings.path(settings.outbox.path)
    sent = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in outbox.rglob("*") if p.is_file()]
    if not any(staff in str(m["To"]) for m in sent):
        raise Failed(f"{outbox}: no mail to the 总部对接人 {staff} ({[str(m['To']) for m in sent]})")
    foreign = [p for p in settings.path(settings.data_dir).rglob("*") if p.stat().st_uid != walk.uid]
    if foreign or snapshot(config) != before:
        raise Failed(f"data/ holds files not the user's ({foreign}) or config/ changed")
    say("checked", f"the mail from {contact} was handed over, {len(sent)} mail in {settings.outbox.path} (one to {staff}); "
                   f"{settings.data_dir}/ is all the user's, config/ untouched")


def drop_mail(walk: Walk) -> tuple[str, str]:
    """A question from the contact of a unit with a 总部对接人 (hq_staff), delivered into the Maildir as an MTA
    delivering to the user would; the contact's address and the 对接人's, to whom the daemon hands it over."""
    directory = yaml.safe_load((walk.home / "config/directory.yaml").read_text(encoding="utf-8"))
    staff = {s["id"]: s["email"] for s in directory["hq"]["staff"]}
    unit = next((u for u in directory["units"] if u.get("hq_staff") and u.get("contacts")), None)
    config = yaml.safe_load((walk.home / "config/mailbot.yaml").read_text(encoding="utf-8"))
    if config["mailbox"]["backend"] != "maildir":
        raise Failed("config/mailbot.yaml: not the example's Maildir, the only mailbox this walk delivers to")
    if unit is None:
        raise Failed("config/directory.yaml: no unit with a contact and a 总部对接人 (hq_staff) to write from")
    contact = (unit["contacts"][0]["name"], unit["contacts"][0]["email"])
    raw = replies.build(sender=contact, to=config["identity"]["address"], subject="关于冬季保供的请示",
                        body="请问本月用气计划何时下达？", at=datetime.now(timezone.utc))
    maildir = walk.home / config["mailbox"]["path"]
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns()}.follow.{os.uname().nodename}"
    (maildir / "tmp" / name).write_bytes(raw)
    (maildir / "tmp" / name).rename(maildir / "new" / name)
    for p in (maildir, *maildir.rglob("*")):
        os.chown(p, walk.uid, walk.gid)
    say("ran", f"a question from {contact[1]} delivered into {config['mailbox']['path']}/new (as the user, as an MTA would)")
    return contact[1], staff[unit["hq_staff"]]


# --- the operator's edits --------------------------------------------------------------------------------------


def edit_config(walk: Walk, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    edited = re.sub(r"^(  address: )\S+", rf"\1kcr@hq.{DOMAIN}", text, count=1, flags=re.M)
    edited = re.sub(r"^(operator: )\S+", rf"\1it-ops@hq.{DOMAIN}", edited, count=1, flags=re.M)
    if edited.count(DOMAIN) != 2:
        raise Failed(f"{path.name}: identity.address or operator not where an operator would look for them")
    path.write_text(edited, encoding="utf-8")
    say("edited", f"config/mailbot.yaml: identity.address kcr@hq.{DOMAIN}, operator it-ops@hq.{DOMAIN}; "
                  f"mailbox and outbox left as the example's (Maildir data/mail, file outbox data/outbox)")


def edit_directory(walk: Walk, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    edited, n = EXAMPLE.subn(DOMAIN, text)
    path.write_text(edited, encoding="utf-8")
    say("edited", f"config/directory.yaml: the example's units and people moved to {DOMAIN} ({n} addresses)")


def secret_names(walk: Walk) -> set[str]:
    """The environment variables config/mailbot.yaml names (`…_env: NAME`, `{env: NAME}`), comments left out."""
    text = (walk.home / "config/mailbot.yaml").read_text(encoding="utf-8")
    config = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return set(re.findall(r"_env: (\w+)", config)) | set(re.findall(r"\{env: (\w+)\}", config))


def edit_env(walk: Walk, path: Path) -> None:
    """Fill in the secrets the config names; drop the others (README: keep the ones your mailbot.yaml names)."""
    named = secret_names(walk)
    listed = [line.split("=", 1)[0] for line in path.read_text().splitlines() if "=" in line and line[0] != "#"]
    if named - set(listed):
        raise Failed(f"{path.name}: the config names {sorted(named - set(listed))}, which secrets.env.example lacks")
    path.write_text("".join(f"{name}={secrets.token_hex(32)}\n" for name in sorted(named)))
    say("edited", f"/etc/mailbot/env: {', '.join(sorted(named)) or 'nothing'} filled in, "
                  f"{len(set(listed) - named)} unused names dropped")


EDITS: dict[str, Callable[[Walk, Path], None]] = {
    "config/mailbot.yaml": edit_config, "config/directory.yaml": edit_directory, "/etc/mailbot/env": edit_env}
COMMANDS: dict[str, Callable[[Walk, list[str]], None]] = {
    "cp": do_cp, "install": do_install, "systemd-sysusers": do_sysusers, "make": do_make, "sudo": do_sudo,
    "systemctl": do_systemctl}


def follow(walk: Walk, lines: list[str]) -> None:
    for line in lines:
        print(f"$ {line}", flush=True)
        commands, comment = split_line(line)
        for argv in commands:
            handler = COMMANDS.get(argv[0])
            if handler is None:
                raise Failed(f"{argv[0]}: a command tools/follow_deploying.py has no rule for")
            handler(walk, argv)
        if re.search(r"\bthen (edit|replace|fill in)\b", comment):
            target = commands[-1][-1]
            edit = EDITS.get(target)
            if edit is None:
                raise Failed(f"{target}: the README asks for an edit this walk does not know how to make")
            edit(walk, Path(walk.path(target)) if target.startswith("/") else walk.home / target)
    config = walk.home / "config"
    if any(p.stat().st_uid != 0 or p.stat().st_mode & 0o022 for p in (config, *config.iterdir())):
        raise Failed("config/: not all root's and closed to writes by others (README: the service never writes it)")
    env_dir = walk.root / "etc/mailbot"
    if stat.S_IMODE(env_dir.stat().st_mode) != 0o700 or stat.S_IMODE((env_dir / "env").stat().st_mode) != 0o600:
        raise Failed("/etc/mailbot: not 0700 with env 0600")
    print("checked: config/ is root's, /etc/mailbot 0700 and its env 0600")


def lay_out(root: Path) -> None:
    """A Debian 12 host before the first line: its user database, the folders the lines write into, the project."""
    root.chmod(0o755)   # the service user must reach /opt/mailbot through it
    for folder in SKELETON:
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name in ("passwd", "group"):
        shutil.copy(Path("/etc") / name, root / "etc" / name)
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=PROJECT,
                            capture_output=True, timeout=TIMEOUT)
    if listed.returncode != 0:
        raise Failed(f"git ls-files: {listed.stderr.decode()}")
    home = root / "opt/mailbot"
    for name in listed.stdout.decode().split("\0"):
        source = PROJECT / name
        if name and source.is_file():
            (home / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, home / name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--keep", action="store_true", help="leave the scratch root for inspection")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("follow_deploying: the README's lines run as root (chown, another user); run this as root",
              file=sys.stderr)
        return 2
    # Not under a 0700 parent (pytest's tmp_path is one): the service user must traverse to /opt/mailbot.
    root = Path(tempfile.mkdtemp(prefix="mailbot-deploying-"))
    walk = Walk(root)
    print(f"scratch root <root> = {root}: /etc/passwd and /etc/group (this host's), {', '.join(SKELETON)}, "
          f"the project in /opt/mailbot (git ls-files)")
    started = time.monotonic()
    try:
        lay_out(root)
        follow(walk, deploying_block(README.read_text(encoding="utf-8")))
    except Failed as e:
        print(f"FAILED: {e}", flush=True)
        return 1
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"followed README \"Deploying\" in {time.monotonic() - started:.1f} s")
    print("Not covered:")
    for item in [*walk.uncovered, *ALWAYS_UNCOVERED]:
        print(f"  - {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
