"""How civicdesk sets up each SQLite connection: the page size of a new file, WAL, its checkpoint interval and
size limit, foreign keys, and ``BEGIN IMMEDIATE`` for writers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.core.db import configure_sqlite, read_only_intent


def test_each_connection_gets_the_configured_settings(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'settings.sqlite3'}")
    configure_sqlite(engine, busy_timeout_ms=1234, wal_autocheckpoint_pages=2500)
    try:
        with engine.connect() as connection:
            def pragma(name: str) -> object:
                return connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()

            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 1  # NORMAL
            assert pragma("wal_autocheckpoint") == 2500
            assert pragma("journal_size_limit") == 64 * 1024 * 1024
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 1234
    finally:
        engine.dispose()


def _page_size(path: Path, page_size: int | None = None) -> int:
    engine = sa.create_engine(f"sqlite:///{path}")
    if page_size is None:
        configure_sqlite(engine, busy_timeout_ms=0, wal_autocheckpoint_pages=1000)
    else:
        configure_sqlite(engine, busy_timeout_ms=0, wal_autocheckpoint_pages=1000, page_size=page_size)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
            return int(connection.exec_driver_sql("PRAGMA page_size").scalar_one())
    finally:
        engine.dispose()


def test_a_new_database_file_gets_the_configured_page_size(tmp_path: Path) -> None:
    assert _page_size(tmp_path / "default.sqlite3") == 2048
    assert _page_size(tmp_path / "small.sqlite3", 1024) == 1024
    assert _page_size(tmp_path / "small.sqlite3", 8192) == 1024  # reopened: the file keeps the size it was made with


def test_an_existing_database_file_keeps_its_page_size(tmp_path: Path) -> None:
    path = tmp_path / "existing.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA page_size = 4096")
        connection.execute("CREATE TABLE kept (x INTEGER)")
        connection.execute("INSERT INTO kept VALUES (1)")
    connection.close()
    assert _page_size(path) == 4096
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT x FROM kept").fetchall() == [(1,)]
    connection.close()


@pytest.mark.parametrize("page_size", [0, 1000, 256, 131072])
def test_a_page_size_sqlite_would_ignore_is_refused(tmp_path: Path, page_size: int) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'refused.sqlite3'}")
    with pytest.raises(ValueError, match="page size"):
        configure_sqlite(engine, busy_timeout_ms=0, wal_autocheckpoint_pages=1000, page_size=page_size)
    engine.dispose()


def test_writers_take_the_write_lock_when_they_begin(tmp_path: Path) -> None:
    path = tmp_path / "locks.sqlite3"
    engine = sa.create_engine(f"sqlite:///{path}")
    configure_sqlite(engine, busy_timeout_ms=0, wal_autocheckpoint_pages=1000)
    other = sa.create_engine(f"sqlite:///{path}")
    configure_sqlite(other, busy_timeout_ms=0, wal_autocheckpoint_pages=1000)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with engine.begin():  # BEGIN IMMEDIATE: holds the write lock before writing anything
            with pytest.raises(sqlite3.OperationalError, match="locked"), other.begin():
                pass
            with read_only_intent(), other.begin() as reader:  # a reader begins DEFERRED and is not held up
                assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 0
    finally:
        engine.dispose()
        other.dispose()
