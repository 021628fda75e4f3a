"""The demo month (`mailbot demo`) and the mail units write in it (`replies`), which the tests use as well.
"""
