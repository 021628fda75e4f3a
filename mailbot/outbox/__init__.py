"""Outgoing mail: composed (MIME), queued under idempotency keys in the transaction that decides to send it, and
delivered by a transport (Maildir, SMTP, EWS) with retries.
"""
