"""SQL pieces that read the same on SQLite and PostgreSQL: elapsed seconds, floor, and nearest-rank
percentiles from window functions (SQLite has no percentile functions)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class seconds_between(FunctionElement[float]):
    """``end - start`` in seconds, as a float, exact to the millisecond on every database (SQLite's
    ``julianday`` differences are not: 86401 s come out as 86400.99999457, so they are rounded)."""

    type = sa.Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _seconds_default(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (f"ROUND((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"
            " * 86400.0, 3)")


class floor_nonnegative(FunctionElement[int]):
    """The integer part of a non-negative number (SQLite has FLOOR only when built with its math functions)."""

    type = sa.Integer()
    inherit_cache = True
    name = "floor_nonnegative"


@compiles(floor_nonnegative)
def _floor_default(element: floor_nonnegative, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(FLOOR({compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(floor_nonnegative, "sqlite")
def _floor_sqlite(element: floor_nonnegative, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"


def days_late(seconds: sa.ColumnElement[float]) -> sa.ColumnElement[int]:
    """Calendar days (not working days) begun past a deadline that ends at 23:59:59 local time: one second
    late is the first day, a full day and one second the second. ``seconds`` is taken in whole seconds first,
    so a difference a hair short of a whole second does not lose a day."""
    return floor_nonnegative((sa.func.round(seconds) - 1) / 86400.0) + 1


def percentiles(source: sa.Subquery, value: str, keys: Sequence[str],
                extra: Callable[[sa.Subquery], Sequence[sa.ColumnElement[Any]]] | None = None) -> sa.Select[Any]:
    """Per group of ``keys``: n, total, median, p90 and max of ``value`` by nearest rank, and the aggregates
    ``extra`` makes of the ranked rows (which carry every column of ``source``).

    The p-th percentile of n values is the value at rank ⌈p·n⌉ in ascending order (so the median of an even
    number of values is the lower middle one): ``row_number`` and ``count`` over the group give the rank,
    and the smallest value whose rank reaches it is picked — the same figure on every database.
    """
    group = [source.c[k] for k in keys]
    ranked = sa.select(
        source,
        sa.func.row_number().over(partition_by=group, order_by=source.c[value]).label("rank_in_group"),
        sa.func.count().over(partition_by=group).label("group_size"),
    ).subquery()
    ranked_group = [ranked.c[k] for k in keys]
    v, rank, size = ranked.c[value], ranked.c.rank_in_group, ranked.c.group_size
    return sa.select(
        *ranked_group,
        sa.func.count().label("n"),
        sa.func.sum(v).label("total"),
        sa.func.min(sa.case((rank * 2 >= size, v))).label("median"),
        sa.func.min(sa.case((rank * 10 >= size * 9, v))).label("p90"),
        sa.func.max(v).label("max"),
        *(extra(ranked) if extra is not None else ()),
    ).group_by(*ranked_group)
