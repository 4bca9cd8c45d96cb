"""Alembic migrations: the only way the schema changes. ``civicdesk db upgrade`` applies them."""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from flask import Flask

HERE = os.path.dirname(os.path.abspath(__file__))


def alembic_config(app: Flask) -> Config:
    config = Config()
    config.set_main_option("script_location", HERE)
    config.set_main_option("file_template",
                           "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d_%%(rev)s_%%(slug)s")
    config.set_main_option("truncate_slug_length", "40")
    config.set_main_option("timezone", "UTC")
    config.attributes["flask_app"] = app
    return config


def upgrade(app: Flask, revision: str = "head") -> None:
    with app.app_context():
        command.upgrade(alembic_config(app), revision)


def downgrade(app: Flask, revision: str) -> None:
    with app.app_context():
        command.downgrade(alembic_config(app), revision)


def current_heads(app: Flask) -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(alembic_config(app)).get_heads())
