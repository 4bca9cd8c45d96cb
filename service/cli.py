"""The ``civicdesk`` command: administers a deployment (schema, demo data, staff accounts)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask

from service.app import create_app
from service.core.auth import SYSTEM
from service.core.db import db
from service.core.errors import Problem


@contextmanager
def unit_of_work(app: Flask) -> Iterator[None]:
    """One transaction per command: committed when the block ends normally, rolled back otherwise."""
    with app.app_context():
        try:
            yield
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise


def _fail_on_problem(problem: Problem) -> None:
    details = "; ".join(f"{k}: {', '.join(v)}" for k, v in (problem.errors or {}).items())
    raise click.ClickException(f"{problem.detail or problem.title}{' (' + details + ')' if details else ''}")


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Administer civicdesk. Settings come from CIVICDESK_* environment variables (CIVICDESK_ENV first)."""
    try:
        ctx.obj = create_app()
    except (RuntimeError, ValueError) as exc:  # a setting is missing or wrong: say which, without a traceback
        raise click.ClickException(str(exc)) from exc


@main.group("db")
def db_group() -> None:
    """The database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@click.pass_obj
def db_upgrade(app: Flask, revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from service import migrations

    migrations.upgrade(app, revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
@click.pass_obj
def db_downgrade(app: Flask, revision: str) -> None:
    """Revert migrations down to REVISION (``base`` empties the schema)."""
    from service import migrations

    migrations.downgrade(app, revision)
    click.echo(f"database at {revision}")


@main.group("demo")
def demo_group() -> None:
    """Demo data for trying civicdesk."""


@demo_group.command("load")
@click.option("--allow-outside-development", is_flag=True,
              help="Needed to load demo accounts anywhere but development; needs CIVICDESK_DEMO_PASSWORD.")
@click.pass_obj
def demo_load(app: Flask, allow_outside_development: bool) -> None:
    """Create the demo district: departments and staff accounts (existing ones are kept)."""
    from service.demo import DEFAULT_DEMO_PASSWORD, load_demo

    password = str(app.config.get("DEMO_PASSWORD") or "")
    if app.config["ENV"] not in ("development", "testing"):
        if not allow_outside_development:
            raise click.ClickException("demo data is for development; pass --allow-outside-development to insist")
        if not password or password == DEFAULT_DEMO_PASSWORD:
            raise click.ClickException("set CIVICDESK_DEMO_PASSWORD to a password of your own first")
    with unit_of_work(app):
        try:
            accounts = load_demo(password)
        except Problem as problem:
            _fail_on_problem(problem)
    shown = password if password == DEFAULT_DEMO_PASSWORD else "(the value of CIVICDESK_DEMO_PASSWORD)"
    click.echo(f"Demo staff accounts (password: {shown}):")
    for account in accounts:
        note = "" if account.created else "  (existed already)"
        click.echo(f"  {account.username:<28} {account.department:<16} {','.join(account.roles)}{note}")


@main.group("staff")
def staff_group() -> None:
    """Staff accounts."""


@staff_group.command("create")
@click.option("--username", required=True)
@click.option("--department", "department_code", required=True, help="Department code, e.g. urban.")
@click.option("--role", "roles", multiple=True, required=True,
              help="admin, handler, supervisor, publisher or reviewer; repeat for several.")
@click.option("--display-name", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_obj
def staff_create(app: Flask, username: str, department_code: str, roles: tuple[str, ...],
                 display_name: str | None, password_stdin: bool) -> None:
    """Create a staff account; the password comes from a prompt or standard input."""
    import sqlalchemy as sa

    from service.accounts import operations
    from service.accounts.models import Department

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with unit_of_work(app):
        department_id = db.session.execute(
            sa.select(Department.id).where(Department.code == department_code)
        ).scalar_one_or_none()
        if department_id is None:
            raise click.ClickException(f"no department with code {department_code!r}")
        try:
            staff = operations.create_staff(SYSTEM, username=username, password=password,
                                            department_id=department_id, roles=list(roles),
                                            display_name=display_name)
        except Problem as problem:
            _fail_on_problem(problem)
        click.echo(f"created staff {staff.username} ({staff.id}) in {department_code}: {', '.join(staff.roles)}")


@main.group("process")
def process_group() -> None:
    """Process definitions."""


@process_group.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--activate", is_flag=True, help="Make it the version new requests start on.")
@click.pass_obj
def process_load(app: Flask, path: str, activate: bool) -> None:
    """Validate the definition in PATH (YAML or JSON) and store it as the next version of its process."""
    import yaml

    from service.processes import operations

    with open(path, encoding="utf-8") as handle:
        try:
            data = yaml.safe_load(handle)
        except yaml.YAMLError as exc:
            raise click.ClickException(f"{path} is not YAML or JSON: {exc}") from exc
    with unit_of_work(app):
        try:
            version = operations.upload(SYSTEM, data, activate=activate)
        except Problem as problem:
            _fail_on_problem(problem)
        state = "active" if version.active else "inactive"
        click.echo(f"process {version.code} version {version.version} ({state})")


@main.group("calendar")
def calendar_group() -> None:
    """The working-day calendar."""


@calendar_group.command("seed")
@click.option("--year", "years", type=int, multiple=True, help="Only these years (default: all the package knows).")
@click.pass_obj
def calendar_seed(app: Flask, years: tuple[int, ...]) -> None:
    """Load official holidays and make-up working days from chinesecalendar (local changes are kept)."""
    from service.calendar import operations

    with unit_of_work(app):
        changed = operations.seed_official(years or None)
    click.echo(f"{changed} calendar days added or changed")


if __name__ == "__main__":
    main()
