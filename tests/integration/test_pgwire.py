"""PostgreSQL: BEGIN goes out with a transaction's first statement and pipelined writes with COMMIT, read off the
wire protocol itself (libpq's trace); statements prepared once per connection and prepared again where the
server lost them; errors of pending writes, reads after them, rollbacks and isolation levels."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from psycopg import pq

from service import create_app
from service.core.auth import Actor
from service.core.db import db
from service.core.direct import DirectStatement, pipelined
from service.requests import operations
from service.requests.models import Request, RequestEvent
from tests.conftest import count_rows

pytestmark = pytest.mark.postgres

@contextmanager
def wire_trace(lines: list[str] | None = None) -> Iterator[list[str]]:
    """The protocol messages on the session's connection while the block runs, as "F Query", "B ReadyForQuery"
    and so on (F: to the server, B: from it), in the list yielded once the block has ended; ``lines`` receives
    the trace's whole lines (with the messages' contents). Starts the session's transaction (which sends
    nothing)."""
    pgconn = db.session.connection().connection.dbapi_connection.pgconn  # type: ignore[union-attr]
    sent: list[str] = []
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield sent
        finally:
            pgconn.untrace()
            trace.seek(0)
            whole = [line for line in trace.read().splitlines() if line]
            sent.extend(" ".join(line.split("\t")[:3:2]) for line in whole)
            if lines is not None:
                lines.extend(whole)


def round_trips(messages: list[str]) -> int:
    """Every exchange ends with the server's ReadyForQuery: after a simple query, or a pipeline's Sync."""
    return messages.count("B ReadyForQuery")


def exchanges(messages: list[str]) -> list[list[str]]:
    """The messages sent to the server in each round trip (up to each ReadyForQuery)."""
    rounds: list[list[str]] = [[]]
    for message in messages:
        if message == "B ReadyForQuery":
            rounds.append([])
        elif message.startswith("F "):
            rounds[-1].append(message.removeprefix("F "))
    return rounds[:-1]


def named_parses(lines: list[str]) -> int:
    """Parse messages that prepare a statement of civicdesk's (BEGIN and COMMIT are parsed unnamed)."""
    return sum('\tParse\t "civicdesk_' in line for line in lines)


def _staff(username: str) -> Actor:
    from service.accounts.models import Staff

    member = db.session.execute(sa.select(Staff).where(Staff.username == username)).scalar_one()
    return Actor(kind="staff", id=member.id, department_id=member.department_id, roles=frozenset(member.roles))


@pytest.fixture
def repair_request(app: Flask, submit_request: Callable[..., str]) -> tuple[str, Actor]:
    request_id = submit_request("repair")
    with app.app_context():
        actor = _staff("urban-handler")
        db.session.commit()
    return request_id, actor


def test_an_action_is_two_round_trips_begin_with_the_lock_and_the_writes_with_commit(app, repair_request):
    request_id, actor = repair_request
    with app.app_context():
        # what an action reads from the app's caches (departments, calendar, definitions), read before; and the
        # lock, which the connection prepares the first time it runs it
        operations.allowed_for(actor, db.session.get(Request, request_id))  # type: ignore[arg-type]
        db.session.commit()
        operations.lock(request_id)
        db.session.commit()
        with wire_trace() as sent:
            operations.act(actor, request_id, "accept", None, {}, 1)
            db.session.commit()
    assert round_trips(sent) == 2
    lock, writes = exchanges(sent)
    # BEGIN (parsed unnamed) and the prepared lock (bound and executed), closed by one Sync
    assert lock == ["Parse", "Bind", "Describe", "Execute", "Bind", "Describe", "Execute", "Sync"]
    # then the writes and COMMIT, closed by one Sync; no simple query anywhere
    assert writes[-1] == "Sync"
    assert writes.count("Sync") == 1
    assert writes.count("Execute") >= 5  # the request, its queue row, its event, its audit record, COMMIT
    assert "Query" not in sent
    with app.app_context():
        request = db.session.get(Request, request_id)
        assert request is not None
        assert (request.version, request.current_step) == (2, "repair")
    assert count_rows(app, "request_events", request_id=request_id, action="accept") == 1
    assert count_rows(app, "audit_records", object_id=request_id, action="request.accept") == 1


