"""Who sent it: the registered person a strict From names, vouched for by our own mail server when it speaks.

README "Security" tells the whole trust model; `parsers.envelope.read_sender` reads the From strictly and
`domain.sender` decides over the Authentication-Results of our own servers.
"""

from __future__ import annotations

from parsers import Envelope
from parsers.authresults import trusted_results

from mailbot.db.models import Person
from mailbot.domain.sender import check_sender
from mailbot.pipeline.context import Ctx, Sender


def authenticate(ctx: Ctx, env: Envelope, person: Person) -> Sender | str:
    """Whether the registered person the strict From names really sent the mail, or why not (a quarantine reason).

    The From was read strictly (`parsers.envelope.read_sender`); when our server's Authentication-Results are on
    the mail, they must vouch for that very address (`domain.sender`).
    """
    security = ctx.app.settings.security
    check = check_sender(env.from_addr, trusted_results(env.auth_results, security.authserv_ids))
    if check.verdict == "fail":
        return check.reason
    if check.verdict == "unverified" and security.require_authentication:
        return f"发件人 {env.from_addr} 的邮件未经邮件服务器认证（{check.reason}）"
    return Sender(person, check.verdict == "pass", check.reason)
