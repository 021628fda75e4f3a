"""`parse_message`: one raw message in, one `ParsedMessage` out.

The stages run top to bottom: read MIME → decode headers and body → split
the new text from the quoted original → find and read every copy of the
form → pick the winning copy → classify (kind, urgent, automatic) → take the
report number from the form or the subject.  Nothing here touches files,
network, clock or database; the same bytes always give the same result.

Winning copy: the topmost copy that has any answer (FORM.md definition);
if no copy has answers, the topmost copy with customer blocks (so a stray
title line cannot hide the real blank form).

Workbooks: an attached .xlsx that holds the form (`xlsxform.py`) is one
more copy.  The body wins when both the body and a workbook have answers —
the body is what the sender wrote in this very message and what a person
reading the mail sees, while an attachment may be a stale copy forwarded
along — and a warning names the workbook that was not used (and says if
it agreed).  A workbook with answers beats a body whose copies are blank
(the usual "see attachment" reply quoting the request), silently: nothing
was guessed or dropped, and the result is the JSON the same answers typed
into the body would give.  Bounces and auto-replies keep
their kind even when they quote a form, and their quoted form is not read
for answers (only its report number is used to match the message).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from parsers import classify
from parsers.bounce import Bounce, read_bounce
from parsers.campaign import CAMPAIGN_TITLE, CampaignFeedback, read_campaigns
from parsers.charsets import decode_header
from parsers.envelope import build_envelope, first_values, raw_headers
from parsers.form import FormCopy, find_copies, read_copy
from parsers.formtext import FORM_TITLE
from parsers.itip import CalendarReply, read_calendar_reply
from parsers.mime import Body, extract_body, iter_parts, param, read_message
from parsers.model import Attachment, Envelope, Problem, StrategicBlock, VipBlock
from parsers.quotes import boundaries, cut_sign_off, new_text, split_lines
from parsers.survey import SURVEY_TITLE, SurveyResponse, read_survey

__all__ = [
    "Attachment", "Envelope", "ParsedMessage", "Problem", "StrategicBlock", "VipBlock",
    "parse_message",
]

_UNIT_CODE = re.compile(r"[（(]\s*([A-Za-z0-9]{2,12})\s*[）)]")
_PERIOD_WORDS = re.compile(r"(\d{4})\s*(?:年|[-./])\s*(\d{1,2})")
_SUBJECT_LINE = re.compile(r"^subject:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.I | re.M)


@dataclass(frozen=True)
class ParsedMessage:
    """Everything the pipeline needs from one message; `as_json` is FORM.md's output."""

    envelope: Envelope
    kind: str
    token: str | None
    unit: str | None
    period: str | None
    urgent: bool
    urgent_reasons: tuple[str, ...]
    reporter_name: str | None
    reporter_phone: str | None
    strategic: tuple[StrategicBlock, ...]
    vip: tuple[VipBlock, ...]
    urgent_text: str | None
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    text: str
    new_text: str
    form_text: str | None
    has_answers: bool
    attachments: tuple[Attachment, ...] = ()
    form_source: str | None = None   # "body", or the name of the attached file the form came from
    bounce: Bounce | None = None     # for a bounce: which message came back, for whom, for good or not
    calendar_reply: CalendarReply | None = None   # an attendee's answer to one of our invitations
    campaigns: tuple[CampaignFeedback, ...] = ()  # campaign feedback (CAMPAIGN.md), alone or riding a monthly report
    survey: SurveyResponse | None = None          # a survey response (SURVEY.md)

    def as_json(self) -> dict[str, object]:
        """Exactly the `mailbot parse --json` object of FORM.md, CAMPAIGN.md or SURVEY.md, keys in order."""
        if self.kind == "campaign_feedback":
            return self.campaigns[0].as_json(self.urgent)
        if self.kind == "survey_response" and self.survey is not None:
            return self.survey.as_json(self.urgent)
        monthly: dict[str, object] = {
            "kind": self.kind,
            "token": self.token,
            "unit": self.unit,
            "period": self.period,
            "urgent": self.urgent,
            "urgent_reasons": list(self.urgent_reasons),
            "reporter": {"name": self.reporter_name, "phone": self.reporter_phone},
            "strategic": [block.as_json() for block in self.strategic],
            "vip": [block.as_json() for block in self.vip],
            "urgent_text": self.urgent_text,
            "errors": [p.as_json() for p in self.errors],
            "warnings": [p.as_json() for p in self.warnings],
        }
        if self.campaigns:
            monthly["campaigns"] = [c.as_json(self.urgent, with_kind=False) for c in self.campaigns]
        return monthly


def _winning_copy(copies: list[FormCopy]) -> FormCopy | None:
    """The topmost copy with any answer; else the topmost that has customer blocks."""
    for copy in copies:
        if copy.has_answers:
            return copy
    return next((c for c in copies if c.strategic or c.vip), copies[0] if copies else None)


