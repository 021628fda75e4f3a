"""EWS transport: hands a queued mail to Exchange as one CreateItem (MimeContent, SendOnly).

The outbox row already holds the finished RFC 5322 message, so nothing is
rebuilt here: the bytes go to the server base64-encoded in MimeContent, and
Exchange submits them from the bot's mailbox (or keeps a copy in Sent Items
with `save_copy`, MessageDisposition=SendAndSaveCopy). Exchange takes the
recipients from the message's To/Cc/Bcc headers, so a row whose envelope
recipients are not all in those headers is refused here rather than sent to
fewer people than the outbox says.

Refusals that no retry can cure (bad recipients, too big, MIME the server
cannot read) become PermanentFailure. What would fail the same way for every
mail — a password or token that cannot be read, credentials refused (401),
send-as rights not granted, a server that cannot be reached or is busy —
becomes EwsUnavailable: the outbox stops the pass without using any mail's
retries, and logs the first three as errors for the operator. Anything else
is left to the sender's backoff. Like SMTP, a send is not idempotent on the
server: a crash between CreateItem and the row being marked sent repeats that
one mail.

exchangelib adds its defaults for Importance, Sensitivity and receipt requests
next to MimeContent; they match what mailbot writes, so nothing changes.

Tested how: only against canned SOAP over requests-mock, built from Microsoft's
published CreateItem examples; never against a live Exchange server.
"""

from __future__ import annotations

import logging
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import Any

from mailbot.db.models import OutboxMail
from mailbot.errors import MailbotError
from mailbot.mailboxes.exchange import EwsLogin
from mailbot.outbox.queue import PermanentFailure, TransportUnavailable

log = logging.getLogger(__name__)

# EWS response codes (exchangelib names its exceptions after them) that a retry cannot cure.
PERMANENT = frozenset({
    "ErrorInvalidRecipients", "ErrorMissingRecipients", "ErrorInvalidSmtpAddress", "ErrorMailRecipientNotFound",
    "ErrorMessageSizeExceeded", "ErrorAttachmentSizeLimitExceeded", "ErrorMimeContentConversionFailed",
    "ErrorMimeContentInvalid", "ErrorMimeContentInvalidBase64String", "ErrorUnsupportedMimeConversion",
})


# Refusals of our credentials or of our right to send as the bot's address: the same for every mail, and
# someone must act.
REFUSED = frozenset({
    "UnauthorizedError", "ErrorSendAsDenied", "ErrorPasswordExpired", "ErrorAccountDisabled",
    "ErrorImpersonateUserDenied", "ErrorImpersonationDenied",
})
# A server that cannot be reached or is too busy now (exchangelib re-raises a lost connection as
# ErrorTimeoutExpired): the same for every mail, and it passes. Named one by one, because exchangelib's
# TransportError is also the base of refusals that concern one item.
UNREACHABLE = frozenset({
    "TransportError", "ErrorTimeoutExpired", "ErrorServerBusy", "ErrorConnectionFailed",
    "ErrorConnectionFailedTransientError", "ErrorInternalServerTransientError", "ErrorMailboxStoreUnavailable",
    "RateLimitError", "ConnectionError", "ConnectTimeout", "ReadTimeout",
})


class EwsUnavailable(TransportUnavailable):
    """Nothing can be sent through EWS now; `needs_operator` when a setting or a right is the cause."""

    def __init__(self, message: str, *, needs_operator: bool) -> None:
        super().__init__(message)
        self.needs_operator = needs_operator


class EwsTransport:
    def __init__(self, login: EwsLogin, *, save_copy: bool = False) -> None:
        self.login = login
        self.save_copy = save_copy
        self._account: Any = None

    def send(self, mail: OutboxMail) -> None:
        _check_recipients(mail)
        try:
            account = self._connected()
        except MailbotError as e:  # the password or token could not be had
            raise EwsUnavailable(f"EWS login: {e}", needs_operator=True) from None
        from exchangelib import Message

        message = Message(account=account, mime_content=mail.raw)
        try:
            # save_copy=False is CreateItem SendOnly; True adds SavedItemFolderId=sentitems.
            message.send(save_copy=self.save_copy)
        except Exception as e:
            code = type(e).__name__
            if code in PERMANENT:
                raise PermanentFailure(f"EWS {code}: {e}") from e
            if code in REFUSED:
                raise EwsUnavailable(f"EWS {code}: {e}", needs_operator=True) from e
            if code in UNREACHABLE:
                raise EwsUnavailable(f"EWS {code}: {e}", needs_operator=False) from e
            raise
        log.debug("outbox=%s handed to %s over EWS", mail.id, self.login.host)

    def close(self) -> None:
        if self._account is not None:
            self._account.protocol.close()
            self._account = None

    def _connected(self) -> Any:
        self._account = self.login.ready(self._account)
        return self._account


def _check_recipients(mail: OutboxMail) -> None:
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(mail.raw)
    in_headers = {addr.lower() for _, addr in getaddresses(
        [str(v) for name in ("To", "Cc", "Bcc") for v in headers.get_all(name, [])])}
    wanted = [r.strip() for r in mail.recipients.split(",") if r.strip()]
    missing = [r for r in wanted if r.lower() not in in_headers]
    if missing:
        raise PermanentFailure(f"recipients {', '.join(missing)} are not in To/Cc/Bcc, and EWS sends to those only")
