"""Alembic environment: runs on the engine mailbot hands over (see mailbot/db/migrate.py)."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from mailbot.db.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` command line: take the URL from the ini file
    engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                poolclass=pool.NullPool)

with engine.begin() as connection:
    # render_as_batch lets ALTER-style migrations run on SQLite too.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