def test_a_transaction_that_runs_nothing_sends_nothing(app):
    with app.app_context():
        with wire_trace() as sent:
            db.session.commit()
        assert sent == []


def test_an_orm_statement_first_sends_begin_before_it(app, repair_request):
    request_id, _actor = repair_request
    with app.app_context(), wire_trace() as sent:
        status = db.session.execute(sa.select(Request.status).where(Request.id == request_id)).scalar_one()
        dbapi_connection: Any = db.session.connection().connection.dbapi_connection
        in_transaction = dbapi_connection.info.transaction_status
        db.session.commit()
    assert status == "submitted"
    assert in_transaction == pq.TransactionStatus.INTRANS
    assert round_trips(sent) == 3  # BEGIN, the query, COMMIT


def test_reads_after_pending_writes_see_them(app, repair_request):
    request_id, actor = repair_request
    with app.app_context():
        operations.act(actor, request_id, "accept", None, {}, 1)
        # the writes are still pending: this query sends them first, in the same transaction
        version = db.session.execute(sa.select(Request.version).where(Request.id == request_id)).scalar_one()
        events = db.session.execute(sa.select(sa.func.count()).select_from(RequestEvent)
                                    .where(RequestEvent.request_id == request_id)).scalar_one()
        db.session.rollback()
    assert (version, events) == (2, 2)
    with app.app_context():  # and the rollback undid them
        assert db.session.get(Request, request_id).version == 1  # type: ignore[union-attr]
    assert count_rows(app, "request_events", request_id=request_id) == 1


def test_a_rollback_discards_pending_writes(app, repair_request):
    request_id, actor = repair_request
    with app.app_context():
        operations.act(actor, request_id, "accept", None, {}, 1)
        db.session.rollback()
    with app.app_context():
        operations.act(actor, request_id, "accept", None, {}, 1)  # the same version is still the current one
        db.session.commit()
    assert count_rows(app, "request_events", request_id=request_id, action="accept") == 1


def test_a_session_closed_without_commit_discards_pending_writes(app, repair_request):
    request_id, actor = repair_request
    with app.app_context():
        operations.act(actor, request_id, "accept", None, {}, 1)
    assert count_rows(app, "request_events", request_id=request_id, action="accept") == 0
    assert count_rows(app, "audit_records", object_id=request_id, action="request.accept") == 0


def _act_then_write_a_duplicate(request_id: str, actor: Actor) -> None:
    """An action whose writes are pending, then a write that must fail: the submission's event again, whose
    (request, seq) is taken."""
    events: sa.Table = RequestEvent.__table__  # type: ignore[assignment]
    row = db.session.execute(sa.select(events).where(events.c.request_id == request_id,
                                                     events.c.seq == 1)).mappings().one()
    operations.act(actor, request_id, "accept", None, {}, 1)
    with pipelined():
        DirectStatement.insert(events).execute({**row, "id": "01duplicateevent0000000000"})


def test_an_error_among_pending_writes_is_raised_at_commit_and_nothing_is_written(app, repair_request):
    request_id, actor = repair_request
    with app.app_context():
        _act_then_write_a_duplicate(request_id, actor)
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()
    with app.app_context():
        assert db.session.get(Request, request_id).version == 1  # type: ignore[union-attr]
    assert count_rows(app, "request_events", request_id=request_id) == 1
    assert count_rows(app, "audit_records", object_id=request_id, action="request.accept") == 0


def _isolation(app: Flask, **options: Any) -> tuple[str, bool]:
    with app.app_context(), db.engine.connect() as connection:
        if options:
            connection = connection.execution_options(**options)
        level = connection.exec_driver_sql("SHOW transaction_isolation").scalar_one()
        autocommit = connection.connection.dbapi_connection.autocommit  # type: ignore[union-attr]
        connection.rollback()
    return str(level), bool(autocommit)


def test_another_isolation_level_is_left_to_psycopg_and_the_connection_defers_begin_again(app):
    assert _isolation(app, isolation_level="REPEATABLE READ") == ("repeatable read", False)
    assert _isolation(app) == ("read committed", True)


