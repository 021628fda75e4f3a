"""The monthly key-customer bulletin (重点客户月报, §8.1.4).

`model` holds the frozen dataclasses the lead's compiler fills from the
database; `render` turns one `Bulletin` into HTML (Jinja2) and PDF bytes
(through `mailbot.pdf`). Nothing here touches the database, the mailbox or
the clock.
"""

from mailbot.bulletin.model import (
    Bulletin,
    CategoryMatters,
    CoordinationItem,
    CustomerSection,
    Matter,
    Risk,
    UnitStatus,
    UrgentMatter,
    VipMatter,
)

__all__ = [
    "Bulletin",
    "CategoryMatters",
    "CoordinationItem",
    "CustomerSection",
    "Matter",
    "Risk",
    "UnitStatus",
    "UrgentMatter",
    "VipMatter",
]
