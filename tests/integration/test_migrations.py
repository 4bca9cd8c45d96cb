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


def test_rebuilding_a_table_on_sqlite_keeps_the_rows_that_refer_to_it(tmp_path, settings):
    """The rebuild of outbox_messages WITHOUT ROWID drops the old table: with foreign keys on, SQLite would
    have set every staff notification's message_id to NULL (ON DELETE SET NULL)."""
    import sqlalchemy as sa

    from service.accounts.models import Staff
    from service.demo import load_demo
    from service.notifications.models import OutboxMessage, StaffNotification

    app = create_app({**settings, "DATABASE_URL": f"sqlite:///{tmp_path / 'rebuild.sqlite3'}"}, "testing")
    migrations.upgrade(app, "a4f0c2d9e6b1")  # the revision before the rebuild
    with app.app_context():
        load_demo("demo-password-123")
        staff_id = db.session.execute(sa.select(Staff.id).where(Staff.username == "urban-handler")).scalar_one()
        message = OutboxMessage(idempotency_key="rebuild-test", channel="staff", event="step_overdue",
                                recipient_kind="department", recipient_id="d", subject_type="request",
                                subject_id="r", payload={}, status="delivered")
        db.session.add(message)
        db.session.flush()
        db.session.add(StaffNotification(staff_id=staff_id, message_id=message.id, event="step_overdue",
                                         title="t", body="b", subject_type="request", subject_id="r"))
        db.session.commit()
        message_id = message.id
        db.engine.dispose()
    migrations.upgrade(app)
    with app.app_context():
        assert db.session.execute(sa.select(StaffNotification.message_id)).scalar_one() == message_id
        # the pool's connections still enforce foreign keys after the migration
        assert db.session.connection().exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        db.session.remove()
        db.engine.dispose()