def test_autocommit_connections_never_begin(app):
    with app.app_context(), db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("VACUUM request_events")  # refused inside a transaction block
        status = connection.connection.dbapi_connection.info.transaction_status  # type: ignore[union-attr]
    assert status == pq.TransactionStatus.IDLE


def test_an_error_among_pending_writes_is_raised_by_the_next_statement(app, repair_request):
    request_id, actor = repair_request
    with app.app_context():
        _act_then_write_a_duplicate(request_id, actor)
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(sa.select(Request.version).where(Request.id == request_id)).scalar_one()
        db.session.rollback()
        version = db.session.execute(sa.select(Request.version).where(Request.id == request_id)).scalar_one()
        db.session.commit()
    assert version == 1


def test_the_first_statement_of_a_transaction_is_prepared_once_per_connection(app, repair_request):
    request_id, _actor = repair_request
    with app.app_context():
        connection: Any = db.session.connection().connection.dbapi_connection
        db.session.rollback()
        prepared_before = connection.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
        first_lines: list[str] = []
        with wire_trace(first_lines) as first:
            operations.lock(request_id)
            db.session.commit()
        second_lines: list[str] = []
        with wire_trace(second_lines) as second:
            locked = operations.lock(request_id)
            db.session.commit()
        prepared_after = connection.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
    assert (locked.id, locked.version) == (request_id, 1)
    assert prepared_after == prepared_before + 1
    assert round_trips(first) == 2  # BEGIN, the Parse and the execution in one; COMMIT
    assert named_parses(first_lines) == 1
    assert round_trips(second) == 2
    assert named_parses(second_lines) == 0


def test_the_writes_of_an_action_are_prepared_once_per_connection(app, repair_request, submit_request):
    request_id, actor = repair_request
    other_id = submit_request("repair")
    with app.app_context():
        operations.allowed_for(actor, db.session.get(Request, request_id))  # type: ignore[arg-type]
        db.session.commit()
        first: list[str] = []
        with wire_trace(first):
            operations.act(actor, request_id, "accept", None, {}, 1)
            db.session.commit()
        second: list[str] = []
        with wire_trace(second) as messages:
            operations.act(actor, other_id, "accept", None, {}, 1)
            db.session.commit()
    assert named_parses(first) >= 4  # the lock, the request's update, its event, its audit record ...
    assert named_parses(second) == 0  # ... each prepared on the first action, only bound on the next
    assert round_trips(messages) == 2
    assert count_rows(app, "request_events", action="accept") == 2


def test_a_read_after_pending_writes_joins_their_round_trip(app, repair_request):
    request_id, actor = repair_request
    with app.app_context():
        operations.allowed_for(actor, db.session.get(Request, request_id))  # type: ignore[arg-type]
        db.session.commit()
        with wire_trace() as sent:
            operations.act(actor, request_id, "accept", None, {}, 1)
            locked = operations.lock(request_id)  # a direct read: sent behind the pending writes, which it sees
            db.session.commit()
    assert (locked.version, locked.current_step) == (2, "repair")
    assert round_trips(sent) == 3  # BEGIN with the lock; the writes with the read; COMMIT
    assert count_rows(app, "request_events", request_id=request_id, action="accept") == 1


def _lock_then_have_psycopg_prepare_one_of_its_own(request_id: str) -> None:
    """The lock run (its statement prepared), then an ORM query run often enough for psycopg to prepare it: psycopg
    now follows a ROLLBACK or DDL with DEALLOCATE ALL."""
    operations.lock(request_id)
    db.session.commit()
    for _ in range(6):  # psycopg prepares a statement of its own once it has run it five times
        db.session.execute(sa.select(Request.version).where(Request.id == request_id)).scalar_one()


def test_statements_deallocated_after_a_rollback_are_prepared_again(app, repair_request):
    request_id, _actor = repair_request
    with app.app_context():
        _lock_then_have_psycopg_prepare_one_of_its_own(request_id)
        db.session.rollback()  # psycopg follows the ROLLBACK with DEALLOCATE ALL
        connection: Any = db.session.connection().connection.dbapi_connection
        assert connection.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0] == 0
        db.session.rollback()
        locked = operations.lock(request_id)
        db.session.commit()
    assert (locked.id, locked.version) == (request_id, 1)


