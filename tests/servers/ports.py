"""Listening ports for the test servers, chosen where no outgoing connection will take them.

A port the kernel hands out for bind(0) lies in the ephemeral range, the same range
it draws from for the local end of every outgoing connection (to PostgreSQL, to the
other test servers): between choosing such a port and the server binding it, a
client socket can take it, and the server dies on start. Ports below the ephemeral
range are never taken that way; only another listener can hold them, which the
bind check sees.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

HOST = "127.0.0.1"


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(count: int) -> list[int]:
    """`count` distinct ports on loopback that nothing listens on now, below the ephemeral range."""
    floor = _ephemeral_floor()
    held: list[socket.socket] = []
    try:
        while len(held) < count:
            s = socket.socket()
            try:
                s.bind((HOST, random.randrange(10000, floor)))
            except OSError:
                s.close()
                continue
            held.append(s)  # held until all are chosen, so no two are the same
        return [int(s.getsockname()[1]) for s in held]
    finally:
        for s in held:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]
