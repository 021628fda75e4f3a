"""Rendered page bodies kept between requests while the data under them has not changed.

The month and the 诉求 board are what everybody opens, and HQ's are the largest pages there are (40 units, every
诉求); rendering them takes longer than anything else the board does. So their body — the `main` block, which
shows no viewer and carries no token — is kept by (page, scope, filters) together with the *version* of the data
it was made from: a few maxima over rows that only ever grow (every change to a 诉求 writes a history row, every
report a submission row), read in one cheap query per request. A changed version, a new day, or `ttl` seconds
(the directory may have renamed something) make it again. Per process, bounded, thread-safe; nothing is shared
between scopes, so a unit never gets HQ's body.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from markupsafe import Markup

Body = tuple[Markup, Markup]   # (title, main) of a page


class Bodies:
    def __init__(self, *, ttl: float = 60.0, size: int = 256, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._kept: OrderedDict[Hashable, tuple[Hashable, float, Body]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: Hashable, make: Callable[[], Body]) -> Body:
        now = self.clock()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] == version and now - kept[1] < self.ttl:
                self._kept.move_to_end(key)
                return kept[2]
        body = make()   # outside the lock: two requests may both make it, neither waits on the other
        with self._lock:
            self._kept[key] = (version, now, body)
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return body
