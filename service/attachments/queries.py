"""Reads of attachments. An attachment is only ever found for its owner: anyone else gets "no such attachment"."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from service.attachments.models import Attachment
from service.core.auth import Actor
from service.core.db import db
from service.core.errors import NotFound


def own_attachments(actor: Actor, ids: Iterable[str]) -> dict[str, Attachment]:
    """The attachments among ``ids`` that ``actor`` uploaded, by id (others' and unknown ids are simply absent)."""
    wanted = {i for i in ids if isinstance(i, str)}
    if not wanted:
        return {}
    rows = db.session.execute(
        sa.select(Attachment).where(Attachment.id.in_(sorted(wanted)), Attachment.owner_kind == actor.kind,
                                    Attachment.owner_id == actor.id)
    ).scalars()
    return {row.id: row for row in rows}


def get_own_attachment(actor: Actor, attachment_id: str) -> Attachment:
    attachment = own_attachments(actor, [attachment_id]).get(attachment_id)
    if attachment is None:
        raise NotFound("No such attachment.")
    return attachment
