"""Before the daemon acts on real mail: refuse a directory that still holds the example's fictional people.

An installation copies `config/directory.example.yaml` to `config/directory.yaml` and is meant to replace the
example units and people. Forgotten, the daemon would mail requests, reminders and escalations to
`…@gd.example.cn` through the real server — `example.cn` is not a reserved name, so that is mail to strangers —
and believe whoever writes from those addresses. So `mailbot run` refuses to start while the directory in force
(or the bot's own address, or the operator's) is on an example domain, except in demo mode:

- the directory in force *is* the example file (`directory.example.yaml`): the embedded default
  (no `config/directory.yaml` yet, `make run`), or a config that names that file on purpose — the demo, the
  tests, the benchmarks;
- `MAILBOT_ALLOW_EXAMPLE_DIRECTORY=1` in the environment: any other file, knowingly (a test's own directory).

The other commands are not stopped: they are run by hand, and `check-config` and `status` must work while the
directory is being written.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from mailbot.directory.config import EMAIL, Directory, load_directory
from mailbot.errors import ConfigError
from mailbot.settings import Settings, load_settings

log = logging.getLogger(__name__)

ALLOW_ENV = "MAILBOT_ALLOW_EXAMPLE_DIRECTORY"
EXAMPLE_FILE = "directory.example.yaml"
# The example files' domains (hq.example.cn, sgcc.example.com…) and RFC 2606's reserved ones, with subdomains.
EXAMPLE_DOMAINS = ("example.cn", "example.com", "example.org", "example.net", "example")


def is_example_domain(address: str) -> bool:
    domain = address.rpartition("@")[2].strip().lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in EXAMPLE_DOMAINS)


def directory_addresses(directory: Directory) -> Iterable[str]:
    """Every address the directory names: people the bot writes to and believes."""
    for u in directory.units:
        yield from (c.email for c in u.contacts)
        if u.leader is not None:
            yield u.leader.email
    yield from (s.email for s in directory.hq.staff)
    yield from (ref for ref in (*directory.hq.bulletin, *directory.hq.reception) if EMAIL.match(ref))
    for c in (*directory.customers.strategic, *directory.customers.vip):
        yield from (p.email for p in c.contacts)


def example_addresses(settings: Settings, directory: Directory) -> list[str]:
    """The addresses in force that are on an example domain, the bot's and the operator's first."""
    named = [settings.identity.address, settings.operator, *directory_addresses(directory)]
    return list(dict.fromkeys(a for a in named if is_example_domain(a)))


def example_directory_in_force(settings: Settings) -> bool:
    """The directory in force is the example file itself: the demo, `make run`, the tests."""
    return settings.path(settings.directory).name == EXAMPLE_FILE


def demo_mode(settings: Settings, environ: Mapping[str, str]) -> bool:
    return example_directory_in_force(settings) or environ.get(ALLOW_ENV, "") == "1"


def refuse_example_addresses(settings: Settings, directory: Directory, environ: Mapping[str, str]) -> None:
    """Raise a ConfigError saying what to change when a real installation still holds example addresses."""
    found = example_addresses(settings, directory)
    if not found:
        return
    if demo_mode(settings, environ):
        log.warning("demo mode: the directory in force is %s, with example addresses (%s…); mail goes to them",
                    settings.path(settings.directory), found[0])
        return
    shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
    raise ConfigError(
        f"{settings.path(settings.directory)}: example addresses in force ({shown}): the daemon does not start "
        f"with them. Replace the example units, people and customers with yours (and identity.address and "
        f"operator in {settings.source}); to run the example on purpose, point `directory:` at "
        f"config/{EXAMPLE_FILE} (demo mode), or set {ALLOW_ENV}=1")


def check(config: Path | None) -> None:
    """`mailbot run`'s check, before anything is loaded into the database."""
    settings = load_settings(config)
    refuse_example_addresses(settings, load_directory(settings.path(settings.directory)), os.environ)
