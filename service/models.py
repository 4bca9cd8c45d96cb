"""Imports every mapped class, so the metadata is complete for migrations and tests."""

from service.accounts.models import Department, Resident, Staff, StaffRole
from service.calendar.models import CalendarDay
from service.catalog.models import Service
from service.core.db import Base
from service.core.models import AccessToken, AuditRecord, IdempotencyKey
from service.processes.models import ProcessVersion
from service.requests.models import Request, RequestAssignee, RequestEvent

metadata = Base.metadata

__all__ = ["AccessToken", "AuditRecord", "CalendarDay", "Department", "IdempotencyKey", "ProcessVersion", "Request",
           "RequestAssignee", "RequestEvent", "Resident", "Service", "Staff", "StaffRole", "metadata"]
