"""Imports every mapped class, so the metadata is complete for migrations and tests."""

from service.accounts.models import Department, Resident, Staff, StaffRole
from service.core.db import Base
from service.core.models import AccessToken, AuditRecord, IdempotencyKey

metadata = Base.metadata

__all__ = ["AccessToken", "AuditRecord", "Department", "IdempotencyKey", "Resident", "Staff", "StaffRole",
           "metadata"]
