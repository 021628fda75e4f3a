"""Alembic environment: runs on the engine mailbot hands over (see mailbot/db/migrate.py)."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from mailbot.db.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` command line: take the URL from the ini file
    engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                poolclass=pool.NullPool)

with engine.connect() as connection:
    # A batch migration on SQLite copies a table and drops the old one, which other tables' rows point to: with
    # foreign keys enforced, that fails on any database holding mail. SQLite ignores the pragma inside a
    # transaction, so it is set before, and the rows are checked once the tables are back (Alembic's recipe).
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            # render_as_batch lets ALTER-style migrations run on SQLite too.
            context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                              compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration left rows pointing nowhere: {broken[:5]}")
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
