"""A unit contact's mail that is not a report (DESIGN §8.2.1): handed to a person at HQ — the unit's 总部对接人, or
the correspondence list — with the original attached, recorded, and the sender told who has it.
"""
