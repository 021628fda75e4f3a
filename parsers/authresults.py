"""Authentication-Results (RFC 8601): what our own mail server verified about a message.

A receiving server records its checks in a header that starts with its
authserv-id (`mx.hq.example.cn; dkim=pass header.d=…; dmarc=fail …`). Any
sender can write such a header too, so only headers whose authserv-id the
installation names as its own are read; of those, the topmost — the one the
last of our servers added — speaks. A header of ours that cannot be parsed
is passed over like a stranger's (the `authres` library does the RFC 8601
grammar, comments and quoting included).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import authres


@dataclass(frozen=True)
class MethodResult:
    """One `method=result prop=value …` of a header, lower-cased; props keyed `ptype.property`."""

    method: str
    result: str
    props: tuple[tuple[str, str], ...] = ()

    def prop(self, name: str) -> str | None:
        return next((value for key, value in self.props if key == name), None)


@dataclass(frozen=True)
class AuthResults:
    authserv_id: str
    results: tuple[MethodResult, ...]

    def of(self, method: str) -> list[MethodResult]:
        return [r for r in self.results if r.method == method]


def read_header(value: str) -> AuthResults | None:
    """One header value, or None when it is not RFC 8601."""
    try:
        header = authres.AuthenticationResultsHeader.parse_value(value)
    except Exception:  # noqa: BLE001 - authres raises its own SyntaxError and others on bad input: no verdict
        return None
    results = tuple(
        MethodResult(str(r.method).lower(), str(r.result).lower(),
                     tuple((f"{p.type}.{p.name}".lower(), str(p.value).strip().lower()) for p in r.properties))
        for r in header.results)
    return AuthResults(str(header.authserv_id).strip().lower(), results)


def trusted_results(values: Sequence[str], authserv_ids: Collection[str]) -> AuthResults | None:
    """The topmost header whose authserv-id is one of ours; headers above it from other hosts are passed over.

    (An internal hop such as Exchange adds its own header above the edge server's; its id is not configured, so
    it can neither hide nor fake the edge server's verdict.)
    """
    ours = {i.strip().lower() for i in authserv_ids}
    if not ours:
        return None
    for value in values:
        first = value.split(";", 1)[0].split()
        if not first or first[0].lower() not in ours:
            continue  # a cheap look at the id first: the full parse is only for our own headers
        header = read_header(value)
        if header is not None and header.authserv_id in ours:
            return header
    return None
