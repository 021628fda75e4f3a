"""Pure decisions, no I/O: working days, due dates, report numbers, validation, reply commands, the sender verdict.
"""
