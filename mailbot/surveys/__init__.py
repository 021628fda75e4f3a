"""Customer satisfaction surveys (§5.3): launched from a file, one form per customer, answers counted.

The capability's parts as everywhere: plan (the survey file), store (launch, close, responses), inbound (a
response: matched, checked, counted, acknowledged), mails, commands.
"""