def _lock_then_lose_its_statement(request_id: str) -> None:
    """The lock run (its statement prepared on the session's connection), then every statement deallocated behind
    civicdesk's back, as a pooler's DISCARD ALL would."""
    operations.lock(request_id)
    db.session.commit()
    connection: Any = db.session.connection().connection.dbapi_connection
    connection.execute("DEALLOCATE ALL")
    db.session.commit()


def test_a_statement_the_server_no_longer_has_is_prepared_again(app, repair_request):
    request_id, _actor = repair_request
    with app.app_context():
        _lock_then_lose_its_statement(request_id)
        with wire_trace() as sent:
            locked = operations.lock(request_id)
            db.session.commit()
    assert (locked.id, locked.version) == (request_id, 1)
    assert sent.count("B ErrorResponse") == 1  # the first Bind found no such statement: sent again, once


def _accept_without_an_error(app: Flask, actor: Actor, request_id: str) -> None:
    """An accept, committed in the caller's app context: no error on the wire, and its one event written."""
    with wire_trace() as sent:
        operations.act(actor, request_id, "accept", None, {}, 1)
        db.session.commit()
    assert "B ErrorResponse" not in sent
    assert count_rows(app, "request_events", request_id=request_id, action="accept") == 1


def test_a_statement_lost_within_a_transaction_fails_it_and_the_next_reads_the_record_back(app, repair_request):
    request_id, actor = repair_request
    with app.app_context():
        _lock_then_lose_its_statement(request_id)
        db.session.get(Request, request_id)  # the ORM begins this transaction: it can't be sent again whole
        with pytest.raises(sa.exc.ProgrammingError, match="civicdesk_"):
            operations.act(actor, request_id, "accept", None, {}, 1)
        db.session.rollback()
        _accept_without_an_error(app, actor, request_id)


def test_ddl_after_which_psycopg_deallocates_everything_has_the_record_read_back(app, repair_request):
    request_id, actor = repair_request
    with app.app_context():
        _lock_then_have_psycopg_prepare_one_of_its_own(request_id)
        db.session.execute(sa.text("DROP TABLE IF EXISTS civicdesk_scratch"))  # then DEALLOCATE ALL
        db.session.commit()
        _accept_without_an_error(app, actor, request_id)


def test_without_prepared_statements_the_lock_itself_goes_with_begin(settings, app, repair_request):
    """DATABASE_PREPARED_STATEMENTS off (behind a pooler in transaction mode): still two round trips, and no
    statement is left prepared on the server."""
    request_id, actor = repair_request
    unprepared = create_app({**settings, "DATABASE_PREPARED_STATEMENTS": False}, "testing")
    try:
        with unprepared.app_context():
            operations.allowed_for(actor, db.session.get(Request, request_id))  # type: ignore[arg-type]
            db.session.commit()
            with wire_trace() as sent:
                operations.act(actor, request_id, "accept", None, {}, 1)
                db.session.commit()
            connection: Any = db.session.connection().connection.dbapi_connection
            db.session.rollback()
            ours = connection.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'civicdesk%'")
            names = ours.fetchall()
    finally:
        with unprepared.app_context():
            db.session.remove()
            db.engine.dispose()
    assert round_trips(sent) == 2
    assert names == []
    assert count_rows(app, "request_events", request_id=request_id, action="accept") == 1


def test_a_connection_pinged_at_checkout_after_another_isolation_level_defers_begin_again(settings, migrated):
    pinging = create_app({**settings, "DATABASE_PING_AFTER_IDLE_SECONDS": 0}, "testing")  # a ping at each checkout
    try:
        assert _isolation(pinging, isolation_level="REPEATABLE READ") == ("repeatable read", False)
        assert _isolation(pinging) == ("read committed", True)
    finally:
        with pinging.app_context():
            db.engine.dispose()


def test_a_value_psycopg_refuses_fails_its_statement_and_leaves_the_connection_usable(app, repair_request):
    request_id, _actor = repair_request
    with app.app_context():
        db.session.get(Request, request_id)  # BEGIN has gone out: the lock joins a transaction
        connection: Any = db.session.connection().connection.dbapi_connection
        with pytest.raises(sa.exc.DataError, match="NUL"):
            operations.lock("abc\x00def")
        db.session.rollback()  # nothing left in pipeline mode to trip psycopg's ROLLBACK
        locked = operations.lock(request_id)
        same = db.session.connection().connection.dbapi_connection is connection
        db.session.commit()
    assert (locked.id, same, connection.closed) == (request_id, True, False)


