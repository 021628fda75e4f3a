"""The directory: who reports, on which customers, and who at HQ looks after them — the YAML file (`config`) and
its rows in the database (`lookup`).
"""
