"""Is a host this machine? The one test behind every "plain text only to loopback" rule (IMAP, SMTP, OAuth)."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
