"""What a message says: the data of a resident's subscribe message (订阅消息) and the text of a staff notification.

Rendered when the message is delivered, from the message's payload and the objects it is about, so the hot path
that queues a message reads nothing. A subscribe message's fields are the keywords of the template chosen in the
WeChat console; ``WECHAT_SUBSCRIBE_TEMPLATES`` may name them per event (``"fields": {"thing2": "service"}``),
otherwise the defaults below apply. WeChat's limits per keyword kind are enforced here (a ``thing`` longer than
20 characters is refused by WeChat with errcode 47003).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from service.calendar.queries import time_zone
from service.consultations.models import Consultation
from service.consultations.schemas import mask_personal_data
from service.core.db import db
from service.notifications.models import OutboxMessage

# Values a template field may show, by name.
SOURCES = ("request_number", "service", "status", "time", "comment", "asked", "due", "question", "answer")
DEFAULT_FIELDS: dict[str, dict[str, str]] = {
    "request_accepted": {"character_string1": "request_number", "thing2": "service", "phrase3": "status",
                         "time4": "time", "thing5": "due"},
    "materials_requested": {"character_string1": "request_number", "thing2": "service", "thing3": "asked",
                            "time4": "time"},
    "request_completed": {"character_string1": "request_number", "thing2": "service", "phrase3": "status",
                          "time4": "time", "thing5": "comment"},
    "request_rejected": {"character_string1": "request_number", "thing2": "service", "phrase3": "status",
                         "time4": "time", "thing5": "comment"},
    "consultation_answered": {"thing1": "question", "thing2": "answer", "time3": "time"},
    "follow_up_answered": {"character_string1": "request_number", "thing2": "answer", "time3": "time"},
}
STATUS_WORDS = {"request_accepted": "已受理", "materials_requested": "待补正", "request_completed": "已办结",
                "request_rejected": "不予受理", "consultation_answered": "已答复", "follow_up_answered": "已整改"}
# The mini program's page a message opens, by what it is about.
PAGES = {"request": "pages/requests/detail?id={id}", "consultation": "pages/consultations/detail?id={id}"}
# WeChat's length limits by keyword kind (characters).
_LIMITS = {"thing": 20, "character_string": 32, "phrase": 5, "name": 10, "number": 32, "letter": 32,
           "symbol": 5, "time": 32, "date": 32, "amount": 32, "phone_number": 17, "car_number": 8}


@dataclass(frozen=True)
class SubscribeMessage:
    template_id: str
    data: dict[str, str]
    page: str | None


def _kind(field: str) -> str:
    return field.rstrip("0123456789")


def _fit(field: str, value: str) -> str:
    limit = _LIMITS.get(_kind(field))
    if limit is None or len(value) <= limit:
        return value
    return value[: limit - 1] + "…"


def _local(at: str | datetime | None) -> str:
    if at is None:
        return ""
    instant = datetime.fromisoformat(at) if isinstance(at, str) else at
    return instant.astimezone(time_zone()).strftime("%Y-%m-%d %H:%M")


def _request_values(request_id: str) -> dict[str, str]:
    from service.catalog.models import Service
    from service.requests.models import Request

    row = db.session.execute(
        sa.select(Request.id, Request.due_at, Service.name).join(Service, Service.id == Request.service_id)
        .where(Request.id == request_id)).first()
    if row is None:
        return {"request_number": request_id.upper()}
    return {"request_number": row.id.upper(), "service": row.name, "due": f"预计{_local(row.due_at)[:10]}前办结"}


def subscribe_message(message: OutboxMessage, template_id: str) -> SubscribeMessage:
    """The subscribe message ``message`` stands for, with the template's fields filled in."""
    payload = message.payload
    values: dict[str, str] = {"status": STATUS_WORDS.get(message.event, ""), "time": _local(payload.get("at")),
                              "comment": mask_personal_data(payload.get("comment")) or "无"}
    values["asked"] = mask_personal_data("；".join(payload.get("asked") or ())) or values["comment"]
    if message.subject_type == "request":
        values.update(_request_values(message.subject_id))
    if message.event == "consultation_answered":
        consultation = db.session.get(Consultation, message.subject_id)
        if consultation is not None:
            values["question"] = mask_personal_data(consultation.question) or ""
            values["answer"] = mask_personal_data(consultation.answer) or "请在小程序中查看答复"
    if message.event == "follow_up_answered":
        from service.requests.models import Rating

        rating = db.session.get(Rating, payload.get("rating_id", ""))
        values["answer"] = (mask_personal_data(rating.follow_up_answer) if rating else None) or "请在小程序中查看"
    fields = _fields(message.event)
    data = {field: _fit(field, values.get(source) or "-") for field, source in fields.items()}
    page_pattern = PAGES.get(message.subject_type)
    return SubscribeMessage(template_id=template_id, data=data,
                            page=page_pattern.format(id=message.subject_id) if page_pattern else None)


def _fields(event: str) -> Mapping[str, str]:
    spec = current_app.config["WECHAT_SUBSCRIBE_TEMPLATES"].get(event) or {}
    configured = spec.get("fields") if isinstance(spec, Mapping) else None
    return configured if isinstance(configured, Mapping) and configured else DEFAULT_FIELDS.get(event, {})


# --- staff notifications ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffText:
    title: str
    body: str
    data: dict[str, Any]


_STAFF_TITLES = {
    "step_due_soon": "办件即将到期",
    "step_overdue": "办件已超期",
    "step_escalated": "超期办件督促",
    "request_supervised": "办件被督办",
    "countersign_waiting": "待会签办件",
    "bad_rating": "差评待整改",
    "supervision_reminder": "督办提醒",
}


def staff_text(message: OutboxMessage) -> StaffText:
    """The title and body of a staff notification (no personal data of the resident)."""
    payload = message.payload
    subject = _request_values(message.subject_id) if message.subject_type == "request" else {}
    number = subject.get("request_number", message.subject_id.upper())
    service = subject.get("service", "")
    what = f"「{service}」办件 {number}" if service else f"办件 {number}"
    due = _local(payload.get("due_at"))
    bodies = {
        "step_due_soon": f"{what} 的当前环节将于 {due} 到期，请及时办理。",
        "step_overdue": f"{what} 的当前环节已于 {due} 超期，请尽快办理。",
        "step_escalated": f"{what} 的当前环节已于 {due} 超期 {payload.get('working_days_overdue', 0)} 个工作日，"
                          f"承办部门：{payload.get('department_name', '')}，请督促办理。",
        "request_supervised": f"{what} 被督办：{payload.get('comment') or ''}",
        "countersign_waiting": f"{what} 等待本部门会签。",
        "bad_rating": f"{what} 收到 {payload.get('level', '')} 星差评，请于 {due} 前整改答复。",
        "supervision_reminder": f"您督办的{what}到了提醒时间：{payload.get('comment') or ''}",
    }
    data = {key: value for key, value in payload.items() if key not in ("roles", "exclude")}
    return StaffText(title=_STAFF_TITLES.get(message.event, message.event),
                     body=bodies.get(message.event, what), data=data)
