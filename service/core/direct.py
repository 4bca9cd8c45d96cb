"""Statements run straight on the session's DBAPI connection, for the few that every request action runs.

SQLAlchemy still writes the SQL (compiled once per dialect, bind casts included) and converts the values (each
column type's own bind and result processors); what is skipped is its per-execution machinery, which costs
several times what SQLite itself spends on a small statement. The statements join the session's transaction:
the session flushes what it has pending first, so the order of writes is kept.

On PostgreSQL (:mod:`service.core.pgwire`) a statement that opens its transaction runs as ``EXECUTE`` of a
statement its connection keeps prepared, in one message with the owed BEGIN; the others pass their values in
order (psycopg's ``RawCursor``); :func:`pipelined` writes stay pending until the session commits or the
connection is used again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa
from psycopg import RawCursor
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from service.core.db import db
from service.core.pgwire import Prepared, Wire, translated, wire_of

_Processor = Callable[[Any], Any] | None
_INFO_KEY = "civicdesk.direct"  # in Session.info: (its transaction, that transaction's DBAPI connection, dialect,
#                                 the connection's Wire on PostgreSQL)
_Statement = sa.Select[Any] | sa.Insert | sa.Update | sa.Delete
# inside a block of pipelined writes: its connection, dialect and (PostgreSQL) Wire
_WRITING: ContextVar[tuple[Any, Dialect, Wire | None] | None] = ContextVar("civicdesk_writing", default=None)


class _Compiled:
    def __init__(self, statement: _Statement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if compiled.insert_prefetch or compiled.update_prefetch:
            # a Python-side column default would be left out: the caller must give every value
            raise ValueError(f"{statement} relies on column defaults; give the values explicitly")
        self.sql = compiled.string
        self.names: list[str] = list(compiled.positiontup or compiled.binds)
        self.positional = bool(dialect.positional)
        processors = {name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                      for name, bind in compiled.binds.items()}
        self.processors: list[tuple[str, _Processor]] = [(name, processors[name]) for name in self.names]
        self.escaped = {name: compiled.escaped_bind_names.get(name, name) for name in self.names}
        self.prepared = Prepared.of(self.sql) if dialect.name == "postgresql" else None

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        if self.positional:
            return [values[name] if processor is None else processor(values[name])
                    for name, processor in self.processors]
        escaped = self.escaped
        return {escaped[name]: values[name] if processor is None else processor(values[name])
                for name, processor in self.processors}


class DirectStatement:
    """A Core INSERT, UPDATE, DELETE or SELECT of plain columns with named bind parameters; or one such statement
    for each dialect, where they differ (an upsert)."""

    def __init__(self, statement: _Statement | Mapping[str, _Statement]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        self._result_processors: dict[str, list[_Processor]] = {}

    @classmethod
    def insert(cls, table: sa.Table) -> DirectStatement:
        """An INSERT that takes a value for every column."""
        return cls(table.insert().values({column.name: sa.bindparam(column.name) for column in table.c}))

    def _run(self, values: Mapping[str, Any], shared: bool = False) -> tuple[Any, Dialect]:
        connection, dialect, wire = _WRITING.get() or _connection()
        compiled = self._for(dialect)
        parameters = compiled.parameters(values)
        prepared = compiled.prepared
        if wire is not None and prepared is not None:
            assert isinstance(parameters, dict)
            if wire.begin_owed and not wire.writing:  # the transaction's first statement
                return wire.begin_with(connection, prepared, parameters, dialect), dialect
            # the values in order: psycopg has nothing to parse
            cursor = wire.shared_cursor(connection) if shared else RawCursor(connection)
            sql, parameters = prepared.sql, prepared.values(parameters)
        else:
            cursor = connection.cursor()
            sql = compiled.sql
        try:
            cursor.execute(sql, parameters)
        except dialect.loaded_dbapi.Error as error:
            raise translated(error, dialect, sql, parameters) from error
        return cursor, dialect

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(self._statement(dialect), dialect)
        return compiled

    def _statement(self, dialect: Dialect) -> _Statement:
        if not isinstance(self.statement, Mapping):
            return self.statement
        if dialect.name not in self.statement:  # pragma: no cover - civicdesk runs on PostgreSQL and SQLite
            raise RuntimeError(f"no statement for {dialect.name}")
        return self.statement[dialect.name]

    def execute(self, values: Mapping[str, Any]) -> Any:
        """Run once; the DBAPI cursor is returned for ``rowcount``."""
        return self._run(values)[0]

    def write(self, values: Mapping[str, Any]) -> None:
        """Run once, for its effect alone (on PostgreSQL such writes share a cursor, and its set-up)."""
        self._run(values, shared=True)

    def write_many(self, rows: Iterable[Mapping[str, Any]]) -> None:
        # one execute per row rather than executemany(): psycopg's would end a surrounding pipeline with a sync
        for row in rows:
            self._run(row, shared=True)

    def first(self, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row of a SELECT, each value through its column type's result processor."""
        cursor, dialect = self._run(values)
        row = cursor.fetchone()
        if row is None:
            return None
        processors = self._result_processors.get(dialect.name)
        if processors is None:
            statement = self._statement(dialect)
            assert isinstance(statement, sa.Select)
            description = cursor.description
            processors = self._result_processors[dialect.name] = [
                column.type.dialect_impl(dialect).result_processor(dialect, description[index][1])
                for index, column in enumerate(statement.selected_columns)]
        return tuple(value if processor is None else processor(value)
                     for value, processor in zip(row, processors, strict=True))


