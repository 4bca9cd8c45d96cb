"""The portable SQL pieces of the statistics against plain Python: nearest-rank percentiles, days late."""

from __future__ import annotations

import math

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from service.analytics.sql import days_late, percentiles

_metadata = sa.MetaData()
_values = sa.Table("values", _metadata, sa.Column("grp", sa.String), sa.Column("v", sa.Float))


def _nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(round(p * len(ordered), 9)) - 1]


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from("abc"), st.lists(st.integers(0, 10_000), min_size=1, max_size=40),
                       min_size=1))
def test_percentiles_are_nearest_rank(groups: dict[str, list[int]]) -> None:
    engine = sa.create_engine("sqlite://")
    _metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(_values.insert(), [{"grp": g, "v": float(v)} for g, vs in groups.items() for v in vs])
        source = sa.select(_values.c.grp, _values.c.v).subquery()
        rows = {row.grp: row for row in connection.execute(percentiles(source, "v", ["grp"]))}

    for group, values in groups.items():
        floats = [float(v) for v in values]
        assert rows[group].n == len(values)
        assert rows[group].total == sum(floats)
        assert rows[group].median == _nearest_rank(floats, 0.5)
        assert rows[group].p90 == _nearest_rank(floats, 0.9)
        assert rows[group].max == max(floats)


def test_days_late_counts_local_days_begun_after_the_deadline() -> None:
    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        def late(seconds: float) -> int:
            return int(connection.execute(sa.select(days_late(sa.literal(seconds)))).scalar_one())

        # a deadline at 23:59:59: one second later is the next day, the first day overdue
        assert [late(s) for s in (1, 86400, 86401, 3 * 86400 + 10 * 3600 + 1)] == [1, 1, 2, 4]


def test_days_late_from_real_timestamps_loses_no_day() -> None:
    """Fed with ``seconds_between`` of stored instants (SQLite's julianday difference is inexact: 86401 s come
    out a hair short), not with literals: each whole day and one second late is one more day."""
    from datetime import UTC, datetime, timedelta

    from service.analytics.sql import seconds_between
    from service.core.db import UTCDateTime

    metadata = sa.MetaData()
    instants = sa.Table("instants", metadata, sa.Column("due", UTCDateTime()), sa.Column("at", UTCDateTime()))
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    due = datetime(2026, 3, 9, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Shanghai
    lates = [timedelta(seconds=1), timedelta(days=1), timedelta(days=1, seconds=1), timedelta(days=2, seconds=1),
             timedelta(days=6, hours=10, seconds=1), timedelta(days=30, seconds=1)]
    with engine.begin() as connection:
        connection.execute(instants.insert(), [{"due": due, "at": due + late} for late in lates])
        seconds = seconds_between(instants.c.due, instants.c.at)
        rows = connection.execute(sa.select(seconds, days_late(seconds)).order_by(instants.c.at)).all()

    assert [row[0] for row in rows] == [late.total_seconds() for late in lates]
    assert [row[1] for row in rows] == [1, 1, 2, 3, 7, 31]
