"""Alembic environment: runs against the engine of the Flask app that invoked it."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from service.core.db import UTCDateTime, db
from service.core.search import managed_by_models
from service.models import metadata

config = context.config
app = config.attributes["flask_app"]


def render_item(type_: str, obj: Any, _autogen_context: AutogenContext) -> str | Literal[False]:
    # UTCDateTime only converts values in Python; in the schema it is a timezone-aware timestamp.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    with app.app_context():
        engine = db.engine
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # A batch migration rebuilds a table by dropping it, and with foreign keys on SQLite would first
                # apply the ON DELETE actions of the rows referring to it (SET NULL, CASCADE). Off for the
                # migration (the pragma only takes effect outside a transaction), checked before it commits.
                dbapi_connection = connection.connection.dbapi_connection
                assert dbapi_connection is not None
                dbapi_connection.execute("PRAGMA foreign_keys = OFF")
            try:
                context.configure(
                    connection=connection,
                    target_metadata=metadata,
                    render_as_batch=sqlite,
                    compare_type=True,
                    render_item=render_item,
                    include_name=managed_by_models,
                )
                with context.begin_transaction():
                    context.run_migrations()
                    if sqlite:
                        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise RuntimeError(f"the migration left rows with dangling foreign keys: {broken[:5]}")
            finally:
                if sqlite:  # not back into the pool: the next connection is a new one, with foreign keys on
                    connection.invalidate()


def run_migrations_offline() -> None:
    with app.app_context():
        context.configure(url=str(db.engine.url), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
