"""Whose address the bot believes: the strict From reading and our server's Authentication-Results, agreed."""

from __future__ import annotations

from email import errors
from email.headerregistry import HeaderRegistry

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers import parse_message
from parsers.authresults import trusted_results

from mailbot.domain.sender import aligned, check_sender

OURS = ("mx.hq.example.cn",)


def verdict(from_addr: str, *headers: str) -> str:
    return check_sender(from_addr, trusted_results(headers, OURS)).verdict


@pytest.mark.parametrize(("headers", "expected"), [
    ((), "unverified"),
    (("mx.hq.example.cn; dmarc=pass header.from=gd.example.cn",), "pass"),
    (("mx.hq.example.cn; dmarc=fail header.from=gd.example.cn",), "fail"),
    # the server checked another From domain than the address we read
    (("mx.hq.example.cn; dmarc=pass header.from=evil.example",), "fail"),
    (("mx.hq.example.cn; dmarc=pass header.from=liming@gd.example.cn",), "pass"),
    # DMARC decides: a broken second signature or a forwarder's SPF does not
    (("mx.hq.example.cn; dkim=fail header.d=esp.example; spf=fail smtp.mailfrom=esp.example; "
      "dmarc=pass header.from=gd.example.cn",), "pass"),
    # no DMARC verdict: aligned DKIM / SPF decide, unaligned ones say nothing
    (("mx.hq.example.cn; dkim=pass header.d=gd.example.cn; dmarc=none",), "pass"),
    (("mx.hq.example.cn; dkim=pass header.d=mail.gd.example.cn",), "pass"),
    (("mx.hq.example.cn; dkim=pass header.d=evil.example",), "unverified"),
    (("mx.hq.example.cn; dkim=fail header.d=gd.example.cn; dmarc=temperror",), "fail"),
    (("mx.hq.example.cn; spf=pass smtp.mailfrom=bounce@gd.example.cn",), "pass"),
    (("mx.hq.example.cn; spf=fail smtp.mailfrom=gd.example.cn",), "fail"),
    (("mx.hq.example.cn; spf=softfail smtp.mailfrom=gd.example.cn",), "unverified"),
    (("mx.hq.example.cn; dkim=fail header.d=gd.example.cn; spf=pass smtp.mailfrom=gd.example.cn",), "pass"),
    # internal submission our server authenticated as this very address
    (("mx.hq.example.cn; auth=pass smtp.auth=liming@gd.example.cn",), "pass"),
    (("mx.hq.example.cn; auth=pass smtp.auth=someone@gd.example.cn",), "unverified"),
    # only our authserv-id, topmost of ours first; others and unparsable ones are passed over
    (("evil.example; dmarc=fail header.from=gd.example.cn",), "unverified"),
    (("exch01.hq.example.cn; dmarc=pass header.from=gd.example.cn",
      "mx.hq.example.cn; dmarc=fail header.from=gd.example.cn"), "fail"),
    (("mx.hq.example.cn; dmarc=pass header.from=gd.example.cn",
      "mx.hq.example.cn; dmarc=fail header.from=gd.example.cn"), "pass"),
    (("mx.hq.example.cn 1; dmarc=pass header.from=gd.example.cn",), "pass"),
    (("MX.HQ.example.CN; DMARC=Pass header.from=GD.example.cn",), "pass"),
    (("mx.hq.example.cn; ;;; ===", "mx.hq.example.cn; dmarc=fail header.from=gd.example.cn"), "fail"),
])
def test_verdicts(headers: tuple[str, ...], expected: str) -> None:
    assert verdict("liming@gd.example.cn", *headers) == expected


def test_nothing_is_trusted_until_an_authserv_id_is_configured() -> None:
    assert trusted_results(["mx.hq.example.cn; dmarc=fail header.from=gd.example.cn"], ()) is None


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("gd.example.cn", "gd.example.cn", True), ("mail.gd.example.cn", "gd.example.cn", True),
    ("gd.example.cn", "evilgd.example.cn", False), ("cn", "gd.cn", False), ("", "gd.example.cn", False),
])
def test_relaxed_alignment(a: str, b: str, expected: bool) -> None:
    assert aligned(a, b) is expected


# --- the property: the bot's address is the one a strict parser and our server agree on, or none ------------

DECOY = "liming@gd.example.cn"            # a registered contact the forger wants to be
SENDERS = ["attacker@evil.example", "x@evil.example", DECOY]
PIECES = [DECOY, "attacker@evil.example", "<", ">", '"', "(", ")", ",", ";", ":", "@", " ", "\\", ".",
          "李明", "Li Ming", "gd.example.cn", "evil.example", "<attacker@evil.example>", f"<{DECOY}>"]
_REGISTRY = HeaderRegistry()
_FORGIVEN = (errors.ObsoleteHeaderDefect, errors.NonASCIILocalPartDefect)


def reference_address(value: str) -> str | None:
    """What a strict RFC 5322 reading says: one mailbox, no defect but obsolete syntax; else nobody."""
    try:
        header = _REGISTRY("from", value)
        boxes = header.addresses  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - the stdlib parser trips on some garbage: no address
        return None
    if any(not isinstance(d, _FORGIVEN) for d in header.defects) or any(g.display_name for g in header.groups):
        return None
    return boxes[0].addr_spec.lower() if len(boxes) == 1 and boxes[0].domain else None


@st.composite
def messages(draw: st.DrawFn) -> tuple[bytes, list[str], str]:
    """(raw message, its From values, the domain our server checked): the forger controls every From byte and
    may add Authentication-Results of its own; our server checks DMARC on the domain the mail really came from."""
    real = draw(st.sampled_from(SENDERS))
    forms = st.one_of(
        st.sampled_from([f"{DECOY} <{real}>", f"{DECOY})<{real}>", f'"{DECOY}" <{real}>', f"{real} ({DECOY})",
                         f"<{DECOY}>, <{real}>", f"李明 <{real}>", f"{real}", f"<{real}> {DECOY}"]),
        st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join))
    froms = draw(st.lists(forms, min_size=1, max_size=2))
    checked = real.rpartition("@")[2]
    results = [f"mx.hq.example.cn; dmarc=pass header.from={checked}"]
    if draw(st.booleans()):
        # The forger's own header sits below ours (it was in the mail when our server added its own on top);
        # one under another host's name may stand anywhere, as an internal hop's would.
        host = draw(st.sampled_from(["mx.hq.example.cn", "relay.hq.example.cn"]))
        where = 1 if host.startswith("mx.") else draw(st.integers(0, 1))
        results.insert(where, f"{host}; dmarc=pass header.from=gd.example.cn")
    head = "".join(f"Authentication-Results: {r}\r\n" for r in results) + "".join(f"From: {f}\r\n" for f in froms)
    raw = (head + "To: kcr@hq.example.cn\r\nSubject: x\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n").encode()
    return raw, froms, checked


@settings(max_examples=400, deadline=None)
@given(messages())
def test_the_believed_address_is_the_one_parser_and_server_agree_on(case: tuple[bytes, list[str], str]) -> None:
    raw, froms, checked = case
    env = parse_message(raw).envelope
    check = check_sender(env.from_addr, trusted_results(env.auth_results, OURS))
    believed = env.from_addr if env.from_addr and check.verdict != "fail" else None
    if believed is None:
        return  # quarantined: no one is spoken for
    assert len(froms) == 1
    assert believed == reference_address(froms[0])
    assert believed.rpartition("@")[2] == checked
