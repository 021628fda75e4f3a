"""The bulletin's issue numbers: 第N期 within the year, 总第M期 since the first issue.

(What the bulletin reads from the database is tested on the demo's November: tests/demo/test_november.py.)
"""

from __future__ import annotations

from mailbot.bulletin.compile import issue_numbers


def test_issue_numbers_restart_each_january_from_the_first_issue() -> None:
    # 第N期 within the year, 总第M期 since go-live; no first issue configured: the month's number.
    assert issue_numbers("2026-11", "2026-10") == (2026, 2, 2)
    assert issue_numbers("2027-01", "2026-10") == (2027, 1, 4)
    assert issue_numbers("2027-03", "2026-10") == (2027, 3, 6)
    assert issue_numbers("2026-11", None) == (2026, 11, 0)
    assert issue_numbers("2026-09", "2026-10") == (2026, 1, 1)


