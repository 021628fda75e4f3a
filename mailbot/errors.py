"""The short hierarchy of mailbot's own exceptions.

Expected outcomes (a report with mistakes, a stranger's mail) are values, not
exceptions; these are for what stops a command: bad configuration, a broken
directory, a database that is not migrated, a pass stopped by a fault of ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class MailbotError(Exception):
    """Base of every error mailbot raises on purpose; the CLI prints it without a traceback."""


class ConfigError(MailbotError):
    """A configuration or directory file is wrong; the message names the file and the key."""


class NotMigrated(MailbotError):
    """The database schema is older than the code: run `mailbot db upgrade`."""


class PassStopped(MailbotError):
    """A fault of ours — the database, the disk, a connection, the installation — stopped an intake pass.

    Nothing was blamed on the message in flight: its transaction rolled back, it stays `received` and in the
    mailbox, and the next pass takes it up again (so does the rest of the inbox). `done` holds the outcomes of
    what the pass finished before it stopped.
    """

    def __init__(self, reason: str, done: Sequence[Any] = ()) -> None:
        super().__init__(reason)
        self.done = list(done)


# --- whose fault ------------------------------------------------------------------------------------------
#
# A fault of ours rolls back and is retried by the next pass; only a fault of the message quarantines it. The
# line is drawn by what a message's content can provoke. A database that is unreachable, restarting, out of
# disk or memory, read-only, locked or corrupt is ours, and so are the disk and the installation. A value the
# database refuses (bad data, a constraint, a limit, a SQL-level error) or a plain bug is the message's: it
# would fail the same way on every retry, and retrying it for ever would hold up the whole inbox behind it.

# SQLSTATE classes and codes (PostgreSQL) that say the server, not the statement, is the problem:
# 08 connection, 28 authorization, 3D catalog gone, 40 rollback (serialization, deadlock: run it again),
# 53 resources (disk full, out of memory, too many connections), 57 operator intervention (admin shutdown,
# cancel, crash), 58 system (I/O), XX internal (corruption). Class 54 ("program limit exceeded", e.g. an index
# row too big) is deliberately absent: a value in the message can provoke it.
_OUR_SQLSTATE_CLASSES = frozenset({"08", "28", "3D", "40", "53", "57", "58", "XX"})
_OUR_SQLSTATES = frozenset({
    "25006",           # read-only SQL transaction: a standby, or default_transaction_read_only
    "55P03", "55006",  # lock not available, object in use: someone else holds it
    "42501",           # insufficient privilege: grants changed under us
    "42P01", "42703",  # undefined table or column: the schema is not the one the code was written for
})
# SQLite primary result codes (extended ones, e.g. SQLITE_IOERR_WRITE, are matched by their primary part).
# SQLITE_ERROR is absent: it is the SQL-level error ("LIKE pattern too complex", "too many SQL variables").
_OUR_SQLITE_CODES = frozenset({"SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_BUSY", "SQLITE_LOCKED",
                               "SQLITE_CANTOPEN", "SQLITE_NOMEM", "SQLITE_PROTOCOL", "SQLITE_CORRUPT",
                               "SQLITE_NOTADB", "SQLITE_PERM", "SQLITE_AUTH", "SQLITE_NOLFS"})


def our_fault(e: BaseException) -> bool:
    """Whether `e` is a fault of ours (database, disk, connection, configuration) rather than of the message."""
    from jinja2 import TemplateNotFound
    from sqlalchemy import exc as sa

    if isinstance(e, (PassStopped, ConfigError, NotMigrated, sa.DisconnectionError, sa.TimeoutError,
                      TemplateNotFound)):  # a template missing from the installation is no message's doing
        return True
    if isinstance(e, sa.DBAPIError):
        if e.connection_invalidated:  # SQLAlchemy saw the connection die
            return True
        if state := getattr(e.orig, "sqlstate", None):
            return state[:2] in _OUR_SQLSTATE_CLASSES or state in _OUR_SQLSTATES
        if name := getattr(e.orig, "sqlite_errorname", None):
            return "_".join(str(name).split("_")[:2]) in _OUR_SQLITE_CODES
        # No code from a server: the driver could not talk to it (refused, reset, closed).
        return isinstance(e, (sa.OperationalError, sa.InterfaceError))
    # The operating system's refusals carry an errno (ENOSPC, EROFS, EIO, EACCES, ECONNREFUSED…); a library
    # that raises OSError about bad data (gzip's "Not a gzipped file") does not.
    return isinstance(e, OSError) and e.errno is not None


def describe(e: BaseException) -> str:
    """One line on what failed, for logs, health and the command line: the driver's error, not SQLAlchemy's
    multi-line wrapper with the statement and its parameters."""
    from sqlalchemy import exc as sa

    if isinstance(e, PassStopped):
        return str(e)
    cause: BaseException = e.orig if isinstance(e, sa.DBAPIError) and e.orig is not None else e
    code = getattr(cause, "sqlstate", None) or getattr(cause, "sqlite_errorname", None)
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}{f' {code}' if code else ''}: {lines[0] if lines else '(no message)'}"
