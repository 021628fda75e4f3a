"""National product and service campaigns (全国性产品及服务方案, §6.1): a plan sent to the units concerned, their
feedback per target customer read back round after round, the funnel's history kept, and a board HQ can follow.

The capability's parts as everywhere: plan (the campaign file), store (launch, close, feedback kept), inbound (a
unit's feedback: matched, checked, recorded, acknowledged), schedule (feedback due: reminders, escalation), mails,
commands; besides them rounds (the feedback dates, pure) and board (the figures).
"""
