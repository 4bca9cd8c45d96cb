"""Cursor (keyset) pagination: ``?cursor=…&limit=…`` in, ``{items, next_cursor}`` out.

The cursor holds the sort key of the last item of the page, so walking a list never skips or repeats an
item even while new ones are added. Sort keys must be non-null and all in one direction.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app

from service.core.db import db
from service.core.errors import BadRequest

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


class PageArgs(ma.Schema):
    cursor = ma.fields.String(load_default=None, metadata={"description": "Opaque cursor from next_cursor."})
    limit = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1),
                              metadata={"description": "Page size; capped by the server."})


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"t"}:
        return datetime.fromisoformat(value["t"])
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _malformed() -> BadRequest:
    return BadRequest("The cursor is malformed; use next_cursor from a previous page.",
                      errors={"cursor": ["Malformed cursor."]})


def decode_cursor(cursor: str, columns: Sequence[Any]) -> list[Any]:
    """The sort-key values in ``cursor``, each checked against the type of its column."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
        if not isinstance(decoded, list):
            raise ValueError("a cursor is a list of values")
        values = [_decode_value(v) for v in decoded]
    except (ValueError, binascii.Error, TypeError, UnicodeDecodeError) as exc:
        raise _malformed() from exc
    if len(values) != len(columns) or not all(
            isinstance(v, c.type.python_type) for v, c in zip(values, columns, strict=True)):
        raise _malformed()
    return values


def page_size(limit: int | None) -> int:
    if limit is None:
        return int(current_app.config["PAGE_SIZE_DEFAULT"])
    return min(limit, int(current_app.config["PAGE_SIZE_MAX"]))


def paginate(
    stmt: sa.Select[*tuple[Any, ...]],
    keys: Sequence[sa.ColumnElement[Any] | sa.orm.InstrumentedAttribute[Any]],
    *,
    cursor: str | None,
    limit: int | None,
    descending: bool = False,
    key_of: Callable[[Any], Sequence[Any]] | None = None,
) -> Page[Any]:
    """Run ``stmt`` ordered by ``keys`` and return one page of it.

    ``stmt`` selects one entity, whose attributes named like the keys make the cursor; or, with ``key_of``,
    any rows, from which ``key_of`` picks the sort-key values.
    """
    size = page_size(limit)
    columns = list(keys)
    if cursor:
        values = decode_cursor(cursor, columns)
        row = sa.tuple_(*columns)
        bound = sa.tuple_(*[sa.literal(v, type_=c.type) for v, c in zip(values, columns, strict=True)])
        stmt = stmt.where(row < bound if descending else row > bound)
    order = [c.desc() if descending else c.asc() for c in columns]
    result = db.session.execute(stmt.order_by(*order).limit(size + 1))
    rows = list(result.scalars() if key_of is None else result.all())
    items = rows[:size]
    next_cursor = None
    if len(rows) > size:
        last = items[-1]
        next_cursor = encode_cursor(key_of(last) if key_of else [getattr(last, str(c.key)) for c in columns])
    return Page(items=items, next_cursor=next_cursor)


_page_schemas: dict[type[ma.Schema], type[ma.Schema]] = {}


def page_schema(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The ``{items, next_cursor}`` envelope schema around ``item_schema`` (one class per item schema)."""
    if item_schema not in _page_schemas:
        name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
        _page_schemas[item_schema] = type(name, (ma.Schema,), {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next_cursor": ma.fields.String(allow_none=True, required=True),
        })
    return _page_schemas[item_schema]
