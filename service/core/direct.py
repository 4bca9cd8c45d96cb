"""Statements run straight on the session's DBAPI connection, for the few that every request action runs.

SQLAlchemy still writes the SQL (compiled once per dialect, bind casts included) and converts the values (each
column type's own bind and result processors); what is skipped is its per-execution machinery, which costs
several times what SQLite itself spends on a small statement. The statements join the session's transaction:
the session flushes what it has pending first, so the order of writes is kept.

On PostgreSQL (:mod:`service.core.pgwire`) they go to libpq's pipeline mode themselves, each prepared once per
connection: a transaction's first one behind the owed BEGIN, in one round trip; :func:`pipelined` writes stay
pending until the session commits (COMMIT joins them) or the connection is used again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa
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
        if self.prepared is not None:  # the values in the order of their numbers, each through its processor
            by_escaped = {self.escaped[name]: (name, processor) for name, processor in self.processors}
            self.in_order = [by_escaped[name] for name in self.prepared.order]

    def ordered(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[name] if processor is None else processor(values[name]) for name, processor in self.in_order]

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

    def _run(self, values: Mapping[str, Any]) -> tuple[Any, Dialect]:
        connection, dialect, wire = _WRITING.get() or _connection()
        compiled = self._for(dialect)
        prepared = compiled.prepared
        if wire is not None and prepared is not None:
            try:
                outcome = wire.send(prepared, compiled.ordered(values))
            except dialect.loaded_dbapi.Error as error:
                raise translated(error, dialect, prepared.sql, None) from error
            if not wire.writing:  # its results are wanted now
                wire.settle(dialect)
            return outcome, dialect
        cursor = connection.cursor()
        parameters = compiled.parameters(values)
        try:
            cursor.execute(compiled.sql, parameters)
        except dialect.loaded_dbapi.Error as error:
            raise translated(error, dialect, compiled.sql, parameters) from error
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
        """Run once; what it returns has the ``rowcount`` (a DBAPI cursor, or a pgwire ``Outcome``)."""
        return self._run(values)[0]

    def write(self, values: Mapping[str, Any]) -> None:
        """Run once, for its effect alone."""
        self._run(values)

    def write_many(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self._run(row)

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
    """On PostgreSQL the direct statements inside are queued in libpq's pipeline mode, each handed to the
    socket at once; their results are read with COMMIT's when the session commits (one round trip), or sooner,
    with the next direct statement that reads or before anything else is run in the transaction. Their
    results, ``rowcount`` included, are there only then: a check of them goes to :func:`when_written`. An
    error among them is raised where their results are read, as SQLAlchemy's.

    Nothing inside may read from the database: a direct read's rows are not there yet (asking for them
    raises), and the ORM would have the writes settled first, one round trip more. Read what the writes need
    before the block (a cache that may refresh itself, such as the department directory, included); what the
    ORM holds is written when the block begins.

    An error inside leaves what was sent pending, to be settled with the next statement or the commit or
    dropped by the rollback, as on SQLite it would have run already."""
    current = _connection()
    wire = current[2]
    token = _WRITING.set(current)  # the statements inside need not look the connection up again
    try:
        if wire is None:  # SQLite runs in-process, or psycopg begins this connection's transactions
            yield
            return
        wire.writing = True
        try:
            yield
        finally:  # on an error too, what was sent stays pending, as on SQLite it would have run
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
        pending[3].commit(pending[2])


def _pending(session: sa.orm.Session) -> tuple[Any, Any, Dialect, Wire] | None:
    """(transaction, DBAPI connection, dialect, Wire) as :func:`_connection` cached them, if the session's
    transaction has writes pending."""
    cached = session.info.get(_INFO_KEY)
    if cached is None or cached[0] is not session.get_transaction() or cached[3] is None:
        return None
    return cached if cached[3].pending else None


sa.event.listen(db.session, "before_commit", _commit_pending_writes)


def _connection() -> tuple[Any, Dialect, Wire | None]:
    """The DBAPI connection of the session's transaction, after the session has written what it holds (on
    PostgreSQL, pending direct statements stay pending: the next one joins them)."""
    session = db.session()
    session.flush()  # returns at once when nothing is pending
    transaction = session.get_transaction()
    cached = session.info.get(_INFO_KEY)
    if transaction is None or cached is None or cached[0] is not transaction:
        connection = session.connection()
        dbapi_connection: Any = connection.connection.dbapi_connection
        # a connection at another isolation level is psycopg's to begin: its statements go through its cursors
        wire = wire_of(connection)
        if wire is not None and not dbapi_connection.autocommit:
            wire = None
        cached = session.info[_INFO_KEY] = (session.get_transaction(), dbapi_connection, connection.dialect, wire)
    return cached[1], cached[2], cached[3]
