"""Visits to key customers and customers' visits to HQ (§7): plan, notice, summary, follow-ups.

The capability's parts as everywhere: store (record, change, cancel), inbound (replies: summaries, progress,
calendar answers), schedule (briefings, summary requests, follow-up chases), mails, chapter, commands; besides
them the plan file (plan), the invitation (ics), the forms (summary_form), the timing rules (timing), who is who
(people) and the open follow-ups other capabilities list (matters).
"""
