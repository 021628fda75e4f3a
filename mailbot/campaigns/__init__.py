"""National product and service campaigns (全国性产品及服务方案, §6.1): a plan sent to the units concerned, their
feedback per target customer read back round after round, the funnel's history kept, and a board HQ can follow.

The capability's parts as everywhere: plan (the campaign file), store (launch, close, feedback kept), inbound (a
unit's feedback: matched, checked, recorded, acknowledged), schedule (feedback due: reminders, escalation), mails,
commands; besides them rounds (the feedback dates, pure), recording (checking and keeping one feedback, wherever
it came), monthly (feedback riding in a monthly report, as the reports capability's rider), events (promotion
events: visits linked to the campaign) and board (the figures). The form itself is written by
`reports.campaign_forms`, below, since the monthly request carries it too.
"""
