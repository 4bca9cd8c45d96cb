"""Optimistic concurrency: a ``version`` on each editable object, ``ETag``/``If-Match`` and ``expected_version``.

SQLAlchemy's ``version_id_col`` makes every UPDATE say ``WHERE version = <read version>``, so of two
transactions that read the same version only one can write; the other's flush raises ``StaleDataError``,
which the error handlers answer with 409.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask import Response, request
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from service.core.errors import BadRequest, StaleVersion, ValidationFailed

_ETAG = re.compile(r'^(?:W/)?"(\d+)"$')


class VersionedMixin:
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


def etag_for(version: int) -> str:
    return f'"{version}"'


def with_etag(response: Response, version: int) -> Response:
    response.headers["ETag"] = etag_for(version)
    return response


def expected_version(body_value: int | None) -> int | None:
    """The version the client based its write on: ``expected_version`` in the body, else ``If-Match``."""
    if body_value is not None:
        return body_value
    header = request.headers.get("If-Match")
    if header is None:
        return None
    match = _ETAG.match(header.strip())
    if match is None:
        raise BadRequest('If-Match must be an ETag this API issued, such as "3".')
    return int(match.group(1))


def check_version(current: int, expected: int | None) -> None:
    if expected is None:
        raise ValidationFailed(
            "Send the version you read as expected_version or If-Match.",
            errors={"expected_version": ["Missing data for required field."]},
        )
    if expected != current:
        raise StaleVersion(
            f"The object is at version {current}, not {expected}; reload it and try again.",
            current_version=current,
        )
