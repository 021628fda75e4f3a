"""The board: a small web view over the same database, for people who would rather look than read.

Everything still works by mail; the board shows the month, the 诉求 and their history, and lets HQ staff act on a
诉求 through the very code a command mail runs. How the parts fit:

    commands.py   `mailbot web [--port N] [--host H]`: uvicorn serving `site.create_app(open_app(...))`
    site.py       the Starlette app: middleware (signed session cookie, CSP and friends), the route table,
                  where every POST route is wrapped by the CSRF check — none can be added without it
    signin.py     sign-in by e-mail: a one-time link (hash stored, single use, 15 minutes, one person), queued
                  through the outbox; the rate limit per address and per client
    scope.py      who sees what: `Viewer` and `scoped`, the one function every page's query goes through
    pages.py      what each page reads (already scoped) and hands to its template
    act.py        HQ staff acting on a 诉求: the form becomes the command text a mail would carry, handled by
                  `requests.inbound.handle_reply`, so history and mails are the mail command's own
    render.py     the Jinja2 environment for templates/web/ (autoescape on, always)
"""
