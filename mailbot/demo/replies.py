"""Realistic replies from subsidiaries, built the way their mail clients build them.

Used by `mailbot demo` to play a month, and by the end-to-end tests: a contact
answers the request mail by filling the form, either above an Outlook-style
`-----邮件原件-----` quote or inside a `>`-quoted original (Foxmail, QQ).
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from mailbot.outbox.compose import WIRE

BLOCK = re.compile(r"^【(战略客户|VIP客户)】(\S+)")
ITEM = re.compile(r"^(\d)\. .*：$")

Answers = Mapping[str, Mapping[str, str]]


def fill_form(text: str, answers: Answers, *, reporter: tuple[str, str] | None = None,
              urgent: str | None = None, default: str = "无") -> str:
    """Write answers after the colons of a blank form, as a person would.

    `answers` maps a customer code to {"1".."9", "风险等级", "需总部协调", "问题或诉求", "本单位处理情况"};
    fields left out get `default` (risk: 无, HQ: 否).
    """
    out: list[str] = []
    block: str | None = None
    in_urgent = False
    for line in text.splitlines():
        m = BLOCK.match(line)
        if m:
            block, in_urgent = m.group(2), False
        elif line.startswith("【紧急事项】"):
            block, in_urgent = None, True
        elif line.startswith("【填报结束】") and in_urgent:
            if urgent:
                out.append(urgent)
            in_urgent = False
        a = answers.get(block or "", {})
        if block and (item := ITEM.match(line)):
            line += a.get(item.group(1), default)
        elif block and line.startswith("风险等级") and line.endswith("："):
            line += a.get("风险等级", "无")
        elif block and line.startswith("需总部协调") and line.endswith("："):
            line += a.get("需总部协调", "否")
        elif block and line in ("问题或诉求：", "本单位处理情况："):
            line += a.get(line[:-1], default)
        elif reporter and line == "填报人：":
            line += reporter[0]
        elif reporter and line == "联系电话：":
            line += reporter[1]
        out.append(line)
    return "\n".join(out) + "\n"


def text_of(raw: bytes) -> tuple[EmailMessage, str]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    part = msg.get_body(preferencelist=("plain",))
    return msg, part.get_content() if part is not None else ""


def reply(request_raw: bytes, *, sender: tuple[str, str], at: datetime, answers: Answers,
          reporter: tuple[str, str], urgent: str | None = None, style: str = "outlook",
          charset: str = "utf-8", note: str = "") -> bytes:
    """A contact's reply to the request (or a reminder): the form filled, the original quoted."""
    orig, text = text_of(request_raw)
    filled = fill_form(text, answers, reporter=reporter, urgent=urgent)
    when = orig["Date"].datetime if orig["Date"] else at
    if style == "outlook":
        body = (f"{note}\n\n{filled}\n-----邮件原件-----\n发件人: {orig['From']}\n"
                f"发送时间: {when:%Y年%m月%d日 %H:%M}\n收件人: {orig['To']}\n主题: {orig['Subject']}\n\n{text}")
    else:  # Foxmail / QQ: answers typed into the quoted original
        quoted = "\n".join("> " + line if line else ">" for line in filled.splitlines())
        body = f"{note}\n\n在 {when:%Y-%m-%d %H:%M}，{orig['From']} 写道：\n{quoted}\n"
    return build(sender=sender, to=str(orig["From"]), subject=f"回复：{orig['Subject']}", body=body, at=at,
                 in_reply_to=str(orig["Message-ID"]), charset=charset)


def fill_summary(original: bytes, summary: Mapping[str, object]) -> str:
    """The visit summary form from one of our mails, filled in: minutes, agreements, follow-up actions."""
    _, text = text_of(original)
    start = text.index("【") if "【" in text else 0
    out: list[str] = []
    actions = list(summary.get("后续事项", []))  # type: ignore[call-overload]
    block = 0
    for line in text[start:].splitlines():
        out.append(line)
        if line in ("【会谈纪要】", "【达成事项】"):
            out.append(str(summary[line[1:-1]]))
        elif line.startswith("【后续事项"):
            block += 1
        elif block and block <= len(actions) and line in ("事项：", "责任人：", "完成时限："):
            what, who, when = actions[block - 1]
            out[-1] = line + {"事项：": what, "责任人：": who, "完成时限：": when}[line]
        if line.startswith("【填报结束】"):
            break
    return "\n".join(out) + "\n"


