"""Autogenerate a migration from the models: ``make migration m="what changed"``."""

import os
import sys

from alembic import command

from service import create_app
from service.migrations import alembic_config


def main() -> None:
    message = " ".join(sys.argv[1:]).strip()
    if not message:
        sys.exit('usage: make migration m="what changed"')
    draft = os.path.abspath("var/migration-draft.sqlite3")
    os.makedirs(os.path.dirname(draft), exist_ok=True)
    if os.path.exists(draft):
        os.remove(draft)
    app = create_app({"DATABASE_URL": f"sqlite:///{draft}"})
    with app.app_context():
        config = alembic_config(app)
        command.upgrade(config, "head")
        command.revision(config, message=message, autogenerate=True)


if __name__ == "__main__":
    main()
