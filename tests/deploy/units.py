"""Reading the deploy files as systemd and Docker read them, for the tests of tests/deploy/.

A unit file is sections of `Key=Value` lines; a key may repeat (ExecStartPre=, ReadWritePaths=), a line ending in
a backslash continues, `#` and `;` start comments. An Exec line may start with prefixes that change how systemd
runs it (`-` ignore failure, `@`, `:`, `+`, `!`, `!!`), which are not part of the command.
"""

from __future__ import annotations

import pwd
import re
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
DEPLOY = PROJECT / "deploy"
SERVICES = ("mailbot.service", "mailbot-web.service")
EXEC_KEYS = ("ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload", "ExecStop", "ExecStopPost")

Unit = dict[str, dict[str, list[str]]]


def read_unit(path: Path) -> Unit:
    """section → key → every value given, in order."""
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        key, eq, value = line.partition("=")
        if section is None or not eq:
            raise ValueError(f"{path}:{number}: not a Key=Value line in a section: {raw!r}")
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


def service(unit: Unit, key: str) -> str:
    """The one value of a [Service] key (the last, as systemd takes it)."""
    return unit["Service"][key][-1]


def command(line: str) -> list[str]:
    """An Exec line as argv, without systemd's prefixes."""
    return shlex.split(line.lstrip("-@:+!"))


def dockerfile(path: Path) -> dict[str, list[str]]:
    """Instruction → its arguments, continuation lines joined (HEALTHCHECK keeps its CMD part)."""
    out: dict[str, list[str]] = {}
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.setdefault(word.upper(), []).append(" ".join(rest.split()))
    return out


# --- a scratch root laid out as the unit expects ---------------------------------------------------


def snapshot(folder: Path) -> dict[str, tuple[int, int, int, bytes]]:
    """Every file under a folder: mode, owner, mtime and content."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(folder))] = (st.st_mode, st.st_uid, st.st_mtime_ns,
                                           p.read_bytes() if p.is_file() else b"")
    return out


def moved(root: Path, path: str) -> str:
    """A path of the unit, under the scratch root."""
    return str(root / path.lstrip("/")) if path.startswith(("/opt/mailbot", "/var/lib/", "/etc/mailbot")) else path


def runnable(path: Path) -> bool:
    """Whether a user who is neither owner nor group may run `path` (every folder above it searchable)."""
    return all(p.stat().st_mode & 0o001 for p in path.parents) and path.stat().st_mode & 0o005 == 0o005


def install_venv(venv: Path, user: str) -> None:
    """/opt/mailbot/.venv as `make production` leaves it: a venv with the `mailbot` script.

    Built thin — it reaches the project venv's packages through a .pth — from the interpreter the project venv
    was made with, or the system's of the same version when that one is out of the user's reach (pyenv under
    /root, 0700, on this machine).
    """
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [Path(sys._base_executable).resolve(), Path("/usr/bin") / version]  # type: ignore[attr-defined]
    python = next((p for p in candidates if p.exists() and runnable(p)), None)
    if python is None:
        pytest.skip(f"no {version} interpreter the user {user} may run ({', '.join(map(str, candidates))})")
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    packages = sysconfig.get_paths()["purelib"]
    (venv / "lib" / version / "site-packages" / "project.pth").write_text(
        f"import site; site.addsitedir({packages!r})\n")
    script = Path(sys.prefix, "bin", "mailbot").read_text().split("\n", 1)[1]
    (venv / "bin/mailbot").write_text(f"#!{venv}/bin/python\n{script}")
    (venv / "bin/mailbot").chmod(0o755)


def environment(env_file: Path, state: Path, user: str, home: str | None = None) -> dict[str, str]:
    """What systemd gives a User= service: its own few variables and the EnvironmentFile's, nothing of ours.
    `home`: for a user only a scratch root's /etc/passwd knows."""
    pw = pwd.getpwnam(user) if home is None else None
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": home or pw.pw_dir, "USER": user,  # type: ignore[union-attr]
           "LOGNAME": user, "SHELL": pw.pw_shell if pw else "/usr/sbin/nologin", "STATE_DIRECTORY": str(state)}
    for line in env_file.read_text().splitlines():
        name, eq, value = line.partition("=")
        if eq and not line.startswith("#"):
            env[name.strip()] = value.strip()
    return env
