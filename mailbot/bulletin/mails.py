"""The bulletin's cover mail.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailbot.outbox.compose import Attachment, Draft
from mailbot.outbox.drafts import draft, period_view


def bulletin_mail(department: str, to: Sequence[str], period_key: str, pdf: bytes, filename: str,
                  stats: dict[str, int], missing_units: Sequence[str], late_units: Sequence[str],
                  decisions: Sequence[str] = (), cutoff: str = "") -> Draft:
    """The cover: what needs a decision ("kinds：matter"), then the figures as of `cutoff` ("截至11月30日18:00")."""
    return draft("bulletin_cover", to, attachments=[Attachment(filename, pdf, "application", "pdf")],
                 department=department, period=period_view(period_key), filename=filename, stats=stats,
                 missing_units=list(missing_units), late_units=list(late_units), decisions=list(decisions),
                 cutoff=cutoff)
