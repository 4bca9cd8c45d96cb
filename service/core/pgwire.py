"""PostgreSQL transactions in fewer round trips.

Left to itself, psycopg spends a round trip on BEGIN before a transaction's first statement, and COMMIT is one
more; an action (the request locked, then its writes pipelined) cost four. Here:

* BEGIN is owed rather than sent. The DBAPI connection runs in psycopg's autocommit mode, and a transaction
  that SQLAlchemy begins only marks BEGIN as owed on its connection. It goes out with the transaction's first
  statement: in the same message as a direct statement (:mod:`service.core.direct`), which then runs as
  ``EXECUTE`` of a statement the connection keeps prepared (:class:`Prepared`; a simple query would be parsed
  and planned every time); queued ahead of the writes of a pipeline; or, before any other statement, as a
  round trip of its own (as psycopg would send it).
* Pipelined writes are left pending when their block ends (:class:`Wire`): they go to the server together with
  COMMIT when the session commits, or are settled (sent, their results and errors read) before anything else
  runs on the connection. A rollback discards them.

An action is then two round trips: BEGIN with the lock, the writes with COMMIT.

A connection that SQLAlchemy sets to another isolation level (``execution_options(isolation_level=...)``) is
left to psycopg, which begins its transactions itself; it returns to autocommit mode at its next checkout.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from psycopg import ClientCursor, RawCursor, errors, pq
from sqlalchemy.engine import Dialect, Engine

_WIRE = "civicdesk.wire"  # in the pool record's info: the Wire of that DBAPI connection
_PARAMETER = re.compile(r"%%|%\(([^)]+)\)s")
_NUMBERS = itertools.count(1)


@dataclass(frozen=True)
class Prepared:
    """A statement with its values numbered ($1, $2, ...) as PostgreSQL takes them: run by psycopg's
    ``RawCursor`` (which parses nothing on the client), or kept prepared by a connection and run as
    ``EXECUTE name(values)``."""

    name: str
    sql: str  # with $1, $2, ... for its values
    order: tuple[str, ...]  # the names of the values, in that order
    execute: str  # "EXECUTE name(%s, %s, ...)", for psycopg to write the values into
    source: str  # as SQLAlchemy compiled it, with %(name)s for the values

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
        name = f"civicdesk_{next(_NUMBERS)}"
        arguments = ", ".join(["%s"] * len(order))
        execute = f"EXECUTE {name}({arguments})" if order else f"EXECUTE {name}"
        return cls(name, numbered, tuple(order), execute, sql)

    def values(self, parameters: Mapping[str, Any]) -> list[Any]:
        return [parameters[name] for name in self.order]


@dataclass
class Wire:
    """What is owed to the server on one pooled connection: BEGIN, and the results of pipelined writes."""

    prepare: bool = True  # run a transaction's first statement as EXECUTE of a prepared statement
    begin_owed: bool = False
    pipeline: ExitStack | None = None  # psycopg's pipeline, held open while its writes are pending
    writing: bool = False  # inside a block of pipelined writes
    checks: list[Callable[[], None]] = field(default_factory=list)  # to run once the writes' results are in
    prepared: set[str] = field(default_factory=set)  # statements this connection has prepared
    _literals: ClientCursor[Any] | None = None  # writes values as SQL literals
    _shared: RawCursor[Any] | None = None  # for the writes whose results nobody reads

    def shared_cursor(self, connection: Any) -> RawCursor[Any]:
        if self._shared is None:
            self._shared = RawCursor(connection)
        return self._shared

    def begin_with(self, connection: Any, prepared: Prepared, parameters: Mapping[str, Any], dialect: Dialect) -> Any:
        """BEGIN and ``prepared`` in one message; the cursor is left at the statement's result. Without prepared
        statements, the statement itself goes with BEGIN (and the server parses and plans it every time)."""
        self.begin_owed = False
        if self._literals is None:
            self._literals = ClientCursor(connection)
        if not self.prepare:
            return self._execute(connection, "BEGIN;" + self._literals.mogrify(prepared.source, parameters), dialect)
        sql = "BEGIN;" + self._literals.mogrify(prepared.execute, prepared.values(parameters))
        self._prepare(connection, prepared)
        try:
            return self._execute(connection, sql, dialect)
        except sa.exc.ProgrammingError as error:
            if not isinstance(error.orig, errors.InvalidSqlStatementName):
                raise
        # the server no longer has the statement (deallocated behind this record's back): out of the transaction
        # that BEGIN opened, prepare it again, and run it once more
        connection.execute("ROLLBACK")
        self.prepared.clear()
        self._prepare(connection, prepared)
        return self._execute(connection, sql, dialect)

    def _execute(self, connection: Any, sql: str, dialect: Dialect) -> Any:
        cursor = connection.cursor()
        try:
            cursor.execute(sql)
        except dialect.loaded_dbapi.Error as error:
            raise translated(error, dialect, sql, None) from error
        cursor.nextset()
        return cursor

    def _prepare(self, connection: Any, prepared: Prepared) -> None:
        """Prepare the statement on this connection, unless it has been (outside any transaction: BEGIN is
        owed)."""
        if prepared.name in self.prepared:
            return
        with suppress(errors.DuplicatePreparedStatement):  # prepared before the record of it was cleared
            connection.execute(f"PREPARE {prepared.name} AS {prepared.sql}")
        self.prepared.add(prepared.name)

    def ending(self, connection: Any) -> None:
        """The transaction ends in a rollback: the writes' results no longer matter. psycopg deallocates every
        prepared statement after a ROLLBACK (when it has prepared some of its own): this connection's are
        forgotten then, to be prepared again."""
        if connection.info.transaction_status != pq.TransactionStatus.IDLE:
            self.prepared.clear()
        self.discard()

    def open_pipeline(self, connection: Any) -> None:
        """Start (or go on with) queueing writes; BEGIN goes first when it is owed."""
        if self.pipeline is None:
            stack = ExitStack()
            stack.enter_context(connection.pipeline())
            self.pipeline = stack
        if self.begin_owed:
            self.begin_owed = False
            connection.execute("BEGIN")
        self.writing = True

    def settle(self, dialect: Dialect) -> None:
        """Send what is queued and read its results: the first error is raised (as SQLAlchemy's), then the
        checks run."""
        self.writing = False
        stack, self.pipeline = self.pipeline, None
        checks, self.checks = self.checks, []
        if stack is not None:
            try:
                stack.close()
            except dialect.loaded_dbapi.Error as error:
                raise translated(error, dialect, "(pipelined writes)", None) from error
        for check in checks:
            check()

    def commit(self, connection: Any, dialect: Dialect) -> None:
        """COMMIT goes out with the pending writes, in the same round trip."""
        try:
            connection.execute("COMMIT")  # raises the error of a write whose result has come back already
        except dialect.loaded_dbapi.Error as error:
            self.discard()
            raise translated(error, dialect, "COMMIT", None) from error
        self.settle(dialect)

    def discard(self) -> None:
        """Forget what is owed: BEGIN, and pending writes, whose results are left unread."""
        self.writing = False
        self.begin_owed = False
        stack, self.pipeline = self.pipeline, None
        self.checks = []
        if stack is not None:
            # an error of writes being rolled back, or of a broken connection, which the pool replaces
            with suppress(Exception):
                stack.close()


def translated(error: Exception, dialect: Dialect, sql: str, parameters: Any) -> sa.exc.StatementError:
    """A DBAPI error as SQLAlchemy's (``IntegrityError`` and the rest), as the error handlers expect."""
    return sa.exc.DBAPIError.instance(sql, parameters, error, dialect.loaded_dbapi.Error, dialect=dialect)


def wire_of(connection: sa.Connection) -> Wire | None:
    """The connection's :class:`Wire`; None where BEGIN is not deferred (SQLite)."""
    wire: Wire | None = connection.info.get(_WIRE)
    return wire


def defer_begin(engine: Engine, prepared_statements: bool = True) -> None:
    """Install the deferred BEGIN and the pending writes on a PostgreSQL engine (see the module's text);
    ``prepared_statements``: run a transaction's first statement as EXECUTE of a prepared statement."""
    dialect = engine.dialect

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.autocommit = True
        record.info[_WIRE] = Wire(prepare=prepared_statements)

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
        if wire.pipeline is not None:
            wire.settle(dialect)
        if wire.begin_owed:
            wire.begin_owed = False
            cursor.connection.execute("BEGIN")

    @sa.event.listens_for(engine, "commit")
    def _on_commit(connection: sa.Connection) -> None:
        wire = connection.info.get(_WIRE)
        if wire is not None:
            wire.begin_owed = False
            wire.settle(dialect)  # writes still pending here were not committed with them (a Core commit)

    @sa.event.listens_for(engine, "rollback")
    def _on_rollback(connection: sa.Connection) -> None:
        wire = connection.info.get(_WIRE)
        if wire is not None:
            wire.ending(connection.connection.dbapi_connection)

    @sa.event.listens_for(engine, "reset")
    def _on_reset(dbapi_connection: Any, record: Any, _state: Any) -> None:
        wire = record.info.get(_WIRE)
        if wire is not None:
            wire.ending(dbapi_connection)
