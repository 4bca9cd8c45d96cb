"""Imports every mapped class, so the metadata is complete for migrations and tests."""

from service.accounts.models import Department, Resident, Staff, StaffRole
from service.attachments.models import Attachment
from service.calendar.models import CalendarDay
from service.catalog.models import Service
from service.consultations.models import Consultation
from service.core.db import Base
from service.core.models import AccessToken, AuditRecord, IdempotencyKey
from service.core.search import SearchDocument
from service.notices.models import Notice, NoticeRevision
from service.notifications.models import OutboxMessage, StaffNotification, SubscriptionGrant
from service.processes.models import ProcessVersion
from service.requests.models import (
    Rating,
    Request,
    RequestAssignee,
    RequestEvent,
    RequestNote,
    RequestSupervision,
)

metadata = Base.metadata

__all__ = [
    "AccessToken", "Attachment", "AuditRecord", "CalendarDay", "Consultation", "Department", "IdempotencyKey",
    "Notice", "NoticeRevision", "OutboxMessage", "ProcessVersion", "Rating", "Request", "RequestAssignee",
    "RequestEvent", "RequestNote", "RequestSupervision", "Resident", "SearchDocument", "Service", "Staff",
    "StaffNotification", "StaffRole", "SubscriptionGrant", "metadata",
]
