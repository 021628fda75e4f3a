"""What the operator is told: one notice, or the digest.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailbot.outbox.compose import Draft, clip
from mailbot.outbox.drafts import draft


def operator_mail(department: str, operator: str, title: str, reason: str, *,
                  message: dict[str, object] | None = None, details: str | None = None, next_step: str | None = None,
                  original: bytes | None = None) -> Draft:
    """A notice to the operator; `message` (id, from_addr, subject, received_at) is the inbound mail concerned.

    The title may carry a reason quoting the mail, and the mail's sender and subject are the sender's to choose:
    each is cut like any echo. `details` (a traceback) stays whole: it is ours and the operator needs all of it.
    """
    if message is not None:
        message = {**message, **{k: clip(str(message[k])) for k in ("from_addr", "subject") if message.get(k)}}
    return draft("operator_notice", [operator], original=original, department=department, title=clip(title),
                 reason=reason, message=message, details=details, next_step=next_step, attached=original is not None)


def operator_digest_mail(department: str, operator: str, quarantined: Sequence[dict[str, object]],
                         handed_over: Sequence[dict[str, object]] = (), originals: Sequence[bytes] = ()) -> Draft:
    """What waited for the digest, in one mail: quarantines (id, from_addr, subject, received_at, reason) with
    their originals attached, and mail handed to HQ staff (the same and `to`)."""
    def cut(items: Sequence[dict[str, object]]) -> list[dict[str, object]]:
        return [{**i, "from_addr": clip(str(i["from_addr"] or "")), "subject": clip(str(i["subject"] or ""))}
                for i in items]

    return draft("operator_digest", [operator], originals=originals, department=department,
                 items=cut(quarantined), handed_over=cut(handed_over), attached=len(originals))
