"""What a stored .xlsx cell means: its type, its text and its number format → a Python value.

`xlsxcells.py` streams the XML; this module turns one cell into the value
openpyxl's `data_only` reading would give (so `xlsxform._cell_text` shows it
as the person typed it): strings with Excel's `_xHHHH_` escapes undone,
cached formula results, booleans, numbers, and a number in a date style as
a date.  A style is a date style when its number format is one of Excel's
built-in date ids — the Chinese ones (27–36, 50–58) included, which
openpyxl misses — or a custom code with date letters outside quotes.
NUL is never produced: PostgreSQL refuses it in text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOWS_EPOCH = datetime(1899, 12, 30)
MAC_EPOCH = datetime(1904, 1, 1)
_DATE_IDS = frozenset([*range(14, 23), *range(27, 37), 45, 46, 47, *range(50, 59)])
_DURATION_IDS = frozenset({46})
# As openpyxl.styles.numbers: quoted literals and [...] other than elapsed-time brackets are no date letters.
_LITERALS = re.compile(r'"[^"]*"|\[(?!hh?\]|mm?\]|ss?\])[^\]]*\]')
_DATE_LETTER = re.compile(r"(?<![_\\])[dmhysDMHYS]")
_DURATION_CODE = re.compile(r"\[hh?\](:mm(:ss(\.0*)?)?)?|\[mm?\](:ss(\.0*)?)?|\[ss?\](\.0*)?", re.I)
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


@dataclass(frozen=True)
class Styles:
    """Which cell styles (indices into cellXfs) show a number as a date, or as a duration."""

    dates: frozenset[int] = frozenset()
    durations: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Context:
    """What a sheet's cells are read against: the shared strings they use, the styles, the date system."""

    strings: dict[int, str]
    styles: Styles
    epoch: datetime


def unescape(text: str) -> str:
    """ST_Xstring `_xHHHH_` escapes undone; NUL and lone surrogates cannot be stored, so never made."""
    def one(match: re.Match[str]) -> str:
        code = int(match.group(1), 16)
        return "" if code == 0 else "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)

    text = _ESCAPE.sub(one, text) if "_x" in text else text
    return text.replace("\x00", "")


def styles(formats: list[int], codes: dict[int, str]) -> Styles:
    """`Styles` from cellXfs' numFmtIds in order and the custom number format codes by id."""
    dates, durations = set(), set()
    for style, number_format in enumerate(formats):
        code = codes.get(number_format)
        if code is None:
            is_date, is_duration = number_format in _DATE_IDS, number_format in _DURATION_IDS
        else:
            first = code.split(";")[0]
            is_date = _DATE_LETTER.search(_LITERALS.sub("", first)) is not None
            is_duration = _DURATION_CODE.search(first) is not None
        if is_date:
            dates.add(style)
        if is_duration:
            durations.add(style)
    return Styles(frozenset(dates), frozenset(durations))


def _number(text: str) -> int | float | str:
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text


def _from_serial(value: float, epoch: datetime, duration: bool) -> object:
    """An Excel serial number as openpyxl reads it (time of day below 1, the 1900 leap-year bug)."""
    try:
        if duration:
            return timedelta(days=value)
        day, fraction = divmod(value, 1)
        diff = timedelta(milliseconds=round(fraction * 86_400_000))
        if 0 <= value < 1 and diff.days == 0:
            return (datetime.min + diff).time()
        if 0 < value < 60 and epoch == WINDOWS_EPOCH:
            day += 1
        return epoch + timedelta(days=day) + diff
    except (OverflowError, ValueError):
        return "#VALUE!"


def value(kind: str, text: str | None, style: int, context: Context) -> object:
    """A cell's value from its `t` attribute, its <v> (or inline string) text and its style index."""
    if text is None:
        return None
    if kind == "s":
        try:
            return context.strings.get(int(text))
        except ValueError:
            return None
    if kind in ("inlineStr", "str", "e"):
        return unescape(text)
    if kind == "b":
        return text.strip() not in ("0", "false", "")
    if kind == "d":
        try:
            return datetime.fromisoformat(text.strip())
        except ValueError:
            return unescape(text)
    number = _number(text.strip())
    if isinstance(number, str):
        return unescape(number)
    if style in context.styles.dates:
        return _from_serial(number, context.epoch, style in context.styles.durations)
    return number
