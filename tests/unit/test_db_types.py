"""``UTCDateTime``: an aware datetime stored as UTC; on SQLite, exactly the text SQLAlchemy's DATETIME stores.
JSON columns: written by orjson, or by the standard library where orjson refuses a value."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from service.core.db import UTCDateTime, engine_options, json_dumps

SQLITE = sqlite.dialect()
_SQLALCHEMY_DATETIME = sa.DateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
_OURS = UTCDateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
_READ = UTCDateTime().dialect_impl(SQLITE).result_processor(SQLITE, None)

aware = st.datetimes(min_value=datetime(1001, 1, 2), max_value=datetime(9998, 12, 30),
                     timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))]))


@given(aware)
def test_sqlite_text_is_what_sqlalchemys_datetime_stores(value: datetime) -> None:
    assert _OURS is not None
    assert _SQLALCHEMY_DATETIME is not None
    assert _OURS(value) == _SQLALCHEMY_DATETIME(value.astimezone(UTC).replace(tzinfo=None))


@given(aware)
def test_sqlite_text_reads_back_as_the_same_instant(value: datetime) -> None:
    assert _OURS is not None
    assert _READ is not None
    read = _READ(_OURS(value))
    assert read == value
    assert read.tzinfo is UTC


def test_sqlite_text_orders_as_the_instants_do() -> None:
    assert _OURS is not None
    instants = [datetime(2026, 1, 1, 0, 0, 0, 0, UTC), datetime(2026, 1, 1, 0, 0, 0, 1, UTC),
                datetime(2026, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=8))) + timedelta(seconds=1),
                datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)]
    texts = [_OURS(instant) for instant in instants]
    assert sorted(texts) == [_OURS(instant) for instant in sorted(instants)]  # type: ignore[type-var]


@pytest.mark.parametrize("dialect", [SQLITE, postgresql.dialect()], ids=["sqlite", "postgresql"])
def test_a_naive_datetime_is_refused(dialect: sa.Dialect) -> None:
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    with pytest.raises(ValueError, match="naive"):
        process(datetime(2026, 1, 1))


def test_none_stays_none() -> None:
    assert _OURS is not None
    assert _OURS(None) is None


@pytest.mark.parametrize("value", [
    {"state": {"step": "审核", "due": "2026-12-01"}, "ok": True, "n": None},
    {"big": 2**70},  # beyond orjson's 64 bits: the standard library writes it
    {"text": "\ud800"},  # a lone surrogate, which orjson refuses
    {1: "one"},  # a non-string key, written as a string as the standard library does
], ids=["plain", "big-integer", "lone-surrogate", "integer-key"])
def test_json_columns_read_back_what_they_were_given(value: dict) -> None:
    expected = json.loads(json.dumps(value))
    assert json.loads(json_dumps(value)) == expected
    assert engine_options()["json_deserializer"](json_dumps(value)) == expected


def test_json_is_written_by_orjson() -> None:
    assert json_dumps({"title": "路灯"}) == orjson.dumps({"title": "路灯"}).decode()
