"""HQ staff acting on a 诉求 from the board, through the code a command mail runs.

The form's fields become the command block a person would write in a reply (`转交：…`, `需集团审议：是`,
`答复：…`, `备注：…`, `状态：…`),
made into a message from that person and recorded as an inbound row of mailbox `web` — with a `Received:` line
naming the client address — then handed to `requests.inbound.handle_reply`, exactly as the pipeline hands a
reply. So the history, the status transitions, the answer mailed to the unit and the acknowledgement to the
person are the mail command's own; nothing of it is written twice. `WebAction` keeps who, when and from where.

A field's text is checked to be one command and nothing else: an answer holding a line such as `状态：关闭`
would otherwise be read as a second command, which the form's user did not ask for.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from parsers import parse_message

from mailbot.app import App
from mailbot.db.models import InboundMessage, Person, Request, WebAction
from mailbot.db.session import transaction
from mailbot.domain.commands import STATUS_WORDS, Command, parse_commands
from mailbot.pipeline.context import Ctx
from mailbot.requests.inbound import handle_reply
from mailbot.web.scope import Viewer, scoped

# The statuses the form offers, as the command words a mail would write.
FORM_STATUSES = ("处理中", "待集团审议", "已答复", "关闭")
MAX_FIELD = 20_000


@dataclass(frozen=True)
class Outcome:
    found: bool                 # the 诉求 exists and the viewer may act on it
    problems: tuple[str, ...]   # what the form got wrong (nothing was done)
    note: str = ""              # handle_reply's note, when done


def command_text(*, status: str, answer: str, note: str, transfer: str = "", review: bool = False,
                 staff: frozenset[str] = frozenset()) -> tuple[str, list[str]]:
    """The command block for the form's fields, and what is wrong with them (then nothing is done).

    `staff` holds the addresses a 诉求 may be transferred to (active HQ staff); the mail command would refuse any
    other in its acknowledgement, the form says so at once instead.
    """
    problems: list[str] = []
    lines: list[str] = []
    transfer = transfer.strip().lower()
    if transfer:
        if transfer not in staff or parse_commands(f"转交：{transfer}").commands != (Command("transfer", transfer),):
            problems.append("转交对象须为登记的总部人员")
        else:
            lines.append(f"转交：{transfer}")
    if review:
        lines.append("需集团审议：是")
    for label, verb, value in (("答复", "answer", answer), ("备注", "note", note)):
        value = value.replace("\r\n", "\n").strip()
        if not value:
            continue
        if len(value) > MAX_FIELD:
            problems.append(f"{label}过长")
            continue
        block = f"{label}：{value}"
        if parse_commands(block).commands != (Command(verb, value),):
            problems.append(f"{label}中不能有以“状态：”“转交：”等办理指令开头的行，也不能有单独的“关闭”行")
            continue
        lines.append(block)
    if status:
        if status not in FORM_STATUSES or status not in STATUS_WORDS:
            problems.append("未知的状态")
        else:
            lines.append(f"状态：{status}")  # last: the status chosen wins over the one an answer implies
    if not lines and not problems:
        problems.append("请至少选择状态、转交或需集团审议，或填写答复、备注")
    return "\n".join(lines), problems


def command_mail(app: App, person: Person, req: Request, body: str, client: str) -> bytes:
    """The reply a person would have sent, with the board as its relay (the `Received:` line says from where)."""
    m = EmailMessage()
    now = app.now()
    m["Received"] = f"from {client} by mailbot web; {format_datetime(now)}"
    m["From"] = formataddr((person.name, person.email))
    m["To"] = app.identity.address
    m["Subject"] = f"{req.number} 网页办理"
    m["Date"] = format_datetime(now)
    m["Message-ID"] = make_msgid("web", domain=app.identity.address.rpartition("@")[2])
    m.set_content(body)
    return m.as_bytes()


def hq_staff(s: Session) -> list[Person]:
    """Who a 诉求 may be transferred to: the active HQ staff, in the directory's order."""
    return list(s.scalars(select(Person).where(Person.role == "hq", Person.active.is_(True)).order_by(Person.id)))


def act_on_request(app: App, viewer: Viewer, number: str, client: str, *, status: str, answer: str,
                   note: str, transfer: str = "", review: bool = False) -> Outcome:
    with transaction(app.sessions) as s:
        req = s.scalar(scoped(select(Request).where(Request.number == number), viewer, Request.unit_id))
        person = s.get(Person, viewer.person_id) if viewer.is_hq and viewer.person_id is not None else None
        if req is None or person is None:
            return Outcome(False, ())
        body, problems = command_text(status=status, answer=answer, note=note, transfer=transfer, review=review,
                                      staff=frozenset(p.email for p in hq_staff(s)))
        if problems:
            return Outcome(True, tuple(problems))
        raw = command_mail(app, person, req, body, client)
        p = parse_message(raw)
        now = app.now()
        msg = InboundMessage(mailbox="web", uid_key=f"web:{uuid.uuid4()}", message_id=p.envelope.message_id,
                             sha256=hashlib.sha256(raw).hexdigest(), raw=raw, size=len(raw), received_at=now,
                             recorded_at=now, status="received", kind=p.kind, from_addr=person.email,
                             subject=p.envelope.subject)
        s.add(msg)
        s.flush()
        status_, outcome = handle_reply(Ctx(app, s), msg, p, person, req)
        msg.status, msg.outcome, msg.processed_at = status_, outcome, now
        s.add(WebAction(at=now, person_id=person.id, client=client, action="request", target=req.number,
                        detail=body, inbound_id=msg.id))
        return Outcome(True, (), outcome)