def answer(original: bytes, *, sender: tuple[str, str], at: datetime, body: str) -> bytes:
    """A short reply on top of one of our mails, Outlook-style: the sender's text, then the quoted original."""
    orig, text = text_of(original)
    quoted = "\n".join("> " + line for line in text.splitlines())
    return build(sender=sender, to=str(orig["From"]), subject=f"答复: {orig['Subject']}", at=at,
                 body=f"{body}\n\n-----邮件原件-----\n发件人: {orig['From']}\n主题: {orig['Subject']}\n\n{quoted}\n",
                 in_reply_to=str(orig["Message-ID"]))


def build(*, sender: tuple[str, str], to: str, subject: str, body: str, at: datetime,
          in_reply_to: str | None = None, charset: str = "utf-8",
          extra: Mapping[str, str] | None = None) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"{sender[0]} <{sender[1]}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = make_msgid(domain=sender[1].split("@")[1])
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for k, v in (extra or {}).items():
        msg[k] = v
    msg.set_content(body, charset=charset)
    return msg.as_bytes(policy=WIRE)


def bounce(original: bytes, *, recipient: str, at: datetime, permanent: bool = True) -> bytes:
    """The recipient's mail server returns one of our mails (RFC 3464): `failed 5.1.1 user unknown`, or
    `delayed 4.4.1` when not permanent; the returned message's headers attached."""
    host = "mx." + recipient.split("@")[1]
    action, status, said = ("failed", "5.1.1", "550 5.1.1 user unknown") if permanent else (
        "delayed", "4.4.1", "451 4.4.1 connection timed out, will retry")
    headers = original.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    return (f"From: MAILER-DAEMON@{host}\r\nTo: {original_sender(original)}\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nDate: {format_datetime(at)}\r\n"
            f"Message-ID: {make_msgid(domain=host)}\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="=_dsn"\r\n\r\n'
            f"--=_dsn\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host {host}.\r\n\r\n"
            f"<{recipient}>: host {host} said: {said}\r\n"
            f"--=_dsn\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; {host}\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
            f"--=_dsn\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n--=_dsn--\r\n").encode()


def original_sender(original: bytes) -> str:
    _, address = parseaddr(str(email.message_from_bytes(original, policy=email.policy.default)["From"]))
    return address


def fill_survey(text: str, answers: Mapping[str, str], *, respondent: tuple[str, str] | None = None) -> str:
    """The survey form of one of our mails with answers after the colons of its numbered questions (`answers`
    maps "1", "2"… to what the respondent writes), as a person types them into the quoted form."""
    out: list[str] = []
    for line in text.splitlines():
        number = re.match(r"^(\d{1,2})\. .*：$", line)
        if number and number.group(1) in answers:
            line += answers[number.group(1)]
        elif respondent and line == "填报人：":
            line += respondent[0]
        elif respondent and line == "联系电话：":
            line += respondent[1]
        out.append(line)
    return "\n".join(out)


def fill_campaign(text: str, answers: Mapping[str, Mapping[str, str]]) -> str:
    """The campaign feedback form of one of our notices with answers after the colons of each 【客户】 block's
    numbered lines (`answers` maps a customer code to {"1".."6": what the unit writes}); other blocks stay blank
    (no change)."""
    out: list[str] = []
    customer = ""
    for line in text.splitlines():
        if line.startswith("【客户】"):
            customer = line[4:].split()[0]
        number = re.match(r"^(\d)\. .*：$", line)
        if number and number.group(1) in answers.get(customer, {}):
            line += answers[customer][number.group(1)]
        out.append(line)
    return "\n".join(out)
