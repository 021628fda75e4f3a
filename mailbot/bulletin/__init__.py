"""The monthly key-customer bulletin (重点客户月报, §8.1.4): `gather` reads the month from the database into
`model`'s frozen dataclasses, `render` lays them out as HTML and PDF, `compile` issues and mails it.

Nothing is imported here: `mailbot parse` and `mailbot --help` load this package for its commands only.
"""
