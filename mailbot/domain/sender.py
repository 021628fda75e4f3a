"""Is the From address the one our mail server vouches for? A pure decision over its Authentication-Results.

The verdict, in order:

1. No trusted header (none configured, or none of ours on the message): `unverified` — the From is all we have.
2. DMARC checked a From domain (`header.from`) that is not the domain of the address we read: `fail`. The server
   and we disagree about who sent the mail, which is exactly how a display-name trick shows.
3. DMARC's own verdict when it gave one: `pass` → authentic, `fail` → forged. A DKIM or SPF failure beside a
   DMARC pass is normal for forwarded and double-signed mail and changes nothing.
4. Without a DMARC verdict (none, temperror, permerror, or no DMARC at all): a submission our server
   authenticated as this very address (`auth=pass smtp.auth=<address>`, how internal mail is vouched for), or
   the aligned DKIM and SPF results (relaxed alignment: the signing or envelope domain is the From domain, a
   parent or a child of it): any pass → authentic; otherwise a fail → forged; otherwise `unverified`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from parsers.authresults import AuthResults, MethodResult

Verdict = Literal["pass", "fail", "unverified"]


@dataclass(frozen=True)
class SenderCheck:
    verdict: Verdict
    reason: str   # Chinese, fit for a quarantine reason or an operator notice


def _domain(addr: str) -> str:
    return addr.rpartition("@")[2].strip().strip(".").lower()


def aligned(a: str, b: str) -> bool:
    """Relaxed alignment without a public-suffix list: equal, or one a subdomain of the other (two labels at least)."""
    a, b = a.strip(".").lower(), b.strip(".").lower()
    if not a or not b:
        return False
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    return short.count(".") >= 1 and long.endswith("." + short)


def _aligned_results(results: list[MethodResult], from_domain: str, *props: str) -> list[str]:
    out = []
    for r in results:
        domain = next((_domain(v) for p in props if (v := r.prop(p))), "")
        if aligned(domain, from_domain):
            out.append(r.result)
    return out


def check_sender(from_addr: str, ar: AuthResults | None) -> SenderCheck:
    if ar is None:
        return SenderCheck("unverified", "邮件服务器没有给出可信的发件人认证结果")
    domain = _domain(from_addr)
    dmarc = ar.of("dmarc")
    for r in dmarc:
        checked = r.prop("header.from")
        if checked and checked != (from_addr if "@" in checked else domain):
            return SenderCheck("fail", f"邮件服务器验证的发件人域 {checked} 与发件人地址 {from_addr} 不一致，可能是冒用地址")
    verdicts = {r.result for r in dmarc}
    if "fail" in verdicts:
        return SenderCheck("fail", f"发件人 {from_addr} 未通过邮件服务器的DMARC验证，可能是冒用地址")
    if "pass" in verdicts:
        return SenderCheck("pass", "DMARC验证通过")
    if any(r.result == "pass" and r.prop("smtp.auth") == from_addr for r in ar.of("auth")):
        return SenderCheck("pass", "邮件服务器已认证发件账号")
    dkim = _aligned_results(ar.of("dkim"), domain, "header.d", "header.i")
    spf = _aligned_results(ar.of("spf"), domain, "smtp.mailfrom")
    if "pass" in dkim or "pass" in spf:
        return SenderCheck("pass", "DKIM验证通过" if "pass" in dkim else "SPF验证通过")
    for method, results in (("DKIM", dkim), ("SPF", spf)):
        if "fail" in results:
            return SenderCheck("fail", f"发件人 {from_addr} 未通过邮件服务器的{method}验证，可能是冒用地址")
    return SenderCheck("unverified", "邮件服务器的认证结果中没有与发件人域一致的结论")
