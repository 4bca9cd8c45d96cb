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
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
                render_item=render_item,
                include_name=managed_by_models,
            )
            with context.begin_transaction():
                context.run_migrations()


def run_migrations_offline() -> None:
    with app.app_context():
        context.configure(url=str(db.engine.url), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
