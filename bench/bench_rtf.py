"""Outlook's compressed RTF: our reader (parsers/rtf.py) side by side with the libraries (issue 21).

Every PR_RTF_COMPRESSED body we can find is read two ways:

  ours       parsers.rtf.rtf_body_text: our LZFu decompressor, then our RTF reader (which rebuilds the
             HTML of a \\fromhtml1 body and hands it to parsers.htmltext)
  libraries  compressed-rtf's `decompress`, then RTFDE's DeEncapsulator for \\fromhtml1 / \\fromtext bodies
             (its HTML through the same parsers.htmltext) and striprtf for plain RTF

and each stage is also timed alone (LZFu: ours vs compressed-rtf; reading: ours vs RTFDE or striprtf on the
same decompressed bytes). The bodies come from tnefparse's and msg-extractor's test files in the shared corpus
(read in place), from the winmail.dat in tests/fixtures/replies/*.eml, and from cases built here the way a
Chinese Outlook writes them (GBK \\'hh under \\ansicpg936 or a \\fcharset134 font, \\uN, the form as table rows,
in plain RTF and as Outlook's HTML-in-RTF). For each: is the text equal (exactly, and after collapsing
whitespace), which path raised, and the median time of --runs runs. Differences are printed with the sample.

Last, hostile bodies (deep nesting, a long run of control words, an LZFu stream that expands 8-fold) are read
in a forked child with a time limit, which reports its time and peak memory.

With --html it does the same for HTML → text instead: every HTML-only message of the corpus (index.csv) and
every fixture in tests/fixtures/{replies,surveys,campaigns} through parse_message with parsers/htmltext.py and
with inscriptis in its place: is the JSON identical, are the body's words the same, and the time.

The libraries are not project dependencies (measured and refused: README "Dependencies, and why each"); install
them to run this: `.venv/bin/pip install compressed-rtf RTFDE striprtf olefile` (and `inscriptis` for --html;
it pins lxml below 6.2, so reinstall lxml afterwards).

    .venv/bin/python bench/bench_rtf.py [--corpus ../shared/corpus] [--runs 7] [--limit 60] [--quiet] [--html]
"""

from __future__ import annotations

import argparse
import email
import multiprocessing
import re
import resource
import statistics
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from parsers.htmltext import html_to_text  # noqa: E402 - after the path fix above
from parsers.rtf import decompress, rtf_body_text, rtf_to_text  # noqa: E402
from parsers.tnef import _codec, _walk  # noqa: E402

DEFAULT_CORPUS = PROJECT.parent / "shared" / "corpus"
REPLIES = PROJECT / "tests" / "fixtures" / "replies"
_PR_RTF_COMPRESSED = 0x1009


# --- the samples ------------------------------------------------------------------------------

def _rtf_of_tnef(data: bytes) -> bytes | None:
    """PR_RTF_COMPRESSED of a winmail.dat, walked with the same pre-checks read_tnef uses."""
    from tnefparse.mapi import decode_mapi  # type: ignore[import-untyped]

    walk = _walk(data)
    for block in walk.mapi_blocks:
        for prop in decode_mapi(block, _codec(walk.codepage) or "cp1252"):
            if prop.name == _PR_RTF_COMPRESSED and isinstance(prop.data, bytes):
                return bytes(prop.data)
    return None


def corpus_samples(corpus: Path) -> list[tuple[str, bytes]]:
    out = []
    for path in sorted((corpus / "tnefparse").rglob("*.tnef")):
        rtf = _rtf_of_tnef(path.read_bytes())
        if rtf:
            out.append((f"tnefparse/{path.name}", rtf))
    msgs = sorted((corpus / "msg-extractor").rglob("*.msg"))
    if msgs:
        import olefile  # type: ignore[import-untyped]  # installed with RTFDE (via oletools)

        for path in msgs:
            with olefile.OleFileIO(str(path)) as ole:
                if ole.exists("__substg1.0_10090102"):
                    out.append((f"msg-extractor/{path.name}", ole.openstream("__substg1.0_10090102").read()))
    return out


