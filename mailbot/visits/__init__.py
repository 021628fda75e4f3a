"""Visits to key customers and customers' visits to HQ (§7): plan, notice, summary, follow-ups.

The entry points the rest of mailbot calls are gathered in `mailbot.visits.service`; its docstring maps
the modules of this package.
"""
