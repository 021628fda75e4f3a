"""Does a unit contact's mail without a readable form try to be the monthly report? (DESIGN §8.2.1)

Only such mail is answered with what to fix; anything else a contact writes — a question to HQ, a travel
plan, thanks after the acknowledgement — goes to a person at HQ, and is never told its report was not accepted.
"""

from __future__ import annotations

from collections.abc import Iterable

# Files that may hold the form: the workbook we send (and what Excel or WPS saves it as), or any file whose name
# says it is the report. A Word file named otherwise (a travel plan, minutes) is correspondence.
_WORKBOOKS = (".xlsx", ".xlsm", ".xls", ".et", ".ods")
_NAME_HINTS = ("填报单", "月度报送", "重点客户", "月报", "kcr-")


def looks_like_the_form(filename: str) -> bool:
    name = filename.strip().lower()
    return name.endswith(_WORKBOOKS) or any(hint in name for hint in _NAME_HINTS)


def attempts_report(*, answers_our_request: bool, carries_report_number: bool, attachment_names: Iterable[str],
                    month_accepted: bool) -> bool:
    """A mail with no form read from it is a failed attempt at the report when it answers our request's thread,
    carries our report number, or holds a file that looks like the form — unless the unit's report for that
    month was already accepted: then it is correspondence, so an accepted month is never contradicted."""
    if month_accepted:
        return False
    return answers_our_request or carries_report_number or any(map(looks_like_the_form, attachment_names))
