"""Naming what a message is: automatic mail, bounce, auto-reply, urgent, token.

These are ordered rules over headers and decoded text (FORM.md "kind" and
"Urgent mail", DESIGN.md "Automatic mail"); each returns the reasons it
fired so the pipeline can log them.  The first matching kind wins:
bounce → auto_reply → monthly_report → campaign_feedback → survey_response →
urgent_report → unknown (the form kinds are decided in `message.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

TOKEN = re.compile(
    r"(?<![A-Za-z0-9])KCR-(\d{6})-([A-Z0-9]{2,12})(?:-([0-9A-F]+))?(?![A-Za-z0-9-])",
    re.I,
)
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|vs|回复|答复|转发|回覆|轉寄|转寄)\s*(?:\[\d+\])?\s*[:：]\s*)+",
    re.I,
)
_URGENT_TAG = re.compile(r"[【\[［]\s*(?:紧急|urgent)\s*[】\]］]", re.I)
_URGENT_START = re.compile(r"^(?:紧急\s*[:：]|urgent\b)", re.I)
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:自动答复|自动回复|自动应答|自動回覆|automatic reply|auto[- ]?reply|autoreply|"
    r"auto[- ]?response|out of (?:the )?office(?: autoreply)?)\s*[:：]",
    re.I,
)
_ROBOT_LOCAL = re.compile(
    r"^(?:mailer-daemon|postmaster|no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply)(?:[-+_.].*)?$",
    re.I,
)
_BOUNCER_LOCAL = re.compile(r"^(?:mailer-daemon|postmaster)(?:[-+_.].*)?$", re.I)
_BOUNCE_WORDS = re.compile(
    r"退信|被退回|无法投递|投递失败|未能送达|无法送达|发送失败|系统退回|"
    r"undeliver|delivery (?:status|has failed|failed|failure)|returned mail|"
    r"could not be delivered|failure notice|non-delivery|mail delivery",
    re.I,
)


@dataclass(frozen=True)
class Token:
    """A report number: normalised text, unit code and period (yyyy-mm)."""

    text: str
    unit: str
    period: str


def find_token(text: str | None) -> Token | None:
    """The first valid report number in `text` (month 01–12), normalised to upper case."""
    if not text:
        return None
    for match in TOKEN.finditer(text):
        yyyymm, unit, tag = match.groups()
        if not 1 <= int(yyyymm[4:]) <= 12:
            continue
        norm = f"KCR-{yyyymm}-{unit.upper()}" + (f"-{tag.upper()}" if tag else "")
        return Token(norm, unit.upper(), f"{yyyymm[:4]}-{yyyymm[4:]}")
    return None


def bare_subject(subject: str) -> str:
    """The subject without Re:/回复:/转发: … prefixes."""
    return _REPLY_PREFIX.sub("", subject)


def _local_part(address: str) -> str:
    return address.rsplit("@", 1)[0] if "@" in address else address


def automatic_reasons(headers: Mapping[str, str], from_addr: str, content_type: str,
                      report_type: str, subject: str) -> tuple[str, ...]:
    """Why this is automatic mail that must never be answered (empty: a person wrote it).

    `headers` maps lower-case header names to their (first) decoded value.
    """
    reasons: list[str] = []
    auto = headers.get("auto-submitted", "").strip()
    if auto and auto.split(";")[0].strip().lower() != "no":
        reasons.append(f"Auto-Submitted: {auto}")
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in ("bulk", "junk", "list"):
        reasons.append(f"Precedence: {precedence}")
    for name in ("x-auto-response-suppress", "x-autoreply", "x-autorespond"):
        if name in headers:
            reasons.append(f"{name.title()}: {headers[name].strip()}")
    if "return-path" in headers and headers["return-path"].replace(" ", "") == "<>":
        reasons.append("Return-Path: <>")
    if from_addr and _ROBOT_LOCAL.match(_local_part(from_addr)):
        reasons.append(f"发件人是系统地址 {from_addr}")
    if content_type == "multipart/report":
        reasons.append(f"multipart/report（{report_type or '未注明类型'}）")
    if "x-mailbot-loop" in headers:
        reasons.append("X-Mailbot-Loop（本系统发出的邮件）")
    if _AUTO_SUBJECT.match(subject):
        reasons.append(f"自动回复主题：{subject[:60]}")
    return tuple(reasons)


def is_bounce(from_addr: str, content_type: str, report_type: str, subject: str,
              text: str, has_returned_part: bool) -> bool:
    """A delivery status notification (FORM.md: the `bounce` kind)."""
    if content_type == "multipart/report":
        return report_type.lower() in ("delivery-status", "")
    if from_addr and _BOUNCER_LOCAL.match(_local_part(from_addr)):
        return has_returned_part or bool(_BOUNCE_WORDS.search(subject) or _BOUNCE_WORDS.search(text[:4000]))
    return False


def is_auto_reply(headers: Mapping[str, str], content_type: str, subject: str) -> bool:
    """Out-of-office and other automatic replies (FORM.md: the `auto_reply` kind)."""
    auto = headers.get("auto-submitted", "").strip()
    if auto and auto.split(";")[0].strip().lower() != "no":
        return True
    if "x-auto-response-suppress" in headers:
        return True
    # Read receipts (MDN) are automatic too, though not delivery reports.
    if content_type == "multipart/report":
        return True
    return bool(_AUTO_SUBJECT.match(subject))


def urgent_header_reasons(headers: Mapping[str, str]) -> list[str]:
    """Urgency claimed by Importance / X-Priority / Priority headers."""
    reasons: list[str] = []
    if headers.get("importance", "").strip().lower() == "high":
        reasons.append("邮件头 Importance: high")
    priority = headers.get("x-priority", "").strip()
    if priority[:1] in ("1", "2"):
        reasons.append(f"邮件头 X-Priority: {priority}")
    if headers.get("priority", "").strip().lower() == "urgent":
        reasons.append("邮件头 Priority: urgent")
    return reasons


def urgent_subject_reason(subject: str) -> str | None:
    """A reason string when the subject carries an urgent marker."""
    tag = _URGENT_TAG.search(subject)
    if tag:
        return f"主题标有“{tag.group(0)}”"
    start = _URGENT_START.match(bare_subject(subject))
    if start:
        return f"主题以“{start.group(0)}”开头"
    return None
