"""Requests (诉求, §8.1.2 and §8.2) and urgent matters (紧急事项): opened from reports and urgent mail, worked by HQ
staff by reply, answered to the unit, chased when overdue, and their chapter of the bulletin.
"""
