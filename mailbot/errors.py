"""The short hierarchy of mailbot's own exceptions.

Expected outcomes (a report with mistakes, a stranger's mail) are values, not
exceptions; these are for what stops a command: bad configuration, a broken
directory, a database that is not migrated.
"""


class MailbotError(Exception):
    """Base of every error mailbot raises on purpose; the CLI prints it without a traceback."""


class ConfigError(MailbotError):
    """A configuration or directory file is wrong; the message names the file and the key."""


class NotMigrated(MailbotError):
    """The database schema is older than the code: run `mailbot db upgrade`."""
