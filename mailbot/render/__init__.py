"""Turning data into documents: Jinja2 mails (`mail`), WeasyPrint PDFs that fetch nothing (`pdf`), terminal text.
"""
