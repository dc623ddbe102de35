"""Alembic's environment for the record: run on the connection ``migrate.upgrade`` passes (no
ini file, no offline mode). On SQLite the whole upgrade is one transaction (its DDL is
transactional, and ``BEGIN IMMEDIATE`` keeps a second process out until it is done); on MySQL
each revision commits on its own."""

from alembic import context

from heatseeker.record import models

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=models.metadata,
    transaction_per_migration=connection.dialect.name != "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
