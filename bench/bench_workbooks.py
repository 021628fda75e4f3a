"""Benchmark the cost of one hostile mail: four small .xlsx attachments that inflate to 48 MB of XML.

Builds the message of issue 11 in memory: a 790-odd kB mail with four 144 kB
workbooks, each one sheet of --rows rows × --columns numeric cells (12 MB of
sheet XML apiece) and no `<dimension>` element — the shape that made the
reader parse whole sheets. The cell values are a few random bits per row, so
each zip compresses to about 144 kB as in the report. Then times
`parsers.parse_message` on it (median of --runs, after one warm-up so the
imports are not counted) and, as the floor, the same mail with the four
attachments replaced by one ordinary filled form workbook (`mailbot.xlsxform`).

Target: no single mail costs the pipeline more than a second or two (urgent
alerts wait behind it). Prints what the parser said about the attachments, so
a run also shows the hostile ones are reported rather than silently dropped.

    .venv/bin/python bench/bench_workbooks.py [--runs 5] [--rows 2000] [--columns 286] [--noisy 255]
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import random
import statistics
import sys
import time
import zipfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from parsers import parse_message  # noqa: E402 - after the path fix above

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TOKEN = "KCR-202611-GD-3F9A"


def sheet_xml(rows: int, columns: int, noisy: int, seed: int) -> bytes:
    """A sheet of numeric cells without a <dimension>; the first `noisy` cells of a row hold random bits."""
    rnd = random.Random(seed)
    out = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN}"><sheetData>']
    for r in range(1, rows + 1):
        cells = "".join(f"<c t=\"n\"><v>{rnd.randrange(2) if c < noisy else 0}</v></c>" for c in range(columns))
        out.append(f'<row r="{r}">{cells}</row>')
    out.append("</sheetData></worksheet>")
    return "".join(out).encode()


def workbook(sheet: bytes) -> bytes:
    """The smallest package Excel and openpyxl open: content types, two .rels, the workbook and one sheet."""
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
            'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/></Types>'),
        "_rels/.rels": (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{RELS}"><Relationship '
                        f'Id="rId1" Type="{DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{DOC}">'
                            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{RELS}">'
                                       f'<Relationship Id="rId1" Type="{DOC}/worksheet" '
                                       'Target="worksheets/sheet1.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": sheet,
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def mail(attachments: list[tuple[str, bytes]]) -> bytes:
    parts = ["Content-Type: text/plain; charset=utf-8\r\n\r\n见附件\r\n"]
    parts += [f'Content-Type: {XLSX}; name="{name}"\r\nContent-Disposition: attachment; filename="{name}"\r\n'
              f"Content-Transfer-Encoding: base64\r\n\r\n{base64.encodebytes(data).decode()}"
              for name, data in attachments]
    joined = "".join(f"--b1\r\n{p}\r\n" for p in parts)
    return (f"From: a@gd.example.cn\r\nSubject: Re: 月报 [{TOKEN}]\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n{joined}--b1--\r\n').encode()


def filled_form() -> bytes:
    """The request's own workbook with one answer typed in, as a unit sends it back."""
    from openpyxl import load_workbook

    from mailbot.reports.workbook import build_workbook

    blank = build_workbook(token=TOKEN, unit_code="GD", unit_name="广东分公司", period="2026-11",
                           strategic=[("S001", "国家电网有限公司")], vip=[("V012", "深圳市燃气集团股份有限公司")])
    book = load_workbook(io.BytesIO(blank))
    sheet = book.active
    for row in sheet.iter_rows(min_col=1, max_col=2):
        if str(row[0].value or "").startswith("1. "):
            row[1].value = "按方案执行，冬季保供已落实"
            break
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def timed(raw: bytes, runs: int) -> tuple[list[float], object]:
    parsed = parse_message(raw)   # warm-up: lazy imports, regex compilation
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        parsed = parse_message(raw)
        times.append(time.perf_counter() - t)
    return times, parsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="timed parses of each mail (median)")
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--columns", type=int, default=286)
    ap.add_argument("--noisy", type=int, default=255, help="random cells per row (sets the compressed size)")
    args = ap.parse_args()

    books = [workbook(sheet_xml(args.rows, args.columns, args.noisy, seed)) for seed in range(4)]
    xml = sum(zipfile.ZipFile(io.BytesIO(b)).getinfo("xl/worksheets/sheet1.xml").file_size for b in books)
    hostile = mail([(f"数据{n + 1}.xlsx", b) for n, b in enumerate(books)])
    normal = mail([("月报.xlsx", filled_form())])

    print(f"hostile mail: {len(hostile) / 1000:.0f} kB, 4 workbooks of "
          f"{', '.join(f'{len(b) / 1000:.0f}' for b in books)} kB, {xml / 1e6:.1f} MB of sheet XML in all "
          f"({args.rows} rows × {args.columns} cells each, no <dimension>); "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    slow, parsed = timed(hostile, args.runs)
    print(f"parse_message, hostile: median {statistics.median(slow):.3f} s of {args.runs} "
          f"(min {min(slow):.3f}, max {max(slow):.3f})  (target < 1 s: "
          f"{'met' if statistics.median(slow) < 1 else 'MISSED'})")
    for warning in getattr(parsed, "warnings", ()):
        print(f"    warning: {warning.message}")
    fast, parsed = timed(normal, args.runs)
    print(f"parse_message, one filled form workbook ({len(normal) / 1000:.0f} kB): median "
          f"{statistics.median(fast) * 1000:.1f} ms; kind {getattr(parsed, 'kind', '?')}, "
          f"form from {getattr(parsed, 'form_source', '?')}")


if __name__ == "__main__":
    main()
