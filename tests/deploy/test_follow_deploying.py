"""README "Deploying", followed line by line on a scratch root by tools/follow_deploying.py.

The tool reads the sh block from the README, so this is the README being tested: every line must be run, checked
in place of running it, or named as skipped with the reason — a new line with a command the tool has no rule for
fails it — and the walk must end with the daemon, as its unit runs it, having handled a mail dropped into the
operator's Maildir. What the walk cannot cover is printed after `Not covered:`. Needs root (chown, another uid).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.units import PROJECT

TOOL = PROJECT / "tools/follow_deploying.py"
STATUSES = ("ran", "checked", "skipped", "edited", "note")


def readme_lines() -> list[str]:
    """The sh block under "## Deploying", read here independently of the tool."""
    section = (PROJECT / "README.md").read_text(encoding="utf-8").split("\n## Deploying\n")[1].split("\n## ")[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_deploying_is_followed_and_every_line_is_run_or_skipped_with_a_reason() -> None:
    if os.geteuid() != 0:
        pytest.skip("the README's lines run as root (chown, a service user); the walk needs root")
    proc = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True, timeout=120)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "FAILED" not in out

    walked, _, uncovered = out.partition("\nNot covered:\n")
    blocks = re.split(r"^\$ ", walked, flags=re.M)[1:]
    assert [b.split("\n", 1)[0] for b in blocks] == readme_lines()
    for block in blocks:
        line, _, body = block.partition("\n")
        statuses = [s.split()[0] for s in body.splitlines() if s.startswith("  ") and s.split()
                    and s.split()[0] in STATUSES]
        commands = line.split(" #", 1)[0].count("&&") + 1
        assert len([s for s in statuses if s in ("ran", "checked", "skipped")]) >= commands, block
        assert all(" — " in s for s in body.splitlines() if s.strip().startswith("skipped")), block   # the why
        if re.search(r"#.*\bthen (edit|replace|fill in)\b", line):
            assert "edited" in statuses, block   # the operator's edit was made, not assumed
    # The end of the walk: the unit's own commands ran as its user and the daemon handled the mail.
    assert re.search(r"ran +ExecStartPre=/opt/mailbot/\.venv/bin/mailbot db upgrade as uid \d+", out)
    assert re.search(r"checked +the mail from \S+ was handed over, \d+ mail in data/outbox", out)
    assert [item for item in uncovered.splitlines() if item.startswith("  - ")], "what it could not cover"


def test_a_line_the_walk_has_no_rule_for_stops_it_with_the_line_named(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("follow_deploying", TOOL)
    assert spec is not None and spec.loader is not None
    tool = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))   # dataclasses look it up
    spec.loader.exec_module(tool)
    walk = tool.Walk(tmp_path)
    for line, named in [("frobnicate --all   # a step added to the README", "frobnicate"),
                        ("cat /etc/mailbot/env | head", "'|'"),
                        ("systemctl daemon-reload", "systemctl daemon-reload")]:
        with pytest.raises(tool.Failed, match=re.escape(named)):
            tool.follow(walk, [line])
