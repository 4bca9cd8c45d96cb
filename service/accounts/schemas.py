"""Account and organisation schemas: validation of input and the shapes of output (and of the OpenAPI doc)."""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from service.accounts.models import ROLES
from service.core.schemas import LocalDateTime

PHONE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
DEPARTMENT_CODE = re.compile(r"^[a-z][a-z0-9-]{1,63}$")


def validate_uscc(value: str) -> None:
    try:
        uscc.validate(value)
    except StdnumError as exc:
        raise ma.ValidationError("Not a valid unified social credit code (统一社会信用代码).") from exc


def validate_id_number(value: str) -> None:
    try:
        ric.validate(value)
    except StdnumError as exc:
        raise ma.ValidationError("Not a valid resident identity card number.") from exc


class EnterpriseSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=2, max=200))
    uscc = ma.fields.String(required=True, validate=validate_uscc,
                            metadata={"description": "Unified social credit code, checksum verified."})

    @ma.pre_load
    def _normalise(self, data: Any, **_kwargs: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("uscc"), str):
            data = {**data, "uscc": data["uscc"].strip().upper()}
        return data


class ResidentSchema(ma.Schema):
    """A resident's own profile (unmasked: only the resident sees it)."""

    id = ma.fields.String(dump_only=True)
    nickname = ma.fields.String(allow_none=True)
    name = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    id_number = ma.fields.String(allow_none=True)
    enterprise = ma.fields.Method("_enterprise", dump_only=True,
                                  metadata={"type": "object", "nullable": True,
                                            "description": "{name, uscc} when acting for an enterprise."})
    created_at = LocalDateTime(dump_only=True)
    version = ma.fields.Integer(dump_only=True)

    def _enterprise(self, resident: Any) -> dict[str, str] | None:
        if not resident.enterprise_uscc:
            return None
        return {"name": resident.enterprise_name, "uscc": resident.enterprise_uscc}


class ResidentUpdateSchema(ma.Schema):
    nickname = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=100))
    name = ma.fields.String(allow_none=True, validate=ma.validate.Length(min=1, max=100))
    phone = ma.fields.String(allow_none=True, validate=ma.validate.Regexp(PHONE, error="Not a valid phone number."))
    id_number = ma.fields.String(allow_none=True, validate=validate_id_number)
    enterprise = ma.fields.Nested(EnterpriseSchema, allow_none=True)
    expected_version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1),
                                         metadata={"description": "The version you read (or send If-Match)."})

    @ma.pre_load
    def _normalise(self, data: Any, **_kwargs: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("id_number"), str):
            data = {**data, "id_number": data["id_number"].strip().upper()}
        return data


class ResidentLoginSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=128),
                            metadata={"description": "The code from wx.login()."})


class ResidentLoginResultSchema(ma.Schema):
    token = ma.fields.String(required=True)
    expires_at = LocalDateTime(required=True)
    resident = ma.fields.Nested(ResidentSchema, required=True)


class StaffSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    username = ma.fields.String()
    display_name = ma.fields.String()
    department_id = ma.fields.String()
    roles = ma.fields.List(ma.fields.String())
    active = ma.fields.Boolean()
    created_at = LocalDateTime(dump_only=True)
    version = ma.fields.Integer(dump_only=True)


class StaffCreateSchema(ma.Schema):
    username = ma.fields.String(required=True, validate=ma.validate.Regexp(
        USERNAME, error="3-64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter."))
    display_name = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=100))
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=10, max=256))
    department_id = ma.fields.String(required=True)
    roles = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(ROLES)), required=True,
                           validate=ma.validate.Length(min=1))


class StaffLoginSchema(ma.Schema):
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=256))


class StaffLoginResultSchema(ma.Schema):
    token = ma.fields.String(required=True)
    expires_at = LocalDateTime(required=True)
    staff = ma.fields.Nested(StaffSchema, required=True)


class DepartmentSchema(ma.Schema):
    id = ma.fields.String(dump_only=True)
    code = ma.fields.String()
    name = ma.fields.String()
    parent_id = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean()
    created_at = LocalDateTime(dump_only=True)
    updated_at = LocalDateTime(dump_only=True)
    version = ma.fields.Integer(dump_only=True)


class DepartmentCreateSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Regexp(
        DEPARTMENT_CODE, error="2-64 characters: lower-case letters, digits or '-', starting with a letter."))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    parent_id = ma.fields.String(load_default=None, allow_none=True)


class DepartmentUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    parent_id = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean()
    expected_version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))


class StaffUpdateSchema(ma.Schema):
    display_name = ma.fields.String(validate=ma.validate.Length(min=1, max=100))
    department_id = ma.fields.String()
    roles = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(ROLES)), validate=ma.validate.Length(min=1))
    active = ma.fields.Boolean(metadata={"description": "false disables the account and revokes its tokens"})
    expected_version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))


class PasswordResetSchema(ma.Schema):
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=10, max=256))