def fixture_samples() -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(REPLIES.glob("*.eml")):
        for part in email.message_from_bytes(path.read_bytes()).walk():
            if part.get_content_type() in ("application/ms-tnef", "application/vnd.ms-tnef"):
                payload = part.get_payload(decode=True)
                rtf = _rtf_of_tnef(payload) if isinstance(payload, bytes) else None
                if rtf:
                    out.append((f"fixtures/{path.name}", rtf))
    return out


def _escape(text: str, codec: str = "gb18030") -> str:
    """Text as Outlook writes it into RTF: ASCII as is, the rest as \\'hh bytes."""
    out = []
    for ch in text:
        if ch in "\\{}":
            out.append("\\" + ch)
        elif ch == "\u00a0":
            out.append("\\~")
        elif ch == "\n":
            out.append("\\par\r\n")
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append("".join(f"\\'{b:02x}" for b in ch.encode(codec)))
    return "".join(out)


def encapsulate(html: str) -> bytes:
    """HTML wrapped into RTF as a zh-CN Outlook does ([MS-OXRTFEX]): tags in \\*\\htmltag groups,
    text as GBK \\'hh bytes, each tag followed by the RTF-only formatting \\htmlrtf marks out."""
    rtf = ["{\\rtf1\\ansi\\ansicpg936\\fromhtml1 \\deff0{\\fonttbl{\\f0\\fswiss\\fcharset134 SimSun;}"
           "{\\f1\\fmodern Courier New;}}{\\colortbl\\red0\\green0\\blue0;}\r\n\\uc1\\pard\\plain\\deftab360 "]
    for tag, text in re.findall(r"(<[^>]*>)|([^<]+)", html):
        if tag:
            rtf.append("{\\*\\htmltag64 " + _escape(tag.replace("\\n", " ")) + "}")
            if tag.lower().startswith(("<td", "<p", "<br", "</tr")):
                rtf.append("\\htmlrtf {\\f0\\fs21\\cf0 }\\htmlrtf0 ")
        elif text.strip():
            rtf.append("\\htmlrtf \\f0\\htmlrtf0 " + _escape(text.replace("&nbsp;", "\u00a0")))
    rtf.append("}")
    return "".join(rtf).encode("ascii")


def built_samples() -> list[tuple[str, bytes]]:
    """The Chinese Outlook cases users meet, LZFu-compressed by compressed-rtf (a valid CRC)."""
    import compressed_rtf  # type: ignore[import-untyped]

    html_part = email.message_from_bytes((REPLIES / "outlook_zh_html_table.eml").read_bytes())
    html = next(p for p in html_part.walk() if p.get_content_type() == "text/html")
    payload = html.get_payload(decode=True)
    assert isinstance(payload, bytes)
    form_html = payload.decode(html.get_content_charset() or "utf-8")
    cases = {
        "built/gbk-ansicpg936": b"{\\rtf1\\ansi\\ansicpg936 " + _escape("风险等级：一般").encode() + b"}",
        "built/fcharset134-in-cp1252": (b"{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}{\\f1\\fcharset134 SimSun;}}"
                                        b"\\f0 Name: {\\f1 " + _escape("李明").encode() + b"}}"),
        "built/unicode-escapes": b"{\\rtf1\\ansi\\uc1 \\u26446?\\u26126\\'3f ok \\u-10179?\\u-8704?}",
        "built/table-rows-plain": (b"{\\rtf1\\ansi\\ansicpg936\\trowd\\cellx2000\\cellx6000 "
                                   + _escape("填报人：").encode() + b"\\cell " + _escape("李明").encode()
                                   + b"\\cell\\row\\trowd\\cellx2000\\cellx6000 " + _escape("风险等级：").encode()
                                   + b"\\cell " + _escape("一般").encode() + b"\\cell\\row}"),
        "built/zh-html-form-in-rtf": encapsulate(form_html),
        # The same form replied to ten times over (a long thread quoted below): about 300 kB of RTF.
        "built/zh-html-form-in-rtf-x10": encapsulate(form_html * 10),
    }
    return [(name, compressed_rtf.compress(rtf)) for name, rtf in cases.items()]


