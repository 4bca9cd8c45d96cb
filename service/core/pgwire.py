"""PostgreSQL transactions in fewer round trips, the direct statements spoken to libpq's pipeline mode itself.

Left to itself, psycopg spends a round trip on BEGIN before a transaction's first statement and one more on
COMMIT, and in its pipeline mode it polls the socket and looks for results after every statement it queues. The
direct statements (:mod:`service.core.direct`) go to libpq as they are instead, through the compiled pieces psycopg
is made of: its ``PGconn`` and, for the values, its ``Transformer``.

* BEGIN is owed rather than sent. The DBAPI connection runs in psycopg's autocommit mode, and a transaction
  that SQLAlchemy begins only marks BEGIN as owed on its connection. It goes out in front of the transaction's
  first direct statement, in the same message; before any other statement it is a round trip of its own, as
  psycopg would send it.
* A direct statement is queued in libpq's pipeline mode and handed to the socket at once, so the server runs
  it while the next one is being prepared; nothing waits for its result until something needs it. A read
  needs it at once (one round trip, BEGIN included). Writes queued by :func:`~service.core.direct.pipelined`
  stay pending: they are settled together with COMMIT when the session commits (one round trip), with the next
  direct statement that reads, or before any other statement runs on the connection. A rollback discards them.
* Each statement is prepared once per connection: its Parse message goes in the pipeline ahead of its first
  execution, and later executions send only their values (Bind). The connection's record of its statements
  is forgotten after a rollback when psycopg follows it with ``DEALLOCATE ALL`` (it does when it holds
  statements of its own), and read back from the server before the next direct statement after anything else
  that may have dropped them (DDL, ``DISCARD``, ``DEALLOCATE``) and after a pipeline in which it proved wrong.
  Where the server has lost a statement behind civicdesk's back (a pooler's ``DISCARD ALL``), a pipeline that
  began its transaction is rolled back and sent again once; within a transaction begun otherwise, that
  transaction fails. With ``DATABASE_PREPARED_STATEMENTS`` off (a pooler in transaction mode) every execution
  carries its SQL.

An action is then two round trips: BEGIN with the lock, the writes with COMMIT.

A connection that SQLAlchemy sets to another isolation level (``execution_options(isolation_level=...)``) is
left to psycopg, which begins its transactions itself, and its direct statements go through psycopg's cursors;
it returns to autocommit mode at its next checkout.
"""

from __future__ import annotations

import itertools
import re
import select
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from psycopg import abc, errors, pq
from psycopg.adapt import PyFormat, Transformer
from sqlalchemy.engine import Dialect, Engine

_WIRE = "civicdesk.wire"  # in the pool record's info: the Wire of that DBAPI connection
_PARAMETER = re.compile(r"%%|%\(([^)]+)\)s")
_NUMBERS = itertools.count(1)
_NAME_PREFIX = "civicdesk_"
_OURS = "SELECT name FROM pg_prepared_statements WHERE starts_with(name, 'civicdesk_')"  # _NAME_PREFIX
_LOST = (errors.InvalidSqlStatementName, errors.DuplicatePreparedStatement)  # the record and the server disagree
# the command tags after which psycopg deallocates every prepared statement (when it has some of its own), and
# those that do it themselves
_DISCARDING = re.compile(r"(DROP|ALTER|ROLLBACK|DISCARD|DEALLOCATE)\b")
_TEXT = PyFormat.TEXT
_PIPELINE_SYNC = pq.ExecStatus.PIPELINE_SYNC
_FATAL_ERROR = pq.ExecStatus.FATAL_ERROR
_COMMAND_OK = pq.ExecStatus.COMMAND_OK


@dataclass(frozen=True)
class Prepared:
    """A statement with its values numbered ($1, $2, ...) as PostgreSQL takes them, and the name a connection
    keeps it prepared under."""

    name: str
    sql: str  # with $1, $2, ... for its values
    order: tuple[str, ...]  # the names of the values, in that order
    name_bytes: bytes = field(init=False, repr=False, compare=False)  # as libpq takes them
    sql_bytes: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name_bytes", self.name.encode())
        object.__setattr__(self, "sql_bytes", self.sql.encode())

    @classmethod
    def of(cls, sql: str) -> Prepared:
        """From SQL with ``%(name)s`` parameters (psycopg's), as SQLAlchemy compiles it for PostgreSQL."""
        order: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return "%"
            if name not in order:
                order.append(name)
            return f"${order.index(name) + 1}"

        numbered = _PARAMETER.sub(number, sql)
        return cls(f"{_NAME_PREFIX}{next(_NUMBERS)}", numbered, tuple(order))


