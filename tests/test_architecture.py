"""The dependency rule holds: layers import only downwards, and no module reaches itself again.

`lint-imports` checks the layers of pyproject.toml's contract; the cycle check here also follows imports under
TYPE_CHECKING and inside functions (grimp sees both), so no workaround can hide a cycle. Each check is also run
on a copy of the tree with one forbidden import added, to show it fails when it should.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

# Not tests.support.mailflow's PROJECT: this module must import nothing of mailbot (it is run on broken copies).
PROJECT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def cycles(*packages: str) -> list[list[str]]:
    """Every group of modules that import each other, directly or not (strongly connected, more than one)."""
    graph = grimp.build_graph(*packages)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                other = stack.pop()
                group.append(other)
                if other == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def copy_of_the_tree(tmp_path: Path, module: str, line: str) -> Path:
    """The packages and the contract in a scratch folder, with `line` added at the top of `module`."""
    for name in ("mailbot", "parsers"):
        shutil.copytree(PROJECT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "pyproject.toml", tmp_path)
    path = tmp_path / (module.replace(".", "/") + ".py")
    path.write_text(line + "\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_no_module_imports_itself_back() -> None:
    assert cycles("mailbot", "parsers") == []


def test_the_layers_hold() -> None:
    result = lint(PROJECT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_pure_module_reaching_up_breaks_the_contract(tmp_path: Path) -> None:
    root = copy_of_the_tree(tmp_path, "mailbot.domain.tokens", "from mailbot.pipeline import intake  # noqa")
    result = lint(root)
    assert result.returncode != 0
    assert "mailbot.domain is not allowed to import mailbot.pipeline" in result.stdout


def test_a_cycle_hidden_in_a_function_is_found(tmp_path: Path) -> None:
    # reports.store → requests.store already; a function-level import back closes a cycle.
    root = copy_of_the_tree(tmp_path, "mailbot.requests.store",
                            "def _late() -> None:\n    from mailbot.reports import store  # noqa\n")
    code = ("import sys, json; sys.path.insert(0, sys.argv[1]); sys.path.insert(1, sys.argv[2]);"
            "from tests.test_architecture import cycles; print(json.dumps(cycles('mailbot', 'parsers')))")
    out = subprocess.run([sys.executable, "-c", code, str(root), str(PROJECT)], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert "mailbot.reports.store" in out and "mailbot.requests.store" in out


def test_the_command_line_loads_no_database_or_renderer_until_a_command_needs_them() -> None:
    # `mailbot parse` and `--help` are run by people at a prompt and by scripts per message: a package's
    # __init__ re-exporting its models once made every call load SQLAlchemy, Jinja2 and the charts (1.9 s → 0.3 s).
    code = ("import sys; import mailbot.cli; heavy = ('sqlalchemy', 'weasyprint', 'jinja2', 'pygal', 'apscheduler',"
            " 'exchangelib'); print(' '.join(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=60,
                         check=True).stdout
    assert out.strip() == ""
