"""The migrations are the schema: after `upgrade head` the models and the database agree, and every migration
can be undone."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service import create_app, migrations
from service.core.db import db
from service.core.search import managed_by_models
from service.models import metadata


def test_models_match_the_migrated_schema(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "include_name": managed_by_models})
        assert compare_metadata(context, metadata) == []


def test_downgrade_to_base_and_back(tmp_path, settings):
    app = create_app({**settings, "DATABASE_URL": f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}"}, "testing")
    migrations.upgrade(app)
    migrations.downgrade(app, "base")
    with app.app_context():
        tables = set(db.inspect(db.engine).get_table_names())
        assert tables <= {"alembic_version"}
    migrations.upgrade(app)
    with app.app_context():
        tables = set(db.inspect(db.engine).get_table_names())
        assert {"requests", "request_events", "consultations", "ratings"} <= tables
        db.engine.dispose()
