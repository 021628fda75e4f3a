"""`mailbot run` refuses to start on the example's fictional people outside demo mode.

The operator copies directory.example.yaml to directory.yaml and forgets to replace the units: the daemon would
mail requests to …@gd.example.cn through the real server. It stops with what to change, before the database is
touched; the demo (the example file itself, the embedded default) and an explicit opt-in still run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from mailbot.cli import main
from mailbot.daemon import preflight
from tests.support.mailflow import PROJECT

EXAMPLE = PROJECT / "config/directory.example.yaml"
OURS = {"hq": {"staff": [{"id": "wangfang", "name": "王芳", "email": "wangfang@hq.cngas.cn"}],
               "duty": ["wangfang"], "bulletin": ["wangfang"]},
        "units": [{"code": "GD", "name": "广东分公司", "contacts": [{"name": "李明", "email": "liming@gd.cngas.cn"}]}],
        "customers": {}}


def install(home: Path, people: dict | None = None, **settings: object) -> Path:  # type: ignore[type-arg]
    """config/mailbot.yaml and config/directory.yaml under `home`: the example copied, or `people`."""
    (home / "config").mkdir(parents=True)
    if people is None:
        shutil.copy(EXAMPLE, home / "config/directory.yaml")
    else:
        (home / "config/directory.yaml").write_text(yaml.safe_dump(people, allow_unicode=True), encoding="utf-8")
    config = {"data_dir": str(home / "data"), "database": {"url": f"sqlite:///{home / 'data/mailbot.sqlite3'}"},
              "directory": str(home / "config/directory.yaml"),
              "identity": {"address": "kcr@hq.cngas.cn", "token_secret_env": None}, "operator": "ops@hq.cngas.cn",
              **settings}
    path = home / "config/mailbot.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def test_a_copied_example_directory_stops_the_daemon_before_the_database_is_touched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(preflight.ALLOW_ENV, raising=False)
    config = install(tmp_path)
    for args in (["run", "--once"], ["run"]):
        assert main(["--config", str(config), *args]) == 1
        said = capsys.readouterr().err.strip().splitlines()
        assert len(said) == 1 and said[0].startswith(f"mailbot: {tmp_path / 'config/directory.yaml'}: example "
                                                     "addresses in force (")
        assert "(liming@gd.example.cn, " in said[0] and " more)" in said[0] and "Replace the example units, people and customers" in said[0]
        assert preflight.ALLOW_ENV in said[0] and "config/directory.example.yaml" in said[0]
    assert not (tmp_path / "data/mailbot.sqlite3").exists()
    # The opt-in lets it through (a test's own directory, knowingly).
    monkeypatch.setenv(preflight.ALLOW_ENV, "1")
    preflight.check(config)


def test_the_bot_or_the_operator_on_an_example_domain_is_refused_too(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(preflight.ALLOW_ENV, raising=False)
    preflight.check(install(tmp_path / "a", OURS))   # a real directory, real addresses: it starts
    with pytest.raises(Exception, match=r"example addresses in force \(it-ops@hq\.example\.cn\)"):
        preflight.check(install(tmp_path / "b", OURS, operator="it-ops@hq.example.cn"))
    with pytest.raises(Exception, match=r"\(kcr@example\.com\)"):
        preflight.check(install(tmp_path / "c", OURS, identity={"address": "kcr@example.com"}))


def test_the_demo_runs_the_example_file_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    # The embedded default (no config, no directory.yaml: `make run`) and a config naming the example file.
    monkeypatch.delenv(preflight.ALLOW_ENV, raising=False)
    (tmp_path / "config").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "config/directory.example.yaml")
    monkeypatch.setenv("MAILBOT_HOME", str(tmp_path))
    preflight.check(None)
    preflight.check(install(tmp_path / "named", OURS, directory=str(EXAMPLE)))
    assert "demo mode" in caplog.text


@pytest.mark.parametrize(("address", "example"), [
    ("liming@gd.example.cn", True), ("a@EXAMPLE.COM", True), ("a@x.example.org.", True), ("a@intra.example", True),
    ("a@myexample.cn", False), ("a@example.cn.cngas.cn", False), ("alice@example.test", False)])
def test_which_domains_are_examples(address: str, example: bool) -> None:
    assert preflight.is_example_domain(address) is example
