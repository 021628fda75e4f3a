"""Customer satisfaction surveys (§5.3): launched from a file, one form per customer, answers counted, results
reported.

The capability's parts as everywhere: plan (the survey file), store (launch, responses), inbound (a response:
matched, checked, counted, acknowledged), schedule (reminders, each unit's customers still to answer), mails,
commands; besides them results (the figures), report (the PDF) and closing (close, report on request).
"""
