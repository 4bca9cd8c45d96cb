"""A service's form and materials are data: checked when stored, drawn by the mini program, and used to validate
what a resident submits. PURE Python: imports neither Flask nor SQLAlchemy.

Form definition (``service.form``)::

    {"fields": [{"key": "phone", "label": "联系电话", "type": "phone", "required": true, "help": "…"}, …]}

``type`` is one of :data:`FIELD_TYPES`; ``choice`` and ``multi_choice`` need ``options: [{value, label}]`` (and
no other type has them). Keys are unique, lower-case identifiers. Unknown members are refused, so a typo such as
``requried`` cannot silently make a field optional.

Submitted values (``validate_submission``), and what the cleaned data holds:

========== ======================================================= ============================================
type       accepted                                                cleaned
========== ======================================================= ============================================
text       a string, one line, at most 500 characters              the string, trimmed
textarea   a string, at most 5000 characters (line breaks allowed) the string, trimmed
number     a JSON number, or a decimal string ("12", "3.5": what    an int, or a float when it has a fraction
           WeChat's ``<input type="number">`` gives)
date       ``YYYY-MM-DD``, a real calendar date                    the same string
phone      a mainland mobile (``13800138000``) or a landline       the number without spaces
           (``010-12345678``)
email      an e-mail address                                       the address, trimmed
id_number  an 18-character resident ID number, checksum, birth     upper-case (``…X``), separators removed
           date and region checked (python-stdnum ``cn.ric``)
uscc       an 18-character unified social credit code, checksum   upper-case, separators removed
           checked (python-stdnum ``cn.uscc``)
choice     one of the option values                                the value
multi_choice a list of option values, no duplicates                the values, in the options' order
address    a string, or ``{text, lat?, lng?}`` (``lat`` and ``lng`` ``{"text": …}`` plus ``lat`` and ``lng`` when
           together or neither; WGS-84 degrees)                    given: always the object form
========== ======================================================= ============================================

An empty value (missing, ``null``, ``""``, ``[]``) of a required field is "Required."; of an optional field it
is left out of the cleaned data. Keys the form does not define are refused.

Materials definition (``service.materials``)::

    [{"key": "licence", "name": "营业执照", "required": true, "types": ["application/pdf", "image/jpeg"],
      "max_bytes": 10485760, "help": "…"}, …]

``types`` come from :data:`MATERIAL_TYPES` (what an upload may be at all); ``help`` is optional.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any, TypeGuard

from marshmallow import ValidationError as MarshmallowValidationError
from marshmallow.validate import Email
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

FIELD_TYPES = ("text", "textarea", "number", "date", "phone", "email", "id_number", "uscc", "choice",
               "multi_choice", "address")
CHOICE_TYPES = ("choice", "multi_choice")
TEXT_MAX_LENGTH = 500
TEXTAREA_MAX_LENGTH = 5000
EMAIL_MAX_LENGTH = 254
MAX_FIELDS = 100
MAX_OPTIONS = 200
MAX_MATERIALS = 50

# What an uploaded file may be (decided by its content): MIME type -> extensions a file name of it may end with
# (the first is the one given to a name without any of them). A material's ``types`` choose among these.
MATERIAL_TYPES: dict[str, tuple[str, ...]] = {
    "image/jpeg": ("jpg", "jpeg"),
    "image/png": ("png",),
    "image/webp": ("webp",),
    "application/pdf": ("pdf",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("xlsx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ("pptx",),
    "application/msword": ("doc",),
    "application/vnd.ms-excel": ("xls",),
}

# The same rule as ``service.accounts.schemas.PHONE`` (kept here so this module stays free of the database
# layer; a unit test keeps the two equal): a mainland mobile number, or a landline with its area code.
PHONE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL = Email()

_FIELD_MEMBERS = {"key", "label", "type", "required", "options", "help"}
_MATERIAL_MEMBERS = {"key", "name", "required", "types", "max_bytes", "help"}

ID_NUMBER_MESSAGE = "Not a valid resident identity card number."
USCC_MESSAGE = "Not a valid unified social credit code (统一社会信用代码)."
REQUIRED_MESSAGE = "Required."

Errors = dict[str, list[str]]


class _Invalid(Exception):
    """One value refused, with the message to report for it."""


# --- definitions ---------------------------------------------------------------------------------------------


def _where(prefix: str, index: int, item: Any) -> str:
    """``form.fields.phone`` for a field with a usable key, ``form.fields.3`` otherwise."""
    key = item.get("key") if isinstance(item, Mapping) else None
    return f"{prefix}.{key}" if isinstance(key, str) and KEY.match(key) else f"{prefix}.{index}"


def _non_empty_string(value: Any, max_length: int = 200) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= max_length


def _options_errors(where: str, options: Any, add: Any) -> None:
    if not isinstance(options, list) or not options:
        add(f"{where}.options", "A non-empty list of {value, label} is required for a choice.")
        return
    if len(options) > MAX_OPTIONS:
        add(f"{where}.options", f"At most {MAX_OPTIONS} options.")
    seen: set[str] = set()
    for index, option in enumerate(options):
        place = f"{where}.options.{index}"
        if not isinstance(option, Mapping):
            add(place, "An option is an object {value, label}.")
            continue
        unknown = sorted(str(k) for k in set(option) - {"value", "label"})
        if unknown:
            add(place, f"Unknown members: {', '.join(unknown)}.")
        value = option.get("value")
        if not _non_empty_string(value, 100):
            add(f"{place}.value", "A non-empty string of at most 100 characters.")
        elif value in seen:
            add(f"{place}.value", f"Duplicate option value {value!r}.")
        else:
            seen.add(value)
        if not _non_empty_string(option.get("label"), 200):
            add(f"{place}.label", "A non-empty string of at most 200 characters.")


def validate_form_definition(form: Any) -> Errors:
    """Problems of a form definition, keyed ``form``, ``form.fields.<key>.<member>``; empty when it is valid."""
    errors: Errors = {}

    def add(where: str, message: str) -> None:
        errors.setdefault(where, []).append(message)

    if not isinstance(form, Mapping):
        add("form", "A form is an object {fields: [...]}.")
        return errors
    unknown = sorted(str(k) for k in set(form) - {"fields"})
    if unknown:
        add("form", f"Unknown members: {', '.join(unknown)}.")
    fields = form.get("fields")
    if not isinstance(fields, list):
        add("form.fields", "A list of fields is required.")
        return errors
    if len(fields) > MAX_FIELDS:
        add("form.fields", f"At most {MAX_FIELDS} fields.")
    seen: set[str] = set()
    for index, field in enumerate(fields):
        where = _where("form.fields", index, field)
        if not isinstance(field, Mapping):
            add(where, "A field is an object {key, label, type, required, options?, help?}.")
            continue
        unknown = sorted(str(k) for k in set(field) - _FIELD_MEMBERS)
        if unknown:
            add(where, f"Unknown members: {', '.join(unknown)}.")
        key = field.get("key")
        if not isinstance(key, str) or not KEY.match(key):
            add(f"{where}.key", "A key is a lower-case identifier: a letter, then letters, digits or '_' (≤ 64).")
        elif key in seen:
            add(f"{where}.key", f"Duplicate key {key!r}.")
        else:
            seen.add(key)
        if not _non_empty_string(field.get("label")):
            add(f"{where}.label", "A non-empty string of at most 200 characters.")
        kind = field.get("type")
        if kind not in FIELD_TYPES:
            add(f"{where}.type", f"One of {', '.join(FIELD_TYPES)}.")
        if not isinstance(field.get("required"), bool):
            add(f"{where}.required", "true or false.")
        if "help" in field and not (field["help"] is None or (isinstance(field["help"], str)
                                                               and len(field["help"]) <= 1000)):
            add(f"{where}.help", "A string of at most 1000 characters.")
        if kind in CHOICE_TYPES:
            _options_errors(where, field.get("options"), add)
        elif "options" in field and kind in FIELD_TYPES:
            add(f"{where}.options", "Only choice and multi_choice fields have options.")
    return errors


def validate_materials_definition(materials: Any) -> Errors:
    """Problems of a materials definition, keyed ``materials``, ``materials.<key>.<member>``; empty when valid."""
    errors: Errors = {}

    def add(where: str, message: str) -> None:
        errors.setdefault(where, []).append(message)

    if not isinstance(materials, list):
        add("materials", "A list of materials is required.")
        return errors
    if len(materials) > MAX_MATERIALS:
        add("materials", f"At most {MAX_MATERIALS} materials.")
    seen: set[str] = set()
    for index, material in enumerate(materials):
        where = _where("materials", index, material)
        if not isinstance(material, Mapping):
            add(where, "A material is an object {key, name, required, types, max_bytes, help?}.")
            continue
        unknown = sorted(str(k) for k in set(material) - _MATERIAL_MEMBERS)
        if unknown:
            add(where, f"Unknown members: {', '.join(unknown)}.")
        key = material.get("key")
        if not isinstance(key, str) or not KEY.match(key):
            add(f"{where}.key", "A key is a lower-case identifier: a letter, then letters, digits or '_' (≤ 64).")
        elif key in seen:
            add(f"{where}.key", f"Duplicate key {key!r}.")
        else:
            seen.add(key)
        if not _non_empty_string(material.get("name")):
            add(f"{where}.name", "A non-empty string of at most 200 characters.")
        if not isinstance(material.get("required"), bool):
            add(f"{where}.required", "true or false.")
        types = material.get("types")
        if not isinstance(types, list) or not types:
            add(f"{where}.types", "A non-empty list of MIME types.")
        else:
            for value in types:
                if value not in MATERIAL_TYPES:
                    add(f"{where}.types", f"{value!r} is not a type uploads may have; "
                                          f"choose from {', '.join(MATERIAL_TYPES)}.")
            if len(set(map(str, types))) != len(types):
                add(f"{where}.types", "Duplicate types.")
        max_bytes = material.get("max_bytes")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            add(f"{where}.max_bytes", "A positive whole number of bytes.")
        if "help" in material and not (material["help"] is None or (isinstance(material["help"], str)
                                                                     and len(material["help"]) <= 1000)):
            add(f"{where}.help", "A string of at most 1000 characters.")
    return errors


# --- submissions ---------------------------------------------------------------------------------------------


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple)):
        return not value
    return False


def _string(value: Any, max_length: int, *, multiline: bool = False) -> str:
    if not isinstance(value, str):
        raise _Invalid("Must be a string.")
    value = value.strip()
    if len(value) > max_length:
        raise _Invalid(f"At most {max_length} characters.")
    if (_CONTROL_BUT_LINE_BREAKS if multiline else _CONTROL).search(value):
        raise _Invalid("Must not contain control characters." if multiline else "Must be a single line of text.")
    return value


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise _Invalid("Must be a number.")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Invalid("Must be a finite number.")
        return value
    if isinstance(value, str) and _NUMBER.match(value.strip()) and len(value) <= 40:
        text = value.strip()
        return float(text) if "." in text else int(text)
    raise _Invalid("Must be a number.")


def _date(value: Any) -> str:
    if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
        raise _Invalid("Must be a date as YYYY-MM-DD.")
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError as exc:
        raise _Invalid("Not a valid calendar date.") from exc


def _phone(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("Must be a string.")
    compact = re.sub(r"\s+", "", value)
    if not PHONE.match(compact):
        raise _Invalid("Not a valid phone number.")
    return compact


def _email(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("Must be a string.")
    address = value.strip()
    try:
        if len(address) > EMAIL_MAX_LENGTH:
            raise MarshmallowValidationError("too long")
        _EMAIL(address)
    except MarshmallowValidationError as exc:
        raise _Invalid("Not a valid e-mail address.") from exc
    return address


def _id_number(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 40:
        raise _Invalid(ID_NUMBER_MESSAGE)
    try:
        return str(ric.validate(value))
    except StdnumError as exc:
        raise _Invalid(ID_NUMBER_MESSAGE) from exc


def _uscc(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 40:
        raise _Invalid(USCC_MESSAGE)
    try:
        return str(uscc.validate(value))
    except StdnumError as exc:
        raise _Invalid(USCC_MESSAGE) from exc


def _option_values(field: Mapping[str, Any]) -> list[str]:
    return [option["value"] for option in field.get("options") or ()]


def _choice(value: Any, field: Mapping[str, Any]) -> str:
    if not isinstance(value, str) or value not in _option_values(field):
        raise _Invalid(f"Must be one of: {', '.join(_option_values(field))}.")
    return value


def _multi_choice(value: Any, field: Mapping[str, Any]) -> list[str]:
    allowed = _option_values(field)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Invalid("Must be a list of option values.")
    unknown = [item for item in value if item not in allowed]
    if unknown:
        raise _Invalid(f"Unknown options {', '.join(map(repr, unknown))}; choose from: {', '.join(allowed)}.")
    if len(set(value)) != len(value):
        raise _Invalid("Each option at most once.")
    return [option for option in allowed if option in value]


def _coordinate(value: Any, limit: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Invalid(f"{name} must be a number.")
    if not -limit <= value <= limit:
        raise _Invalid(f"{name} must be between {-limit:g} and {limit:g}.")
    return float(value)


def _address(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"text": _string(value, TEXT_MAX_LENGTH)}
    if not isinstance(value, Mapping):
        raise _Invalid("Must be a string or an object {text, lat?, lng?}.")
    unknown = sorted(str(k) for k in set(value) - {"text", "lat", "lng"})
    if unknown:
        raise _Invalid(f"Unknown members: {', '.join(unknown)}.")
    if _is_empty(value.get("text")):
        raise _Invalid("text is required.")
    cleaned: dict[str, Any] = {"text": _string(value["text"], TEXT_MAX_LENGTH)}
    lat, lng = value.get("lat"), value.get("lng")
    if (lat is None) != (lng is None):
        raise _Invalid("Give lat and lng together, or neither.")
    if lat is not None:
        cleaned["lat"] = _coordinate(lat, 90, "lat")
        cleaned["lng"] = _coordinate(lng, 180, "lng")
    return cleaned


def _clean(field: Mapping[str, Any], value: Any) -> Any:
    kind = field["type"]
    if kind == "text":
        return _string(value, TEXT_MAX_LENGTH)
    if kind == "textarea":
        return _string(value, TEXTAREA_MAX_LENGTH, multiline=True)
    if kind == "number":
        return _number(value)
    if kind == "date":
        return _date(value)
    if kind == "phone":
        return _phone(value)
    if kind == "email":
        return _email(value)
    if kind == "id_number":
        return _id_number(value)
    if kind == "uscc":
        return _uscc(value)
    if kind == "choice":
        return _choice(value, field)
    if kind == "multi_choice":
        return _multi_choice(value, field)
    return _address(value)


def validate_submission(form: dict[str, Any], data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Check ``data`` against the form definition ``form``: the cleaned data, and errors keyed ``form.<key>``.

    The cleaned data is only meaningful when there are no errors. ``form`` must be a valid definition
    (:func:`validate_form_definition`); a broken one raises ``ValueError`` rather than accept anything.
    """
    problems = validate_form_definition(form)
    if problems:
        raise ValueError(f"invalid form definition: {problems}")
    errors: Errors = {}
    if not isinstance(data, Mapping):
        return {}, {"form": ["Must be an object of field values."]}
    fields = {field["key"]: field for field in form["fields"]}
    for key in data:
        if key not in fields:
            errors.setdefault(f"form.{str(key)[:64]}", []).append("Unknown field.")
    cleaned: dict[str, Any] = {}
    for key, field in fields.items():
        value = data.get(key)
        if _is_empty(value):
            if field["required"]:
                errors.setdefault(f"form.{key}", []).append(REQUIRED_MESSAGE)
            continue
        try:
            cleaned[key] = _clean(field, value)
        except _Invalid as exc:
            errors.setdefault(f"form.{key}", []).append(str(exc))
    return cleaned, errors
