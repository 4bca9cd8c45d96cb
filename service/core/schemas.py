"""Schema pieces shared by every surface: local timestamps, the problem document, action envelopes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import current_app


class LocalDateTime(ma.fields.DateTime):
    """ISO 8601 with the offset of the configured time zone (Asia/Shanghai by default)."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return value.astimezone(ZoneInfo(current_app.config["TIME_ZONE"])).isoformat()


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, the body of every error response."""

    type = ma.fields.String(metadata={"description": "A URI reference naming the kind of problem."})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()),
                            metadata={"description": "Per-field messages of a validation error."})
    request_id = ma.fields.String()