# --- the two paths ----------------------------------------------------------------------------

def _is_encapsulated(rtf: bytes) -> bool:
    # [MS-OXRTFEX] 2.1.3.1.1: \fromhtml1 or \fromtext among the first tokens.
    return re.search(rb"\\from(html1|text)", rtf[:500]) is not None


def lib_decompress(compressed: bytes) -> bytes:
    import compressed_rtf

    return bytes(compressed_rtf.decompress(compressed))


def lib_read(rtf: bytes) -> str:
    if _is_encapsulated(rtf):
        from RTFDE.deencapsulate import DeEncapsulator  # type: ignore[import-untyped]

        reader = DeEncapsulator(rtf)
        reader.deencapsulate()
        if reader.content_type == "html":
            return html_to_text(reader.html.decode("utf-8", "replace"))
        return str(reader.text.decode("utf-8", "replace"))
    from striprtf.striprtf import rtf_to_text as strip  # type: ignore[import-untyped]

    return str(strip(rtf.decode("latin-1"), errors="ignore"))


def libraries(compressed: bytes) -> str:
    return _tidy(lib_read(lib_decompress(compressed)))


def ours(compressed: bytes) -> str:
    return _tidy(rtf_body_text(compressed))


def _tidy(text: str) -> str:
    # What read_tnef does to every candidate body before using it.
    return text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")


def _words(text: str) -> str:
    return " ".join(text.split())


def _run(func: Callable[[bytes], object], data: bytes) -> tuple[object, str | None]:
    try:
        return func(data), None
    except Exception as exc:  # noqa: BLE001 - counted and printed, that is the point
        return None, f"{type(exc).__name__}: {str(exc)[:70]}"


