"""The monthly report (月度报送, §8.1.1 and §8.1.4): the request with its form, reminders and escalation, the units'
replies read, filed and acknowledged or answered with what to fix.
"""