def _attached_copies(body: Body) -> tuple[list[tuple[str, FormCopy]], list[Problem], list[tuple[str, str]]]:
    """(file name, form copy) of every attached workbook or Word document holding the monthly form, in MIME
    order; a warning naming each that could not be read; and (file name, text) of those that may hold another
    form (a survey, campaign feedback), for those forms' readers."""
    if not body.form_files:
        return [], [], []
    # Imported here: a message without such a file never needs the readers.
    from parsers.docxform import read_document
    from parsers.xlsxcells import Budget, declared_size
    from parsers.xlsxform import read_workbook

    # One budget for the whole message, spent on the smallest file first (by inflated size: a zip bomb is small
    # only when packed).  A form is small, so a big spreadsheet beside it cannot use up what reading the form
    # needs.
    budget = Budget()
    sizes = [declared_size(f.data) for f in body.form_files]
    results: dict[int, tuple[FormCopy | None, str | None, str | None]] = {}
    for index in sorted(range(len(sizes)), key=sizes.__getitem__):
        file = body.form_files[index]
        if file.kind == "document":
            doc = read_document(file.data, budget)
            results[index] = (_text_copy(doc.text) if doc.text is not None else None, doc.problem, doc.text)
        else:
            book = read_workbook(file.data, budget)
            results[index] = (book.copy, book.problem, book.text)
    found: list[tuple[str, FormCopy]] = []
    problems: list[Problem] = []
    texts: list[tuple[str, str]] = []
    for index, file in enumerate(body.form_files):
        name = file.name
        copy, problem, text = results[index]
        if problem is not None:
            problems.append(Problem("", f"附件“{name}”{problem}，未读取其中的内容"))
        elif copy is not None:
            found.append((name, copy))
        elif text:
            texts.append((name, text))
    return found, problems, texts


def _attached_survey(body: SurveyResponse | None, texts: list[tuple[str, str]],
                     subject: str) -> SurveyResponse | None:
    """The body's survey response, unless only an attachment (the .xlsx sent with the form) holds the answers."""
    if body is not None and body.has_answers:
        return body
    for _name, text in texts:
        if SURVEY_TITLE not in text:
            continue
        lines = split_lines(text)
        found = read_survey(lines, [b.line for b in boundaries(lines)], subject)
        if found is not None and found.has_answers:
            return found
    return body


def _attached_campaigns(body: list[CampaignFeedback], texts: list[tuple[str, str]],
                        subject: str) -> list[CampaignFeedback]:
    """The body's campaign feedback, unless only an attachment holds answers."""
    if any(c.has_answers for c in body):
        return body
    for _name, text in texts:
        if CAMPAIGN_TITLE not in text:
            continue
        lines = split_lines(text)
        found = read_campaigns(lines, [b.line for b in boundaries(lines)], subject)
        if any(c.has_answers for c in found):
            return found
    return body


def _text_copy(text: str) -> FormCopy | None:
    """The form in a document's text, read as the body's is: the topmost filled copy."""
    lines = split_lines(text)
    return _winning_copy([read_copy(lines, start, end)
                          for start, end in find_copies(lines, [b.line for b in boundaries(lines)])])


def _same_answers(a: FormCopy, b: FormCopy) -> bool:
    return (a.strategic, a.vip, a.urgent_text, a.reporter_name, a.reporter_phone) == (
        b.strategic, b.vip, b.urgent_text, b.reporter_name, b.reporter_phone)


def _choose_form(copies: list[FormCopy], books: list[tuple[str, FormCopy]]) -> tuple[
        FormCopy | None, str | None, list[Problem]]:
    """The form to read, where it came from ("body" or a file name), and what to warn about it."""
    body = _winning_copy(copies)
    filled = [(name, copy) for name, copy in books if copy.has_answers]
    notes: list[Problem] = []
    if body is not None and body.has_answers:
        if filled:
            names = "、".join(f"“{name}”" for name, _ in filled)
            agreed = all(_same_answers(copy, body) for _, copy in filled)
            notes.append(Problem("", f"邮件正文和附件{names}中都填写了填报单，已采用邮件正文中的内容"
                                     + ("（两者内容一致）" if agreed else "，附件中的内容未采用")))
        return body, "body", notes
    if filled:
        name, copy = filled[0]
        if len(filled) > 1:
            notes.append(Problem("", f"有{len(filled)}个附件填写了填报单，已采用“{name}”，其余未采用"))
        return copy, name, notes
    if body is not None:
        return body, "body", notes
    if books:
        return books[0][1], books[0][0], notes
    return None, None, notes


def _returned_parts(message: Message) -> list[Message]:
    """Parts of a bounce that carry the returned message or its headers."""
    found = []
    for part in iter_parts(message):
        kind = part.get_content_type()
        if kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            found.append(part)
    return found


