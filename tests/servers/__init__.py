"""Real servers on loopback for the tests: Dovecot (IMAP), an aiosmtpd sink (SMTP)."""