def test_a_parse_skipped_after_an_error_is_sent_again_when_next_needed(settings, app, repair_request):
    """BEGIN, a write that fails, the Parse of a statement never run before (skipped by the server): the
    statement is not recorded as prepared, so a later transaction, begun by the ORM, prepares it."""
    request_id, _actor = repair_request
    fresh = create_app(settings, "testing")  # new connections: no statement of psycopg's own on them
    requests: sa.Table = Request.__table__  # type: ignore[assignment]
    events: sa.Table = RequestEvent.__table__  # type: ignore[assignment]
    touch = DirectStatement(requests.update().where(requests.c.id == sa.bindparam("b_id"))
                            .values(updated_at=sa.bindparam("updated_at")))
    try:
        with fresh.app_context():
            row = db.session.execute(sa.select(events).where(events.c.request_id == request_id,
                                                             events.c.seq == 1)).mappings().one()
            db.session.commit()
            with pipelined():
                DirectStatement.insert(events).write({**row, "id": "01duplicateevent0000000000"})  # seq 1 taken
                touch.write({"b_id": request_id, "updated_at": datetime.now(UTC)})
            with pytest.raises(sa.exc.IntegrityError):
                db.session.commit()
            db.session.rollback()
            db.session.execute(sa.select(Request.id)).all()  # the ORM begins this one: no replay possible
            with pipelined():
                touch.write({"b_id": request_id, "updated_at": datetime(2030, 1, 1, tzinfo=UTC)})
            db.session.commit()
    finally:
        with fresh.app_context():
            db.session.remove()
            db.engine.dispose()
    with app.app_context():
        request = db.session.get(Request, request_id)
        assert request is not None
        assert request.updated_at == datetime(2030, 1, 1, tzinfo=UTC)


def test_a_connection_at_another_isolation_level_runs_direct_statements_in_its_transaction(app, repair_request):
    request_id, actor = repair_request
    with app.app_context():
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        operations.act(actor, request_id, "accept", None, {}, 1)
        db.session.rollback()
    assert count_rows(app, "request_events", request_id=request_id, action="accept") == 0
    with app.app_context():
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        operations.act(actor, request_id, "accept", None, {}, 1)
        level = db.session.execute(sa.text("SHOW transaction_isolation")).scalar_one()
        db.session.commit()
    assert level == "repeatable read"
    assert count_rows(app, "request_events", request_id=request_id, action="accept") == 1


def test_an_error_inside_a_block_of_writes_keeps_the_transaction_owed(app, repair_request):
    request_id, _actor = repair_request
    with app.app_context():
        db.session.connection()  # the transaction has begun; nothing sent yet
        with pytest.raises(LookupError), pipelined():
            raise LookupError("before the first write")
        db.session.execute(sa.update(Request).where(Request.id == request_id).values(version=99))
        dbapi_connection: Any = db.session.connection().connection.dbapi_connection
        status = dbapi_connection.info.transaction_status
        db.session.rollback()
    assert status == pq.TransactionStatus.INTRANS
    with app.app_context():
        assert db.session.get(Request, request_id).version == 1  # type: ignore[union-attr]


def test_statements_deallocated_through_sqlalchemy_are_prepared_again_without_an_error(app, repair_request):
    request_id, actor = repair_request
    with app.app_context():
        operations.allowed_for(actor, db.session.get(Request, request_id))  # type: ignore[arg-type]
        operations.lock(request_id)
        db.session.commit()
        db.session.execute(sa.text("/* housekeeping */ DEALLOCATE ALL"))
        db.session.commit()
        _accept_without_an_error(app, actor, request_id)


def test_a_direct_read_inside_a_block_of_writes_raises_instead_of_finding_nothing(app, repair_request):
    request_id, _actor = repair_request
    with app.app_context():
        with pytest.raises(RuntimeError, match="pipelined"), pipelined():
            operations.lock(request_id)
        db.session.rollback()