def _returned_subject_token(parts: list[Message]) -> classify.Token | None:
    """A bounce is matched by the report number in the returned message's subject."""
    for part in parts:
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            subject = payload[0].get("subject")
        else:
            # The bytes, not get_payload(): the stdlib decodes text by its charset label as written, and a label
            # such as charset*=utf-8''utf-8 makes it raise.
            data = part.get_payload(decode=True)
            text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else ""
            line = _SUBJECT_LINE.search(text)
            subject = line.group(1) if line else None
        token = classify.find_token(decode_header(subject))
        if token is not None:
            return token
    return None


def _token_checks(copy: FormCopy | None, subject: str, kind: str) -> tuple[
        classify.Token | None, list[Problem], list[Problem]]:
    """The report number (form first, then subject) and what is wrong with it."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    from_subject = classify.find_token(subject)
    written = copy.token_text if copy else None
    from_form = classify.find_token(written)
    token = from_form or from_subject
    if written and from_form is None:
        if from_subject:
            warnings.append(Problem("报告编号", f"填报单中的报告编号“{written}”无法识别，已采用主题中的 {from_subject.text}"))
        else:
            errors.append(Problem("报告编号", f"报告编号“{written}”无法识别，应为 KCR-年月-单位代码 的形式，请勿修改"))
    elif from_form and from_subject and from_form.text != from_subject.text:
        warnings.append(Problem("报告编号", f"主题中的报告编号 {from_subject.text} 与填报单中的 {from_form.text} 不一致，以填报单为准"))
    if kind == "monthly_report" and token is None and not written:
        warnings.append(Problem("报告编号", "填报单和邮件主题中都没有报告编号"))
    if copy is not None and token is not None and kind == "monthly_report":
        unit = _UNIT_CODE.search(copy.unit_text or "")
        if unit and unit.group(1).upper() != token.unit:
            warnings.append(Problem("所属单位", f"所属单位写的是“{copy.unit_text}”，与报告编号中的单位代码 {token.unit} 不一致"))
        period = _PERIOD_WORDS.search(copy.period_text or "")
        if period and f"{period.group(1)}-{int(period.group(2)):02d}" != token.period:
            warnings.append(Problem("报告期", f"报告期写的是“{copy.period_text}”，与报告编号中的 {token.period} 不一致"))
    return token, errors, warnings


def _kind(envelope: Envelope, values: dict[str, str], content_type: str, report_type: str, body: Body,
          forms: tuple[FormCopy | None, list[CampaignFeedback], SurveyResponse | None], returned: list[Message]) -> str:
    """FORM.md "kind", first rule that applies (urgent_report is decided by the caller)."""
    subject = envelope.subject
    if classify.is_bounce(envelope.from_addr, content_type, report_type, subject, body.text,
                          bool(returned or body.attachments)):
        return "bounce"
    if classify.is_auto_reply(values, content_type, subject):
        return "auto_reply"
    monthly, campaigns, survey = forms
    if monthly is not None:
        return "monthly_report"
    if campaigns:
        return "campaign_feedback"
    return "survey_response" if survey is not None else "unknown"


def _read_envelope(message: Message, headers: dict[str, list[str]], values: dict[str, str]) -> tuple[
        Envelope, str, str]:
    """The envelope with its automatic-mail reasons, the top-level content type and a report's type."""
    envelope = build_envelope(headers)
    content_type = message.get_content_type() if headers else "text/plain"
    report_type = ""
    if content_type == "multipart/report":
        report_type = str(param(message, "report-type", "content-type") or "")
    envelope = dataclasses.replace(envelope, automatic_reasons=classify.automatic_reasons(
        values, envelope.from_addr, content_type, report_type, envelope.subject))
    return envelope, content_type, report_type


def _urgent_reasons(values: dict[str, str], subject: str, form: FormCopy | None) -> list[str]:
    """Why the mail is urgent (FORM.md "Urgent mail"): the subject first, then headers, then the form's block."""
    reasons = classify.urgent_header_reasons(values)
    subject_reason = classify.urgent_subject_reason(subject)
    if subject_reason:
        reasons.insert(0, subject_reason)
    if form is not None and form.urgent_text:
        reasons.append("【紧急事项】栏已填写")
    return reasons


