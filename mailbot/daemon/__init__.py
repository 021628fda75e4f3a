"""The daemon: the mailbox loop, the calendar's tick (`calendar.DUE`), the leader lock that lets one daemon act,
the health record and its alarms, and `mailbot status`.
"""
