"""Benchmark the parser on the shared real-world corpus, against the stdlib's bare MIME parse.

Reads every file under the corpus (default ../shared/corpus, 500-odd real and
broken messages: Foxmail, QQ, Coremail and Outlook zh-CN replies, gb2312
spam, fuzzer-style MIME, header-less reply bodies). Files that
`parsers.parse_message` refuses with UnreadableMessage (not a message at all:
raw TNEF blobs, Outlook .msg files) are counted and left out of every rate,
so all rates are over the same bytes. Then, each as the median of --repeat
interleaved rounds over the whole set (each round runs every parser once,
so load from other work on the machine hits them alike):

  (a) stdlib   `email.message_from_bytes` alone — policy compat32 (lazy: only
               the header and the MIME tree) and policy.default (EmailMessage)
  (b) parser   `parsers.parse_message` — read MIME, decode charsets and HTML,
               split quotes, read the FORM.md form, classify

and prints messages/s for each and (b) as a fraction of the stdlib rates
(target: (b) ≥ 1/3 of the bare stdlib rate). The parser necessarily decodes
every body, which the bare parse never does, so the ratio is what decoding,
quote splitting and form reading cost on top of reading the MIME structure.

Few corpus messages carry a FORM.md form, so the same two rates are also
taken over the filled-form replies in tests/fixtures/replies/*.eml — what
the pipeline mostly reads in a reporting month.

It also times the command a person runs on one file, `mailbot parse FILE
--json` (a fresh interpreter each time: median of --runs subprocess runs,
target < 0.5 s), next to a bare `python -c pass` for the interpreter floor;
with --importtime (or automatically when the target is missed) it lists the
slowest imports that command pulls in (`python -X importtime`).

    .venv/bin/python bench/bench_parse.py [--corpus ../shared/corpus] [--repeat 7] [--runs 10]
        [--file some.eml] [--importtime] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import email
import email.policy
import io
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from parsers import UnreadableMessage, parse_message  # noqa: E402 - after the path fix above

DEFAULT_CORPUS = PROJECT.parent / "shared" / "corpus"
REPLIES = PROJECT / "tests" / "fixtures" / "replies"


def load(corpus: Path, pattern: str = "*") -> tuple[list[bytes], list[Path]]:
    """(messages parse_message accepts, files it refuses) among the files matching `pattern` below `corpus`."""
    good, refused = [], []
    for f in sorted(p for p in corpus.rglob(pattern) if p.is_file()):
        raw = f.read_bytes()
        try:
            parse_message(raw)
        except UnreadableMessage:
            refused.append(f)
            continue
        good.append(raw)
    return good, refused


Rates = dict[str, list[float]]  # name → messages/s of each round


def rates(fns: dict[str, Callable[[bytes], object]], msgs: list[bytes], rounds: int) -> Rates:
    """Messages/s of each function over the whole set, interleaved: every round runs each function once,
    so a burst of load from other work on the machine hits all of them alike."""
    out: Rates = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            for raw in msgs:
                fn(raw)
            out[name].append(len(msgs) / (time.perf_counter() - t))
    return out


def ratio(r: Rates, a: str, b: str) -> float:
    """Median over rounds of rate(a)/rate(b) measured in the same round."""
    return statistics.median(x / y for x, y in zip(r[a], r[b]))


def wall(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=PROJECT)
        times.append(time.perf_counter() - t)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
    return times


def import_times(cmd: list[str], top: int = 15) -> list[tuple[int, int, str]]:
    """(cumulative µs, self µs, module) of the slowest top-level imports of `cmd`."""
    done = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, cwd=PROJECT)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cum_us, name = line[len("import time:"):].split("|")
        if not name[1:].startswith(" "):  # top level only (nesting is shown by indentation)
            rows.append((int(cum_us), int(self_us), name.strip()))
    return sorted(rows, reverse=True)[:top]


def pick_file(arg: str | None) -> Path:
    if arg:
        return Path(arg).resolve()
    replies = sorted(REPLIES.glob("*.eml"))
    if not replies:
        raise SystemExit(f"no .eml under {REPLIES}; give --file")
    return replies[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--repeat", type=int, default=7, help="interleaved rounds over the corpus (median)")
    ap.add_argument("--runs", type=int, default=10, help="subprocess runs of `mailbot parse` (median)")
    ap.add_argument("--file", help="the message for `mailbot parse` (default: the first tests/fixtures/replies/*.eml)")
    ap.add_argument("--importtime", action="store_true", help="always list the slowest imports of `mailbot parse`")
    ap.add_argument("--profile", action="store_true", help="cProfile one parse_message pass; print the top functions")
    args = ap.parse_args()
    if not args.corpus.is_dir():
        raise SystemExit(f"no corpus at {args.corpus}")

    msgs, refused = load(args.corpus)
    size = sum(len(m) for m in msgs)
    for raw in msgs:  # warm-up: regex compilation, codec look-ups, lazy imports
        parse_message(raw)
    fns: dict[str, Callable[[bytes], object]] = {
        "compat32": lambda raw: email.message_from_bytes(raw, policy=email.policy.compat32),
        "default": lambda raw: email.message_from_bytes(raw, policy=email.policy.default),
        "parser": parse_message}
    corpus = rates(fns, msgs, args.repeat)
    forms, _ = load(REPLIES, "*.eml") if REPLIES.is_dir() else ([], [])
    on_forms = rates({"compat32": fns["compat32"], "parser": parse_message}, forms, args.repeat * 4) if forms else {}

    eml = pick_file(args.file)
    py = str(PROJECT / ".venv" / "bin" / "python")
    cmd = [py, str(PROJECT / ".venv" / "bin" / "mailbot"), "parse", str(eml), "--json"]  # the console script
    floor = wall([py, "-c", "pass"], args.runs)
    cli = wall(cmd, args.runs)
    cli_med = statistics.median(cli)

    def spread(r: list[float]) -> str:
        return f"{statistics.median(r):7.0f} msg/s  (rounds {min(r):.0f}–{max(r):.0f})"

    vs_compat, vs_default = ratio(corpus, "parser", "compat32"), ratio(corpus, "parser", "default")
    print(f"corpus: {args.corpus}: {len(msgs) + len(refused)} files; {len(msgs)} messages "
          f"({size / 1e6:.1f} MB), {len(refused)} refused as UnreadableMessage; median of {args.repeat} interleaved "
          f"rounds, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"(a) stdlib message_from_bytes, compat32:       {spread(corpus['compat32'])}")
    print(f"(a) stdlib message_from_bytes, policy.default: {spread(corpus['default'])}")
    print(f"(b) parsers.parse_message:                     {spread(corpus['parser'])}")
    print(f"    (b)/(a compat32) = {vs_compat:.2f}, (b)/(a default) = {vs_default:.2f}  (median of per-round ratios; "
          f"target ≥ 0.33 against compat32: {'met' if vs_compat >= 1 / 3 else 'MISSED'})")
    if on_forms:
        print(f"form replies: {len(forms)} tests/fixtures/replies/**/*.eml ({sum(map(len, forms)) / 1e6:.1f} MB): "
              f"compat32 {statistics.median(on_forms['compat32']):.0f} msg/s, parse_message "
              f"{statistics.median(on_forms['parser']):.0f} msg/s, ratio {ratio(on_forms, 'parser', 'compat32'):.2f}")
    print(f"`mailbot parse {eml.name} --json`: median {cli_med:.3f} s of {args.runs} runs "
          f"(min {min(cli):.3f}, max {max(cli):.3f}); bare interpreter {statistics.median(floor):.3f} s  "
          f"(target < 0.5 s: {'met' if cli_med < 0.5 else 'MISSED'})")
    if refused:
        print("refused: " + ", ".join(str(f.relative_to(args.corpus)) for f in refused[:12])
              + (f", … {len(refused) - 12} more" if len(refused) > 12 else ""))

    if args.importtime or cli_med >= 0.5:
        print("slowest top-level imports of `mailbot parse` (python -X importtime, one run):")
        for cum, own, name in import_times(cmd):
            print(f"  {cum / 1000:7.1f} ms  (self {own / 1000:5.1f})  {name}")

    if args.profile or vs_compat < 1 / 3:
        prof = cProfile.Profile()
        prof.enable()
        for raw in msgs:
            parse_message(raw)
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
        print("cProfile of one parse_message pass (cumulative):")
        print("\n".join(out.getvalue().splitlines()[:60]))


if __name__ == "__main__":
    main()