def _form_findings(form: FormCopy, copies: list[FormCopy], source: str | None, notes: list[Problem],
                   token_problems: tuple[list[Problem], list[Problem]]) -> tuple[list[Problem], list[Problem]]:
    """The errors and warnings of the form that was read, its choice among copies, and its report number."""
    errors = [*form.errors, *token_problems[0]]
    warnings = [*form.warnings, *notes]
    filled = sum(1 for c in copies if c.has_answers)
    if source == "body" and filled > 1:
        warnings.append(Problem("", f"邮件中有{filled}份填写过的填报单，已采用最上面的一份"))
    warnings.extend(token_problems[1])
    return errors, warnings


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse one RFC 5322 message (raises UnreadableMessage only for non-messages)."""
    message = read_message(raw)
    headers = raw_headers(message)
    values = first_values(headers)
    envelope, content_type, report_type = _read_envelope(message, headers, values)

    body = extract_body(message, keywords=(FORM_TITLE, CAMPAIGN_TITLE, SURVEY_TITLE))
    lines = split_lines(body.text)
    found = boundaries(lines)
    separators = [b.line for b in found]
    fresh = new_text(lines, found)
    copies = [read_copy(lines, start, end) for start, end in find_copies(lines, separators)]
    books, book_problems, attached_texts = _attached_copies(body)
    winner, source, choice_notes = _choose_form(copies, books)
    # Most mail holds neither form: their readers walk the lines only where the title word is (it is never split).
    campaigns = _attached_campaigns(read_campaigns(lines, separators, envelope.subject)
                                    if CAMPAIGN_TITLE in body.text else [], attached_texts, envelope.subject)
    survey = _attached_survey(read_survey(lines, separators, envelope.subject) if SURVEY_TITLE in body.text
                              else None, attached_texts, envelope.subject)
    returned = _returned_parts(message)
    kind = _kind(envelope, values, content_type, report_type, body, (winner, campaigns, survey), returned)
    # Bounces and auto-replies keep their kind; a form they quote is not a report.
    form = winner if kind == "monthly_report" else None
    if kind == "monthly_report":
        # The request's campaign blocks come back quoted in every reply: only those the unit filled count.
        campaigns = [c for c in campaigns if c.has_answers]
    elif kind != "campaign_feedback":
        campaigns = []
    body_warnings = tuple(Problem("", w) for w in body.warnings)
    if kind == "survey_response" and survey is not None:
        survey = dataclasses.replace(survey, warnings=body_warnings + survey.warnings)
    else:
        survey = None
    if kind == "campaign_feedback":
        campaigns[0] = dataclasses.replace(campaigns[0], warnings=body_warnings + campaigns[0].warnings)

    reasons = _urgent_reasons(values, envelope.subject, form)
    if kind == "unknown" and reasons:
        kind = "urgent_report"

    token, token_errors, token_warnings = _token_checks(winner, envelope.subject, kind)
    if token is None and kind == "bounce":
        token = _returned_subject_token(returned)
    warnings = [*body_warnings, *book_problems]
    errors: list[Problem] = []
    urgent_text: str | None = None
    if form is not None:
        form_errors, form_warnings = _form_findings(form, copies, source, choice_notes,
                                                    (token_errors, token_warnings))
        errors += form_errors
        warnings += form_warnings
        urgent_text = form.urgent_text
        if urgent_text is None and reasons and not form.has_answers:
            # An urgent note written above a quoted blank form is the urgent matter.
            urgent_text = cut_sign_off(fresh, envelope.from_name) or None
    elif kind == "urgent_report":
        # A bare forward has no words of its own; then the forwarded text is the matter.
        urgent_text = cut_sign_off(fresh, envelope.from_name) or body.text.strip() or None

    return ParsedMessage(
        envelope=envelope,
        kind=kind,
        token=token.text if token else None,
        unit=token.unit if token else None,
        period=token.period if token else None,
        urgent=bool(reasons),
        urgent_reasons=tuple(reasons),
        reporter_name=form.reporter_name if form else None,
        reporter_phone=form.reporter_phone if form else None,
        strategic=form.strategic if form else (),
        vip=form.vip if form else (),
        urgent_text=urgent_text,
        errors=tuple(errors),
        warnings=tuple(warnings),
        text=body.text,
        new_text=fresh,
        form_text=form.text if form else None,
        has_answers=form.has_answers if form else False,
        attachments=body.attachments,
        bounce=read_bounce(message, returned, body.text) if kind == "bounce" else None,
        calendar_reply=read_calendar_reply(message),
        form_source=source if form is not None else None,
        campaigns=tuple(campaigns),
        survey=survey,
    )


def looks_urgent(head: bytes) -> bool:
    """Whether a message's header block alone marks it urgent (the subject's 【紧急】, Importance: high,
    X-Priority: 1…), so a mailbox can hand out urgent mail ahead of a backlog before anything is parsed."""
    try:
        headers = raw_headers(BytesHeaderParser(policy=compat32).parsebytes(head))
        values = first_values(headers)
        subject = decode_header(headers.get("subject", [""])[0])
    except Exception:  # noqa: BLE001 - a header we cannot read is simply not marked urgent
        return False
    return bool(classify.urgent_header_reasons(values) or classify.urgent_subject_reason(subject))
