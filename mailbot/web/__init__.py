"""The board: a small web view over the same database, for people who would rather look than read.

Everything still works by mail; the board shows the month, the 诉求 and their history, the customer archive,
visits, surveys, campaigns and the bulletins, and lets HQ staff act on a 诉求 through the very code a command mail
runs. How the parts fit:

    commands.py   `mailbot web [--port N] [--host H]`: uvicorn serving `site.create_app(open_app(...))`
    site.py       the Starlette app: middleware (signed session cookie, CSP and friends), the route table,
                  where every POST route is wrapped by the CSRF check — none can be added without it; the
                  viewer of a request (session, or the SSO header from a trusted proxy)
    signin.py     sign-in by e-mail: a one-time link (hash stored, single use, 15 minutes, one person or one
                  unit's leader), queued through the outbox; the rate limit per address and per client
    scope.py      who sees what: `Viewer` and `scoped` / `scoped_via`, which every page's query goes through
    pages.py      the month, one unit's month, the 诉求 board and one 诉求 (already scoped) for their templates
    customers.py  the customer archive: list, timeline (the archive's own), dossier PDF, a unit's rows only
    visits.py · surveys.py · campaigns.py · bulletins.py   the other pages, each over its capability's code
    act.py        HQ staff acting on a 诉求: the form becomes the command text a mail would carry, handled by
                  `requests.inbound.handle_reply`, so history and mails are the mail command's own
    cache.py      the month's and the board's rendered bodies, kept while their data's version stands
    render.py     the Jinja2 environment for templates/web/ (autoescape on, always)
"""
