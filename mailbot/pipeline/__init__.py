"""The inbound pipeline: every message fetched, recorded, routed to the capability it belongs to, and marked done.

`intake` is the loop edge (record, process, whose fault), `routes` what every message needs and the order in
which capabilities are asked, `sender` who sent it, `context` what a capability is given, `digest` the
operator's digest of quarantines that can wait.
"""
