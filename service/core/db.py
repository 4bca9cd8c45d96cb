"""The database handle, column types and the one transaction boundary."""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from ulid import ULID

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})


def json_dumps(value: Any) -> str:
    """JSON columns are written by orjson: every action writes the request's state and an event's and an audit
    record's data, and the standard library's encoder took a tenth of an action's time. What orjson refuses
    (integers beyond 64 bits, lone surrogates) is written by the standard library, as before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value)


def engine_options() -> dict[str, Any]:
    # read by the standard library: it keeps big integers exact and reads what it wrote (NaN included)
    return {"json_serializer": json_dumps, "json_deserializer": json.loads}


def new_id() -> str:
    """A time-ordered opaque id (ULID), so ids sort by creation and make stable cursors."""
    return str(ULID()).lower()


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """An aware datetime stored as UTC on every backend (SQLite keeps no offset of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_utc_text

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite: a table whose rows are found by their primary key alone (no rowid B-tree beside the key's index).
# Used for the small rows every action appends (events, audit records, work-queue rows, outbox messages):
# one B-tree fewer to write per row. Other databases ignore it.
WITHOUT_ROWID: dict[str, object] = {"sqlite_with_rowid": False}


def _sqlite_utc_text(value: datetime | None) -> str | None:
    """What SQLAlchemy's SQLite ``DATETIME`` stores for the UTC time of ``value`` ("2026-11-25 08:00:00.000000"),
    in one call rather than two processors and a format string: every action binds a dozen of these."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTCDateTime column")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class IdMixin:
    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


@contextmanager
def unit_of_work(app: Flask) -> Iterator[None]:
    """One transaction per CLI command or worker job: committed when the block ends normally, rolled back
    otherwise (HTTP requests get theirs from the app's dispatch)."""
    with app.app_context():
        try:
            yield
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise


# --- SQLite: WAL, foreign keys, busy timeout, and BEGIN IMMEDIATE for writers ------------------------------

SQLITE_DEFAULT_PAGE_SIZE = 2048
_PAGE_SIZES = frozenset(2**power for power in range(9, 17))
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("civicdesk_write_intent", default=True)


@contextmanager
def read_only_intent() -> Iterator[None]:
    """Within this block SQLite transactions begin DEFERRED, so readers never queue behind writers."""
    token = _write_intent.set(False)
    try:
        yield
    finally:
        _write_intent.reset(token)


def set_write_intent(write: bool) -> contextvars.Token[bool]:
    return _write_intent.set(write)


def reset_write_intent(token: contextvars.Token[bool]) -> None:
    _write_intent.reset(token)


_WAL_SIZE_LIMIT = 64 * 1024 * 1024  # the WAL file is cut back to this after a checkpoint


def configure_sqlite(engine: Engine, busy_timeout_ms: int, wal_autocheckpoint_pages: int,
                     page_size: int = SQLITE_DEFAULT_PAGE_SIZE) -> None:
    """Take over transaction control from pysqlite so writers start with ``BEGIN IMMEDIATE``.

    A deferred transaction that later writes fails with "database is locked" when another writer got there
    first; an immediate one waits for the lock (busy timeout) instead.

    ``wal_autocheckpoint_pages``: the commit that takes the write-ahead log past this many pages copies them
    back into the database file. An action writes about twenty pages, most of them the same few hot pages of
    each index; a longer interval copies each of those once for many commits rather than once for a few.

    ``page_size``: of a database file created by this engine (one that exists keeps its own). Every page an
    action changes, a leaf of each index it adds to, goes whole to the write-ahead log and later back into
    the file; its rows are small, so smaller pages copy less of what did not change.
    """
    if page_size not in _PAGE_SIZES:
        raise ValueError(f"SQLite page size {page_size}: a power of two from 512 to 65536")

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute(f"PRAGMA page_size = {page_size}")  # before WAL, which fixes it; no-op once created
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"PRAGMA wal_autocheckpoint = {int(wal_autocheckpoint_pages)}")
            cursor.execute(f"PRAGMA journal_size_limit = {_WAL_SIZE_LIMIT}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # straight on the DBAPI connection: this runs at the start of every transaction
        connection.connection.dbapi_connection.execute(  # type: ignore[union-attr]
            "BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


# --- PostgreSQL: a pooled connection is pinged when it has been idle -----------------------------------------

_IDLE_SINCE = "civicdesk.idle_since"


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection before use when it has lain idle for more than ``idle_seconds``.

    ``pool_pre_ping`` pings at every checkout: one more round trip for every transaction. A connection handed
    back a moment ago is as good as the ping would show; one that has waited longer may have been cut by a
    server restart, a proxy or an idle timeout, and is replaced before it is used. A connection cut within
    ``idle_seconds`` of its last use fails the transaction that draws it, and SQLAlchemy then renews the whole
    pool (its disconnect handling).
    """

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since <= idle_seconds:
            return  # just connected, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # the pool discards this connection and checks out another (a fresh one, at worst)
            raise sa.exc.DisconnectionError(str(error)) from error