class Outcome:
    """What a direct statement answers once its results are in, as much of a DBAPI cursor as callers use:
    ``rowcount``, ``description`` (names and type codes) and ``fetchone`` (values loaded by psycopg)."""

    __slots__ = ("_result", "_transformer")

    def __init__(self, transformer: abc.Transformer) -> None:
        self._transformer = transformer
        self._result: pq.abc.PGresult | None = None

    @property
    def rowcount(self) -> int:
        result = self._result
        count = result.command_tuples if result is not None else None
        return -1 if count is None else count

    @property
    def description(self) -> list[tuple[str, int]]:
        result = self._result
        if result is None:
            return []
        return [((result.fname(index) or b"").decode(), result.ftype(index)) for index in range(result.nfields)]

    def fetchone(self) -> tuple[Any, ...] | None:
        result = self._result
        if result is None:
            raise RuntimeError("a direct statement's rows were asked for before its results were read"
                               " (a read inside pipelined()?)")
        if result.ntuples == 0:
            return None
        transformer = self._transformer
        transformer.set_pgresult(result)
        row: tuple[Any, ...] = transformer.load_row(0, tuple)
        return row


@dataclass(frozen=True)
class _Sent:
    """One message of a pipeline whose results are still to be read: BEGIN or COMMIT (``command``), a Parse
    (``parse``), or a statement's execution with its values (``prepared``, ``values``, ``outcome``)."""

    command: bytes | None = None
    parse: Prepared | None = None
    prepared: Prepared | None = None
    values: Sequence[Any] = ()
    outcome: Outcome | None = None


_BEGIN = _Sent(command=b"BEGIN")
_COMMIT = _Sent(command=b"COMMIT")


