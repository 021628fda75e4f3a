"""Persistence: SQLAlchemy 2 models, engine and session helpers, Alembic migrations."""
