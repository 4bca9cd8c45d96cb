"""The ``civicdesk`` command: administers a deployment (schema, demo data, staff accounts)."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import Flask

from service.app import create_app
from service.core.auth import SYSTEM
from service.core.db import db, unit_of_work
from service.core.errors import Problem


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


@main.group("search")
def search_group() -> None:
    """The full-text index of notices and the public Q&A."""


@search_group.command("reindex")
@click.pass_obj
def search_reindex(app: Flask) -> None:
    """Segment every notice and published Q&A entry again, in one transaction."""
    from service.consultations import operations as consultations
    from service.notices import operations as notices

    with unit_of_work(app):
        counted = notices.reindex_all(), consultations.reindex_published()
    click.echo(f"{counted[0]} notices and {counted[1]} Q&A entries indexed")


@main.command("worker")
@click.option("--once", is_flag=True, help="Run every job once and exit instead of running until stopped.")
@click.pass_obj
def worker(app: Flask, once: bool) -> None:
    """Deliver the outbox and run the scheduled jobs (reminders, escalations, notices, clean-up)."""
    from service.notifications import worker as notification_worker

    if once:
        notification_worker.run_once(app)
    else:
        notification_worker.run(app)


@main.group("outbox")
def outbox_group() -> None:
    """Outgoing messages (WeChat subscribe messages, staff notifications) and dead letters."""


@outbox_group.command("list")
@click.option("--status", default="dead", show_default=True,
              type=click.Choice(["pending", "sending", "delivered", "skipped", "refused", "dead"]))
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100))
@click.pass_obj
def outbox_list(app: Flask, status: str, limit: int) -> None:
    """List messages of a status, newest first (default: the dead letters)."""
    from service.notifications import queries

    with app.app_context():
        page = queries.messages_page(status, None, None, limit)
        for m in page.items:
            click.echo(f"{m.id}  {m.event:<22} {m.channel:<7} attempts={m.attempts}  {m.created_at:%Y-%m-%d %H:%M}"
                       f"  {m.last_error or ''}")
        click.echo(f"{len(page.items)} {status} message(s){' (more exist)' if page.next_cursor else ''}")


@outbox_group.command("retry")
@click.argument("message_ids", nargs=-1)
@click.option("--all-dead", is_flag=True, help="Retry every dead-lettered message.")
@click.pass_obj
def outbox_retry(app: Flask, message_ids: tuple[str, ...], all_dead: bool) -> None:
    """Send dead-lettered messages again (by id, or --all-dead). Each is retried on its own: an id that is
    unknown or not dead-lettered is reported (exit status 1) without holding back the others."""
    import sqlalchemy as sa

    from service.notifications import operations
    from service.notifications.models import OutboxMessage

    if message_ids and all_dead:
        raise click.UsageError("name the messages to retry or pass --all-dead, not both")
    if not message_ids and not all_dead:
        raise click.UsageError("name the messages to retry, or pass --all-dead")
    with app.app_context():
        ids = list(dict.fromkeys(message_ids)) or list(db.session.execute(
            sa.select(OutboxMessage.id).where(OutboxMessage.status == "dead").order_by(OutboxMessage.id)).scalars())
        db.session.rollback()
    failed: list[str] = []
    for message_id in ids:
        try:
            with unit_of_work(app):
                operations.retry_message(SYSTEM, message_id)
        except Problem as problem:
            failed.append(message_id)
            click.echo(f"{message_id}: {problem.detail or problem.title}", err=True)
    click.echo(f"{len(ids) - len(failed)} message(s) queued again")
    if failed:
        raise click.ClickException(f"{len(failed)} message(s) not retried: {', '.join(failed)}")


@demo_group.command("simulate")
@click.option("--requests", "count", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--days", type=click.IntRange(min=1, max=3650), default=90, show_default=True,
              help="Over how many days up to --until the requests arrive.")
@click.option("--seed", type=int, default=1, show_default=True, help="The same seed gives the same history.")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The last simulated day (default: yesterday, so that no event lies in the future).")
@click.option("--batch", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Requests written per transaction.")
@click.option("--allow-outside-development", is_flag=True, help="Needed anywhere but development and testing.")
@click.pass_obj
def demo_simulate(app: Flask, count: int, days: int, seed: int, until: Any, batch: int,
                  allow_outside_development: bool) -> None:
    """Fill the database with a simulated history of requests through the real engine (demo district first)."""
    import time

    from service.analytics.simulation import simulate
    from service.demo import DEFAULT_DEMO_PASSWORD, load_demo

    password = str(app.config.get("DEMO_PASSWORD") or "")
    if app.config["ENV"] not in ("development", "testing"):
        if not allow_outside_development:
            raise click.ClickException("simulated data is for development; pass --allow-outside-development to "
                                       "insist")
        if not password or password == DEFAULT_DEMO_PASSWORD:
            raise click.ClickException("set CIVICDESK_DEMO_PASSWORD to a password of your own first")
    with unit_of_work(app):
        try:
            load_demo(password)
        except Problem as problem:
            _fail_on_problem(problem)
    started = time.perf_counter()
    with app.app_context():
        try:
            report = simulate(count, days, seed, until=until.date() if until else None, batch=batch,
                              progress=lambda n: click.echo(f"  {n} requests written", err=True))
        except Problem as problem:
            _fail_on_problem(problem)
    click.echo(f"simulated {report.requests} requests ({report.open_at_end} still open, {report.late} late), "
               f"{report.events} events, {report.ratings} ratings, {report.residents} residents, "
               f"{report.first_day}..{report.last_day}, in {time.perf_counter() - started:.1f} s")


@main.group("export")
def export_group() -> None:
    """Exports for other tools."""


@export_group.command("events")
@click.option("--format", "fmt", type=click.Choice(["xes", "ocel", "csv"]), required=True,
              help="xes (IEEE 1849), ocel (OCEL 2.0 JSON) or csv (case_id, activity, timestamp, …).")
@click.option("--service", default=None, help="Only this service (code).")
@click.option("--from", "date_from", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Requests submitted on or after this local day.")
@click.option("--to", "date_to", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Requests submitted on or before this local day.")
@click.option("--output", "-o", default="-", type=click.Path(dir_okay=False, allow_dash=True),
              show_default=True, help="File to write; - is standard output.")
@click.pass_obj
def export_events(app: Flask, fmt: str, service: str | None, date_from: Any, date_to: Any, output: str) -> None:
    """The event log for process mining (no personal data), streamed to OUTPUT."""
    from service.analytics import eventlog
    from service.core.db import read_only_intent

    # a read from start to end: SQLite transactions begin deferred, so writers are not locked out meanwhile
    with app.app_context(), read_only_intent():
        try:
            export = eventlog.prepare(SYSTEM, fmt, service=service,
                                      date_from=date_from.date() if date_from else None,
                                      date_to=date_to.date() if date_to else None)
        except Problem as problem:
            _fail_on_problem(problem)
        with click.open_file(output, "w", encoding="utf-8") as out:
            for chunk in export.chunks():
                out.write(chunk)


if __name__ == "__main__":
    main()
