"""Print how the shared real-world corpus is classified, as a Markdown table.

Run as `.venv/bin/python tests/parsers/corpus_table.py` (the README's corpus
table is this script's output).  Every file under ../shared/corpus/ except
the corpus's own notes (*.md, *.csv) goes through `parse_message`; each row
counts one source directory's files by `kind`, the files refused as
unreadable (with their reasons below the table), and the files whose text
needed a charset guess (a decoding warning).  `test_corpus.py` pins the same
counts through `classify_corpus`, so the table and the test cannot disagree.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[2]))

from parsers import UnreadableMessage, parse_message  # noqa: E402

CORPUS = HERE.parents[3] / "shared" / "corpus"
KINDS = ("bounce", "auto_reply", "monthly_report", "urgent_report", "unknown")
# A decoding warning from parsers/charsets.py always ends in "…解码" (read with a guessed charset).
CHARSET_MARK = "解码"


@dataclass
class SourceCount:
    """One corpus source directory's figures."""

    files: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    unreadable: Counter[str] = field(default_factory=Counter)   # reason → files
    charset_guessed: int = 0


def corpus_files(root: Path = CORPUS) -> list[Path]:
    """Every corpus data file, sorted; the corpus's notes and index are not messages."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix not in (".md", ".csv"))


def source_of(path: Path, root: Path = CORPUS) -> str:
    """The source directory a file belongs to (MANIFEST.md's "Dir" column)."""
    return path.relative_to(root).parts[0]


def classify_corpus(paths: Iterable[Path], root: Path = CORPUS) -> dict[str, SourceCount]:
    """Parse every file; source directory → its counts."""
    table: dict[str, SourceCount] = {}
    for path in paths:
        row = table.setdefault(source_of(path, root), SourceCount())
        row.files += 1
        try:
            parsed = parse_message(path.read_bytes())
        except UnreadableMessage as exc:
            row.unreadable[exc.reason] += 1
            continue
        row.kinds[parsed.kind] += 1
        if any(CHARSET_MARK in w.message for w in parsed.warnings):
            row.charset_guessed += 1
    return table


def markdown(table: dict[str, SourceCount]) -> str:
    """The table, a totals row, then the reasons for every unreadable file."""
    head = ["source", "files", *KINDS, "unreadable", "charset guessed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    total = SourceCount()
    for name in sorted(table):
        row = table[name]
        total.files += row.files
        total.kinds.update(row.kinds)
        total.unreadable.update(row.unreadable)
        total.charset_guessed += row.charset_guessed
        lines.append(_row(f"`{name}/`", row))
    lines.append(_row("**total**", total))
    if total.unreadable:
        lines.append("")
        lines.append("Unreadable files (refused with `UnreadableMessage`, exit status 2), by reason:")
        lines.append("")
        for reason, count in total.unreadable.most_common():
            lines.append(f"- {count} × {reason}")
    return "\n".join(lines)


def _row(name: str, row: SourceCount) -> str:
    cells = [name, str(row.files), *(str(row.kinds.get(k, 0)) for k in KINDS),
             str(sum(row.unreadable.values())), str(row.charset_guessed)]
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    files = corpus_files()
    if not files:
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 1
    print(markdown(classify_corpus(files)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