@dataclass
class Wire:
    """One pooled connection's side of the conversation: whether BEGIN is owed, the messages of the pipeline
    whose results are still to be read, and the statements the connection has prepared."""

    connection: Any  # psycopg's Connection
    prepare: bool = True  # keep statements prepared (else every execution carries its SQL)
    begin_owed: bool = False
    writing: bool = False  # inside a block of pipelined writes: their results wait
    sent: list[_Sent] = field(default_factory=list)  # in the pipeline, in order, results not read yet
    checks: list[Callable[[], None]] = field(default_factory=list)  # to run once the results are in
    prepared: set[str] = field(default_factory=set)  # statements this connection has prepared
    verify: bool = False  # the record of prepared statements is to be read back from the server first

    def __post_init__(self) -> None:
        self.pgconn = self.connection.pgconn
        self.transformer: abc.Transformer = Transformer(self.connection)
        self._formats: dict[int, list[PyFormat]] = {}

    @property
    def pending(self) -> bool:
        return bool(self.sent)

    def send(self, prepared: Prepared, values: Sequence[Any]) -> Outcome:
        """Queue one execution of ``prepared`` (BEGIN first when it is owed) and, inside a block of writes,
        hand it to the socket; its :class:`Outcome` is filled in when the pipeline is settled."""
        dumped = self._dump(values)  # a value psycopg refuses (a NUL in a string) fails before anything is sent
        pgconn, sent = self.pgconn, self.sent
        outcome = Outcome(self.transformer)
        execution = _Sent(prepared=prepared, values=values, outcome=outcome)
        if not sent:
            if self.verify and self.prepare:
                self._read_record()
            pgconn.enter_pipeline_mode()
        try:
            if not sent and self.begin_owed:
                self.begin_owed = False
                pgconn.send_query_params(b"BEGIN", None)
                sent.append(_BEGIN)
            self._send(execution, dumped, sent)
        except BaseException:
            if not sent:  # the connection is broken; at least psycopg finds it out of pipeline mode
                with suppress(Exception):
                    pgconn.exit_pipeline_mode()
            raise
        sent.append(execution)
        if self.writing:  # off to the server, which runs it while the next is made (else it is settled now)
            pgconn.flush()  # a partial send leaves the rest in libpq's buffer until the pipeline is settled
        return outcome

    def _dump(self, values: Sequence[Any]) -> Sequence[Any]:
        formats = self._formats.get(len(values))
        if formats is None:
            formats = self._formats[len(values)] = [_TEXT] * len(values)
        return self.transformer.dump_sequence(values, formats)

    def _send(self, execution: _Sent, dumped: Sequence[Any], sent: list[_Sent]) -> None:
        """Bind and execute (with a Parse first, recorded in ``sent``, if the connection has not prepared it)."""
        prepared = execution.prepared
        assert prepared is not None
        pgconn = self.pgconn
        if not self.prepare:
            pgconn.send_query_params(prepared.sql_bytes, dumped, param_types=self.transformer.types)
            return
        if prepared.name not in self.prepared:
            pgconn.send_prepare(prepared.name_bytes, prepared.sql_bytes)
            sent.append(_Sent(parse=prepared))
            self.prepared.add(prepared.name)
        pgconn.send_query_prepared(prepared.name_bytes, dumped)

    def settle(self, dialect: Dialect, commit: bool = False) -> None:
        """Send what is queued (and COMMIT, with ``commit``) with a Sync, and read the results: the first
        error is raised as SQLAlchemy's; then the checks run.

        With COMMIT in the same round trip the checks run once it has succeeded: they are for what the
        transaction's locks guarantee already (the request's version, under its row lock), a last defence
        against a bug rather than a condition of the commit."""
        if self.sent:
            if commit:
                self.pgconn.send_query_params(b"COMMIT", None)
                self.sent.append(_COMMIT)
            sent, self.sent = self.sent, []
            failure = self._exchange(sent, dialect)
            if failure is not None and isinstance(failure.orig, _LOST) and sent[0] is _BEGIN:
                # the server and the record of prepared statements disagree: the transaction began here, so it
                # can be sent again whole, once the record is the server's
                try:
                    self._recover()
                except dialect.loaded_dbapi.Error as error:
                    raise translated(error, dialect, _OURS, None) from error
                failure = self._resend(sent, dialect)
            if failure is not None:
                self.checks = []
                raise failure
        checks, self.checks = self.checks, []
        for check in checks:
            check()

    def commit(self, dialect: Dialect) -> None:
        """COMMIT goes out with the pending writes, in the same round trip."""
        self.settle(dialect, commit=True)

    def _exchange(self, sent: list[_Sent], dialect: Dialect) -> sa.exc.StatementError | None:
        """Close the pipeline with a Sync, read every result and leave pipeline mode: the first error, if any.
        A Parse the server did not complete is struck from the record; one the record and the server disagreed
        about has the record read back before the next statement."""
        pgconn = self.pgconn
        failure: sa.exc.StatementError | None = None
        try:
            pgconn.pipeline_sync()
            self._flush()
            for message in sent:
                for result in self._results():
                    status = result.status
                    if status == _FATAL_ERROR and failure is None:
                        failure = self._error(result, message, dialect)
                    if message.outcome is not None:
                        message.outcome._result = result
                    elif message.parse is not None and status != _COMMAND_OK:
                        self.prepared.discard(message.parse.name)
            self._sync()
            pgconn.exit_pipeline_mode()
        except dialect.loaded_dbapi.Error as error:  # the connection broke
            self._abandon()
            raise translated(error, dialect, "(pipelined statements)", None) from error
        except BaseException:  # interrupted midway: what is left to read can't be told from what comes next
            self._abandon()
            raise
        if failure is not None and isinstance(failure.orig, _LOST):
            self.verify = True
        return failure

    def _resend(self, sent: list[_Sent], dialect: Dialect) -> sa.exc.StatementError | None:
        self.pgconn.enter_pipeline_mode()
        again: list[_Sent] = []
        for message in sent:
            if message.prepared is not None:
                self._send(message, self._dump(message.values), again)
                again.append(message)
            elif message.command is not None:
                self.pgconn.send_query_params(message.command, None)
                again.append(message)
        return self._exchange(again, dialect)

    def _recover(self) -> None:
        """Out of the failed transaction, and the record of prepared statements read back from the server."""
        self.connection.execute("ROLLBACK")
        self._read_record()

    def _read_record(self) -> None:
        self.prepared = {name for (name,) in self.connection.execute(_OURS)}
        self.verify = False

    def _results(self) -> list[pq.abc.PGresult]:
        """The results of the next message of the pipeline (up to the NULL that ends them)."""
        results = []
        while (result := self._next_result()) is not None:
            results.append(result)
        return results

    def _sync(self) -> None:
        result = self._next_result()
        if result is None or result.status != _PIPELINE_SYNC:  # pragma: no cover - libpq's protocol broken
            raise errors.InternalError("the pipeline did not end with its Sync")

    def _next_result(self) -> pq.abc.PGresult | None:
        pgconn = self.pgconn
        while pgconn.is_busy():
            self._wait(select.POLLIN)
            pgconn.consume_input()
        return pgconn.get_result()

    def _flush(self) -> None:
        pgconn = self.pgconn
        while pgconn.flush():  # the socket is full: read what the server sends meanwhile, so it never blocks
            if self._wait(select.POLLIN | select.POLLOUT) & select.POLLIN:
                pgconn.consume_input()

    def _wait(self, events: int) -> int:
        """Block (the GIL released) until the socket is ready for ``events``; what it is ready for."""
        poll = select.poll()
        poll.register(self.pgconn.socket, events)
        ready = poll.poll()
        return ready[0][1] if ready else 0

    def _error(self, result: pq.abc.PGresult, message: _Sent, dialect: Dialect) -> sa.exc.StatementError:
        error = errors.error_from_result(result, encoding=self.connection.info.encoding)
        statement = message.prepared or message.parse
        sql = statement.sql if statement is not None else (message.command or b"").decode()
        return translated(error, dialect, sql, list(message.values) or None)

    def _abandon(self) -> None:
        """The connection broke mid-pipeline: closed, so that the pool replaces it."""
        self.sent, self.checks, self.writing, self.begin_owed = [], [], False, False
        with suppress(Exception):
            self.connection.close()

    def ending(self, connection: Any, dialect: Dialect) -> None:
        """The transaction ends in a rollback: BEGIN is no longer owed, and what is pending no longer matters
        (read and dropped, errors included). psycopg follows a ROLLBACK with ``DEALLOCATE ALL`` when it holds
        prepared statements of its own: this connection's are forgotten then, to be prepared again."""
        self.writing = False
        self.begin_owed = False
        self.checks = []
        sent, self.sent = self.sent, []
        if sent and not connection.closed:
            with suppress(sa.exc.StatementError):  # an error of statements being rolled back
                self._exchange(sent, dialect)
        if connection.info.transaction_status != pq.TransactionStatus.IDLE and _psycopg_prepared(connection):
            self.prepared.clear()