def _median_ms(func: Callable[[bytes], object], data: bytes, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        try:
            func(data)
        except Exception:  # noqa: BLE001, S110 - timed even when it raises
            pass
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _first_difference(a: str, b: str) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"at {at}: ours {a[max(0, at - 20):at + 40]!r}\n{'':14}libraries {b[max(0, at - 20):at + 40]!r}"


def compare(samples: list[tuple[str, bytes]], runs: int, quiet: bool) -> dict[str, int]:
    totals = {"samples": 0, "equal": 0, "same_words": 0, "ours_crashed": 0, "libraries_crashed": 0}
    print(f"{'sample':44} {'kind':6} {'text':10} {'ours ms':>8} {'libs ms':>8} {'LZFu ours/lib ms':>17} "
          f"{'read ours/lib ms':>17}")
    sums = {"ours": 0.0, "libs": 0.0}
    for name, compressed in samples:
        totals["samples"] += 1
        text_ours, error_ours = _run(ours, compressed)
        text_libs, error_libs = _run(libraries, compressed)
        totals["ours_crashed"] += error_ours is not None
        totals["libraries_crashed"] += error_libs is not None
        rtf = decompress(compressed) or b""
        kind = ("html" if b"\\fromhtml" in rtf[:500] else "text") if _is_encapsulated(rtf) else "plain"
        if error_ours or error_libs:
            verdict = "CRASH"
        elif text_ours == text_libs:
            verdict = "equal"
            totals["equal"] += 1
            totals["same_words"] += 1
        elif _words(str(text_ours)) == _words(str(text_libs)):
            verdict = "spacing"
            totals["same_words"] += 1
        else:
            verdict = "DIFFERENT"
        t_ours, t_libs = _median_ms(ours, compressed, runs), _median_ms(libraries, compressed, runs)
        sums["ours"] += t_ours
        sums["libs"] += t_libs
        lzfu = f"{_median_ms(decompress, compressed, runs):.2f}/{_median_ms(lib_decompress, compressed, runs):.2f}"
        read = f"{_median_ms(rtf_to_text, rtf, runs):.2f}/{_median_ms(lib_read, rtf, runs):.2f}"
        # The reading stage alone, on the bytes our decompressor gave (so a refused CRC hides nothing).
        read_ours, _ = _run(rtf_to_text, rtf)
        read_libs, read_error = _run(lib_read, rtf)
        read_verdict = ("reader raised " + read_error if read_error else "readers equal" if
                        _tidy(str(read_ours)) == _tidy(str(read_libs)) else "readers: spacing" if
                        _words(str(read_ours)) == _words(str(read_libs)) else "readers DIFFER")
        print(f"{name[:44]:44} {kind:6} {verdict:10} {t_ours:8.2f} {t_libs:8.2f} {lzfu:>17} {read:>17}  "
              f"{read_verdict}")
        for label, error in (("ours", error_ours), ("libraries", error_libs)):
            if error:
                print(f"{'':14}{label} raised {error}")
        if verdict in ("DIFFERENT", "spacing") and not quiet:
            print(f"{'':14}{_first_difference(str(text_ours), str(text_libs))}")
    print(f"total: {totals}; time summed over samples: ours {sums['ours']:.1f} ms, libraries {sums['libs']:.1f} ms"
          f" ({sums['libs'] / max(sums['ours'], 1e-9):.1f}×)")
    return totals


# --- hostile input ----------------------------------------------------------------------------

def hostile_samples() -> list[tuple[str, bytes]]:
    import compressed_rtf

    bomb, write = bytearray(), 207
    for _ in range(60_000):   # each flag byte: eight references of 17 bytes, never pointing at the write position
        bomb.append(0xFF)
        for _ in range(8):
            bomb += struct.pack(">H", (((write + 64) & 0xFFF) << 4) | 0xF)
            write = (write + 17) & 0xFFF
    bomb += b"\x01" + struct.pack(">H", 0)   # a last reference (never the end marker: decoding runs to the end)
    lzfu_bomb = struct.pack("<IIII", len(bomb) + 12, 0xFFFFFFF, 0x75465A4C, 0) + bytes(bomb)
    from compressed_rtf.crc32 import crc32  # type: ignore[import-untyped]

    lzfu_bomb = lzfu_bomb[:12] + struct.pack("<I", crc32(bytes(bomb))) + lzfu_bomb[16:]
    nested = b"{\\rtf1\\ansi\\fromhtml1 " + b"{" * 50_000 + b"x" + b"}" * 50_000 + b"}"
    words = b"{\\rtf1\\ansi\\fromhtml1 {\\*\\htmltag0 <p>}" + b"\\htmlrtf\\b\\i0 " * 40_000 + b"}"
    return [("LZFu 1 MB → 8 MB", lzfu_bomb), ("50k nested groups", compressed_rtf.compress(nested, False)),
            ("40k control words (600 kB)", compressed_rtf.compress(words, False))]


def _child(name: str, path: str, data: bytes, conn: object) -> None:
    func = ours if path == "ours" else libraries
    started = time.perf_counter()
    _text, error = _run(func, data)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    conn.send((elapsed, peak, error))  # type: ignore[attr-defined]


def hostile(limit: float) -> None:
    print(f"\nhostile bodies (forked child, limit {limit:.0f} s): time, peak RSS of the child, error")
    context = multiprocessing.get_context("fork")
    for name, data in hostile_samples():
        for path in ("ours", "libraries"):
            parent, child = context.Pipe()
            proc = context.Process(target=_child, args=(name, path, data, child))
            proc.start()
            if parent.poll(limit):
                elapsed, peak, error = parent.recv()
                print(f"  {name:28} {path:10} {elapsed:7.2f} s  {peak:7.0f} MB  {error or ''}")
            else:
                print(f"  {name:28} {path:10} still running after {limit:.0f} s: stopped")
                proc.kill()
            proc.join()


# --- HTML → text: parsers/htmltext.py vs inscriptis ----------------------------------------------

def inscriptis_text(html: str) -> str:
    from inscriptis import get_text  # type: ignore[import-untyped]

    return str(get_text(html))


def html_messages(corpus: Path) -> list[Path]:
    """The corpus's HTML-only messages (index.csv notes), then every fixture reply, survey and campaign."""
    listed = []
    index = corpus / "index.csv"
    if index.is_file():
        import csv

        with index.open(encoding="utf-8") as handle:
            listed = [corpus / row["path"] for row in csv.DictReader(handle) if "html-only" in row.get("notes", "")]
    fixtures = PROJECT / "tests" / "fixtures"
    folders = ("replies", "surveys", "campaigns")
    return listed + sorted(p for folder in folders for p in (fixtures / folder).glob("*.eml"))


def compare_html(corpus: Path, runs: int, quiet: bool) -> None:
    """parse_message's JSON with our HTML reader and with inscriptis put in its place, message by message."""
    import json

    import parsers.mime
    from parsers import UnreadableMessage, parse_message

    def parsed(raw: bytes) -> str:
        try:
            message = parse_message(raw)
        except UnreadableMessage as exc:
            return f"unreadable: {exc}"
        texts.append(" ".join(message.text.split()))   # the body's words, whatever the line breaks
        return json.dumps(message.as_json(), ensure_ascii=False, sort_keys=True)

    counts = {"messages": 0, "json_equal": 0, "json_different": 0, "same_words": 0, "inscriptis_raised": 0}
    texts: list[str] = []
    times = {"ours": 0.0, "inscriptis": 0.0}
    for path in html_messages(corpus):
        raw = path.read_bytes()
        counts["messages"] += 1
        texts.clear()
        ours_json = parsed(raw)
        times["ours"] += _median_ms(parse_message, raw, runs)
        parsers.mime.html_to_text = inscriptis_text   # the one place a MIME body's HTML is read
        try:
            libs_json = parsed(raw)
            times["inscriptis"] += _median_ms(parse_message, raw, runs)
        except Exception as exc:  # noqa: BLE001 - counted and printed
            libs_json = f"raised {type(exc).__name__}"
            counts["inscriptis_raised"] += 1
        finally:
            parsers.mime.html_to_text = html_to_text
        name = path.relative_to(PROJECT if path.is_relative_to(PROJECT) else corpus)
        counts["same_words"] += len(texts) == 2 and texts[0] == texts[1]
        texts.clear()
        if ours_json == libs_json:
            counts["json_equal"] += 1
            continue
        counts["json_different"] += 1
        if not quiet:
            a, b = json.loads(ours_json) if ours_json[0] == "{" else {}, json.loads(libs_json) if libs_json[0] == "{" \
                else {}
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            print(f"  {name}: differs in {', '.join(keys) or libs_json}")
            for key in keys[:2]:
                print(f"      ours       {key} = {str(a.get(key))[:110]!r}\n      inscriptis {key} = "
                      f"{str(b.get(key))[:110]!r}")
    print(f"HTML → text over {counts['messages']} messages: {counts}; parse_message time summed: ours "
          f"{times['ours']:.0f} ms, with inscriptis {times['inscriptis']:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--limit", type=float, default=60.0, help="seconds allowed per hostile body")
    parser.add_argument("--quiet", action="store_true", help="do not print where texts differ")
    parser.add_argument("--no-hostile", action="store_true")
    parser.add_argument("--html", action="store_true", help="compare HTML → text (ours vs inscriptis) instead")
    args = parser.parse_args()
    if args.html:
        compare_html(args.corpus, args.runs, args.quiet)
        return
    samples = corpus_samples(args.corpus) if args.corpus.is_dir() else []
    if not samples:
        print(f"(no corpus at {args.corpus}: fixtures and built cases only)")
    compare(samples + fixture_samples() + built_samples(), args.runs, args.quiet)
    if not args.no_hostile:
        hostile(args.limit)


if __name__ == "__main__":
    main()
