"""Reading the deploy files as systemd and Docker read them, for the tests of tests/deploy/.

A unit file is sections of `Key=Value` lines; a key may repeat (ExecStartPre=, ReadWritePaths=), a line ending in
a backslash continues, `#` and `;` start comments. An Exec line may start with prefixes that change how systemd
runs it (`-` ignore failure, `@`, `:`, `+`, `!`, `!!`), which are not part of the command.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

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