@contextmanager
def pipelined() -> Iterator[None]:
    """On PostgreSQL the direct statements inside are queued in psycopg's pipeline mode: they reach the server
    together, with COMMIT when the session commits (one round trip), or sooner when anything else is run in the
    transaction. Their results, ``rowcount`` included, are there only then: a check of them goes to
    :func:`when_written`. An error among them is raised where they are sent, as SQLAlchemy's.

    Nothing inside may read from the database: a query's rows would arrive only when the writes are sent, and
    SQLAlchemy would take it for a statement that returns none. Read what the writes need before the block
    (a cache that may refresh itself, such as the department directory, included); the ORM has nothing to do
    inside either (what it holds is written when the block begins)."""
    current = _connection()
    connection, _dialect, wire = current
    token = _WRITING.set(current)  # the statements inside need not look the connection up again
    try:
        if wire is None:  # SQLite runs in-process: nothing to save
            yield
            return
        wire.open_pipeline(connection)
        try:
            yield
        except BaseException:
            wire.discard()
            raise
        wire.writing = False
    finally:
        _WRITING.reset(token)


def when_written(check: Callable[[], None]) -> None:
    """Run ``check`` once the pipelined writes before it have been sent and their results read: now, unless
    they are still pending (PostgreSQL), else when they are sent."""
    pending = _pending(db.session())
    if pending is None:
        check()
    else:
        pending[3].checks.append(check)


def _commit_pending_writes(session: sa.orm.Session) -> None:
    """Before the session commits: pending writes go out with COMMIT, in one round trip."""
    if _pending(session) is None:
        return
    session.flush()  # what the ORM holds goes first (sending the pending writes ahead of it)
    pending = _pending(session)
    if pending is not None:
        pending[3].commit(pending[1], pending[2])


def _pending(session: sa.orm.Session) -> tuple[Any, Any, Dialect, Wire] | None:
    """(transaction, DBAPI connection, dialect, Wire) as :func:`_connection` cached them, if the session's
    transaction has writes pending."""
    cached = session.info.get(_INFO_KEY)
    if cached is None or cached[0] is not session.get_transaction() or cached[3] is None:
        return None
    return cached if cached[3].pipeline is not None else None


sa.event.listen(db.session, "before_commit", _commit_pending_writes)


def _connection() -> tuple[Any, Dialect, Wire | None]:
    """The DBAPI connection of the session's transaction, after the session has written what it holds; on
    PostgreSQL its pending writes are sent first, unless more are being queued."""
    session = db.session()
    session.flush()  # returns at once when nothing is pending
    transaction = session.get_transaction()
    cached = session.info.get(_INFO_KEY)
    if transaction is None or cached is None or cached[0] is not transaction:
        connection = session.connection()
        cached = session.info[_INFO_KEY] = (session.get_transaction(), connection.connection.dbapi_connection,
                                            connection.dialect, wire_of(connection))
    wire = cached[3]
    if wire is not None and wire.pipeline is not None and not wire.writing:
        wire.settle(cached[2])
    return cached[1], cached[2], wire