def _psycopg_prepared(connection: Any) -> bool:
    """Whether psycopg has prepared statements of its own on the connection (if its internals say otherwise
    than expected, assume so)."""
    manager = getattr(connection, "_prepared", None)
    return bool(getattr(manager, "_names", True))


def translated(error: Exception, dialect: Dialect, sql: str, parameters: Any) -> sa.exc.StatementError:
    """A DBAPI error as SQLAlchemy's (``IntegrityError`` and the rest), as the error handlers expect."""
    return sa.exc.DBAPIError.instance(sql, parameters, error, dialect.loaded_dbapi.Error, dialect=dialect)


def wire_of(connection: sa.Connection) -> Wire | None:
    """The connection's :class:`Wire`; None where BEGIN is not deferred (SQLite)."""
    wire: Wire | None = connection.info.get(_WIRE)
    return wire


def defer_begin(engine: Engine, prepared_statements: bool = True) -> None:
    """Install the deferred BEGIN and the pending statements on a PostgreSQL engine (see the module's text);
    ``prepared_statements``: keep the direct statements prepared on each connection."""
    dialect = engine.dialect

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.autocommit = True
        record.info[_WIRE] = Wire(dbapi_connection, prepare=prepared_statements)

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if not dbapi_connection.autocommit:  # an isolation level was set, then reset: back to deferring
            dbapi_connection.autocommit = True

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        wire = connection.info.get(_WIRE)
        if wire is None or connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        if connection.connection.dbapi_connection.autocommit:  # type: ignore[union-attr]
            wire.begin_owed = True  # else psycopg begins, at the isolation level SQLAlchemy gave it

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before_execute(connection: sa.Connection, cursor: Any, *_args: Any) -> None:
        wire = connection.info.get(_WIRE)
        if wire is None:
            return
        if wire.sent:
            wire.settle(dialect)
        if wire.begin_owed:
            wire.begin_owed = False
            cursor.connection.execute("BEGIN")

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _after_execute(connection: sa.Connection, cursor: Any, *_args: Any) -> None:
        status = cursor.statusmessage
        if status is not None and _DISCARDING.match(status):  # what psycopg follows with DEALLOCATE ALL
            wire = connection.info.get(_WIRE)
            if wire is not None:
                wire.verify = True

    @sa.event.listens_for(engine, "commit")
    def _on_commit(connection: sa.Connection) -> None:
        wire = connection.info.get(_WIRE)
        if wire is not None:
            wire.begin_owed = False
            wire.settle(dialect, commit=True)  # a Core commit: the session's went out with its writes already

    @sa.event.listens_for(engine, "rollback")
    def _on_rollback(connection: sa.Connection) -> None:
        wire = connection.info.get(_WIRE)
        if wire is not None:
            wire.ending(connection.connection.dbapi_connection, dialect)

    @sa.event.listens_for(engine, "reset")
    def _on_reset(dbapi_connection: Any, record: Any, _state: Any) -> None:
        wire = record.info.get(_WIRE)
        if wire is not None:
            wire.ending(dbapi_connection, dialect)
