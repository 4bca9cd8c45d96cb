"""Forms and materials as data: definitions are checked, and submissions are validated and cleaned by them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from service.catalog.forms import (
    FIELD_TYPES,
    MATERIAL_TYPES,
    PHONE,
    TEXT_MAX_LENGTH,
    TEXTAREA_MAX_LENGTH,
    validate_form_definition,
    validate_materials_definition,
    validate_submission,
)

# Checked with python-stdnum: checksum-valid numbers, and the same numbers with a wrong check character.
VALID_ID_NUMBERS = ["11010519491231002X", "320106199003071234", "440300198511150022"]
INVALID_ID_NUMBERS = [
    "110105194912310021",  # wrong check digit (X expected)
    "320106199003071235",  # wrong check digit (4 expected)
    "110105194902300020",  # right check digit, but born on 30 February
    "990105194912310023",  # right check digit, no such region
    "1101051949123100",  # too short
    "11010519491231002Y",
]
VALID_USCCS = ["91110000600037341L", "91350100M000100Y43"]
INVALID_USCCS = ["91110000600037341M", "91350100M000100Y44", "911100006000373I1L", "9111000060003734"]

OPTIONS = [{"value": "retail", "label": "食品销售"}, {"value": "catering", "label": "餐饮服务"},
           {"value": "canteen", "label": "单位食堂"}]


def form_of(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"fields": list(fields)}


def field(key: str, kind: str, required: bool = True, **extra: Any) -> dict[str, Any]:
    if kind in ("choice", "multi_choice") and "options" not in extra:
        extra["options"] = OPTIONS
    return {"key": key, "label": f"标签 {key}", "type": kind, "required": required, **extra}


def one(kind: str, value: Any, required: bool = True) -> tuple[dict[str, Any], dict[str, list[str]]]:
    return validate_submission(form_of(field("x", kind, required)), {"x": value})


def accepted(kind: str, value: Any) -> Any:
    cleaned, errors = one(kind, value)
    assert errors == {}, errors
    return cleaned["x"]


def refused(kind: str, value: Any) -> list[str]:
    cleaned, errors = one(kind, value)
    assert set(errors) == {"form.x"}, (value, errors)
    assert "x" not in cleaned
    return errors["form.x"]


# --- the built-in catalog ------------------------------------------------------------------------------------


def _builtin_catalog() -> list[dict[str, Any]]:
    path = Path(__file__).parents[2] / "service" / "catalog" / "builtin.yaml"
    catalog: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return catalog


@pytest.mark.parametrize("entry", _builtin_catalog(), ids=lambda entry: entry["code"])
def test_every_builtin_service_has_a_valid_form_and_materials(entry: dict[str, Any]) -> None:
    assert validate_form_definition(entry["form"]) == {}
    assert validate_materials_definition(entry["materials"]) == {}


def test_the_phone_rule_is_the_one_of_the_resident_profile() -> None:
    from service.accounts.schemas import PHONE as PROFILE_PHONE

    assert PHONE.pattern == PROFILE_PHONE.pattern


# --- form definitions ----------------------------------------------------------------------------------------


def test_a_form_with_every_field_type_is_valid() -> None:
    form = form_of(*(field(f"f_{kind}", kind, help="提示") for kind in FIELD_TYPES))

    assert validate_form_definition(form) == {}
    assert validate_form_definition({"fields": []}) == {}


@pytest.mark.parametrize(("form", "where"), [
    (None, "form"),
    ([], "form"),
    ({}, "form.fields"),
    ({"fields": {}}, "form.fields"),
    ({"fields": [], "title": "x"}, "form"),
    ({"fields": ["phone"]}, "form.fields.0"),
    ({"fields": [{"label": "电话", "type": "phone", "required": True}]}, "form.fields.0.key"),
    ({"fields": [{**field("phone", "phone"), "key": "Phone"}]}, "form.fields.0.key"),
    ({"fields": [{**field("phone", "phone"), "key": "1phone"}]}, "form.fields.0.key"),
    ({"fields": [field("phone", "phone"), field("phone", "text")]}, "form.fields.phone.key"),
    ({"fields": [{**field("phone", "phone"), "label": ""}]}, "form.fields.phone.label"),
    ({"fields": [{**field("phone", "phone"), "label": None}]}, "form.fields.phone.label"),
    ({"fields": [field("phone", "telephone")]}, "form.fields.phone.type"),
    ({"fields": [field("phone", "materials")]}, "form.fields.phone.type"),
    ({"fields": [{k: v for k, v in field("phone", "phone").items() if k != "required"}]},
     "form.fields.phone.required"),
    ({"fields": [{**field("phone", "phone"), "required": "yes"}]}, "form.fields.phone.required"),
    ({"fields": [{**field("phone", "phone"), "requried": True}]}, "form.fields.phone"),
    ({"fields": [{**field("phone", "phone"), "help": 3}]}, "form.fields.phone.help"),
    ({"fields": [field("phone", "phone", options=OPTIONS)]}, "form.fields.phone.options"),
    ({"fields": [{k: v for k, v in field("kind", "choice").items() if k != "options"}]},
     "form.fields.kind.options"),
    ({"fields": [field("kind", "multi_choice", options=[])]}, "form.fields.kind.options"),
    ({"fields": [field("kind", "choice", options=["a", "b"])]}, "form.fields.kind.options.0"),
    ({"fields": [field("kind", "choice", options=[{"value": "a"}])]}, "form.fields.kind.options.0.label"),
    ({"fields": [field("kind", "choice", options=[{"value": 1, "label": "一"}])]},
     "form.fields.kind.options.0.value"),
    ({"fields": [field("kind", "choice", options=[{"value": "a", "label": "甲"}, {"value": "a", "label": "乙"}])]},
     "form.fields.kind.options.1.value"),
    ({"fields": [field("kind", "choice", options=[{"value": "a", "label": "甲", "color": "red"}])]},
     "form.fields.kind.options.0"),
])
def test_invalid_form_definitions_name_the_problem(form: Any, where: str) -> None:
    errors = validate_form_definition(form)

    assert where in errors, errors
    assert all(isinstance(message, str) and message for message in errors[where])


def test_a_broken_definition_is_never_used_to_accept_a_submission() -> None:
    with pytest.raises(ValueError, match="invalid form definition"):
        validate_submission({"fields": [field("x", "nonsense")]}, {"x": "anything"})


# --- materials definitions -----------------------------------------------------------------------------------


def material(key: str = "licence", **changes: Any) -> dict[str, Any]:
    return {"key": key, "name": "营业执照", "required": True, "types": ["application/pdf", "image/jpeg"],
            "max_bytes": 10 * 1024 * 1024, **changes}


def test_valid_materials_definitions() -> None:
    assert validate_materials_definition([]) == {}
    assert validate_materials_definition([material(), material("photos", required=False, help="现场照片",
                                                               types=list(MATERIAL_TYPES))]) == {}


@pytest.mark.parametrize(("materials", "where"), [
    (None, "materials"),
    ({"licence": material()}, "materials"),
    (["licence"], "materials.0"),
    ([material(key="Licence")], "materials.0.key"),
    ([material(), material()], "materials.licence.key"),
    ([material(name="")], "materials.licence.name"),
    ([material(required=None)], "materials.licence.required"),
    ([material(types=[])], "materials.licence.types"),
    ([material(types="application/pdf")], "materials.licence.types"),
    ([material(types=["text/plain"])], "materials.licence.types"),
    ([material(types=["application/zip"])], "materials.licence.types"),
    ([material(types=["image/png", "image/png"])], "materials.licence.types"),
    ([material(max_bytes=0)], "materials.licence.max_bytes"),
    ([material(max_bytes="10MB")], "materials.licence.max_bytes"),
    ([material(max_bytes=True)], "materials.licence.max_bytes"),
    ([material(max_files=3)], "materials.licence"),
])
def test_invalid_materials_definitions_name_the_problem(materials: Any, where: str) -> None:
    errors = validate_materials_definition(materials)

    assert where in errors, errors


# --- submissions: the form as a whole ------------------------------------------------------------------------


def test_a_complete_submission_is_cleaned() -> None:
    form = form_of(field("name", "text"), field("phone", "phone"), field("kinds", "multi_choice"),
                   field("note", "textarea", required=False), field("email", "email", required=False))

    cleaned, errors = validate_submission(form, {"name": "  张三  ", "phone": "138 0013 8000",
                                                 "kinds": ["canteen", "retail"], "note": ""})

    assert errors == {}
    # Optional fields left empty are left out; values are normalised.
    assert cleaned == {"name": "张三", "phone": "13800138000", "kinds": ["retail", "canteen"]}


def test_required_fields_and_unknown_keys() -> None:
    form = form_of(field("name", "text"), field("phone", "phone"), field("note", "textarea", required=False))

    cleaned, errors = validate_submission(form, {"name": "   ", "nickname": "x", "admin": True})

    assert errors == {"form.name": ["Required."], "form.phone": ["Required."],
                      "form.nickname": ["Unknown field."], "form.admin": ["Unknown field."]}
    assert cleaned == {}


@pytest.mark.parametrize("empty", [None, "", "  ", []])
def test_empty_values_of_required_fields_are_missing(empty: Any) -> None:
    assert validate_submission(form_of(field("x", "text")), {"x": empty})[1] == {"form.x": ["Required."]}
    assert validate_submission(form_of(field("x", "text", required=False)), {"x": empty}) == ({}, {})


def test_the_submission_must_be_an_object() -> None:
    assert validate_submission(form_of(field("x", "text")), ["x"])[1] == {  # type: ignore[arg-type]
        "form": ["Must be an object of field values."]}


def test_an_empty_form_accepts_only_nothing() -> None:
    assert validate_submission({"fields": []}, {}) == ({}, {})
    assert validate_submission({"fields": []}, {"x": 1})[1] == {"form.x": ["Unknown field."]}


# --- submissions: each type ----------------------------------------------------------------------------------


def test_text() -> None:
    assert accepted("text", " 一行文字 ") == "一行文字"
    assert accepted("text", "x" * TEXT_MAX_LENGTH) == "x" * TEXT_MAX_LENGTH
    assert refused("text", "x" * (TEXT_MAX_LENGTH + 1)) == [f"At most {TEXT_MAX_LENGTH} characters."]
    assert refused("text", "第一行\n第二行") == ["Must be a single line of text."]
    assert refused("text", 12) == ["Must be a string."]
    assert refused("text", {"text": "x"}) == ["Must be a string."]


def test_textarea() -> None:
    assert accepted("textarea", "第一行\r\n第二行\n\t缩进") == "第一行\r\n第二行\n\t缩进"
    assert accepted("textarea", "x" * TEXTAREA_MAX_LENGTH) == "x" * TEXTAREA_MAX_LENGTH
    assert refused("textarea", "x" * (TEXTAREA_MAX_LENGTH + 1)) == [f"At most {TEXTAREA_MAX_LENGTH} characters."]
    assert refused("textarea", "bell\x07") == ["Must not contain control characters."]
    assert refused("textarea", ["a"]) == ["Must be a string."]


@pytest.mark.parametrize(("value", "expected"), [
    (3, 3), (-2, -2), (0, 0), (2.5, 2.5), ("12", 12), (" 3.5 ", 3.5), ("-7", -7), (".5", 0.5), ("10.", 10.0),
])
def test_number_accepted(value: Any, expected: Any) -> None:
    cleaned = accepted("number", value)

    assert cleaned == expected
    assert type(cleaned) is type(expected)


@pytest.mark.parametrize("value", [True, False, "twelve", "1e5", "1,000", "0x10", ".", float("nan"), float("inf"),
                                   [1], {"value": 1}])
def test_number_refused(value: Any) -> None:
    assert refused("number", value)


def test_date() -> None:
    assert accepted("date", "2026-02-28") == "2026-02-28"
    assert accepted("date", "2028-02-29") == "2028-02-29"
    assert refused("date", "2026-02-29") == ["Not a valid calendar date."]
    for value in ("2026-2-28", "28/02/2026", "2026-02-28T10:00:00", "20260228", 20260228):
        assert refused("date", value) == ["Must be a date as YYYY-MM-DD."], value


def test_phone() -> None:
    for value in ("13800138000", "19912345678", "010-12345678", "01012345678", "0755-1234567"):
        assert accepted("phone", value) == value
    assert accepted("phone", " 138 0013 8000 ") == "13800138000"
    for value in ("12800138000", "1380013800", "138001380001", "+8613800138000", "12345678", "010-123456"):
        assert refused("phone", value) == ["Not a valid phone number."], value
    assert refused("phone", 13800138000) == ["Must be a string."]


def test_email() -> None:
    assert accepted("email", " zhang.san@example.cn ") == "zhang.san@example.cn"
    for value in ("zhang.san", "a@b", "@example.cn", "a b@example.cn", "x" * 250 + "@example.cn"):
        assert refused("email", value) == ["Not a valid e-mail address."], value


@pytest.mark.parametrize("number", VALID_ID_NUMBERS)
def test_id_number_valid(number: str) -> None:
    assert accepted("id_number", number) == number


def test_id_number_is_normalised() -> None:
    assert accepted("id_number", "11010519491231002x") == "11010519491231002X"
    assert accepted("id_number", " 11010519491231002X ") == "11010519491231002X"


@pytest.mark.parametrize("number", [*INVALID_ID_NUMBERS, 11010519491231002])
def test_id_number_invalid(number: Any) -> None:
    assert refused("id_number", number) == ["Not a valid resident identity card number."]


@pytest.mark.parametrize("code", VALID_USCCS)
def test_uscc_valid(code: str) -> None:
    assert accepted("uscc", code) == code
    assert accepted("uscc", code.lower()) == code


@pytest.mark.parametrize("code", [*INVALID_USCCS, 911100006000373410])
def test_uscc_invalid(code: Any) -> None:
    assert refused("uscc", code) == ["Not a valid unified social credit code (统一社会信用代码)."]


def test_choice() -> None:
    assert accepted("choice", "catering") == "catering"
    assert refused("choice", "bakery") == ["Must be one of: retail, catering, canteen."]
    assert refused("choice", "餐饮服务")  # the label is not the value
    assert refused("choice", ["catering"])


def test_multi_choice() -> None:
    assert accepted("multi_choice", ["retail"]) == ["retail"]
    assert accepted("multi_choice", ["canteen", "retail"]) == ["retail", "canteen"]  # in the options' order
    assert refused("multi_choice", ["retail", "retail"]) == ["Each option at most once."]
    assert refused("multi_choice", ["retail", "bakery"])[0].startswith("Unknown options 'bakery'")
    assert refused("multi_choice", "retail") == ["Must be a list of option values."]
    assert refused("multi_choice", [1]) == ["Must be a list of option values."]
    assert one("multi_choice", [])[1] == {"form.x": ["Required."]}


def test_address() -> None:
    assert accepted("address", " 示范区人民路 1 号 ") == {"text": "示范区人民路 1 号"}
    assert accepted("address", {"text": "示范区人民路 1 号"}) == {"text": "示范区人民路 1 号"}
    assert accepted("address", {"text": "人民路", "lat": 31.23, "lng": 121.47}) == {
        "text": "人民路", "lat": 31.23, "lng": 121.47}
    assert accepted("address", {"text": "人民路", "lat": 0, "lng": -180}) == {"text": "人民路", "lat": 0.0,
                                                                             "lng": -180.0}
    for value, message in [
        ({"lat": 31.2, "lng": 121.4}, "text is required."),
        ({"text": "人民路", "lat": 31.2}, "Give lat and lng together, or neither."),
        ({"text": "人民路", "lat": 91, "lng": 121.4}, "lat must be between -90 and 90."),
        ({"text": "人民路", "lat": 31.2, "lng": 181}, "lng must be between -180 and 180."),
        ({"text": "人民路", "lat": "31.2", "lng": 121.4}, "lat must be a number."),
        ({"text": "人民路", "room": "3"}, "Unknown members: room."),
        ({"text": "x" * (TEXT_MAX_LENGTH + 1)}, f"At most {TEXT_MAX_LENGTH} characters."),
        (42, "Must be a string or an object {text, lat?, lng?}."),
    ]:
        assert refused("address", value) == [message], value


def test_every_type_reports_under_its_own_key() -> None:
    form = form_of(*(field(kind, kind) for kind in FIELD_TYPES))
    bad: dict[str, Any] = {"text": 1, "textarea": 1, "number": "x", "date": "x", "phone": "x", "email": "x",
                           "id_number": INVALID_ID_NUMBERS[0], "uscc": INVALID_USCCS[0], "choice": "x",
                           "multi_choice": ["x"], "address": 1}
    good: dict[str, Any] = {"text": "t", "textarea": "t", "number": 1, "date": "2026-01-05", "phone": "13800138000",
                            "email": "a@example.cn", "id_number": VALID_ID_NUMBERS[0], "uscc": VALID_USCCS[0],
                            "choice": "retail", "multi_choice": ["retail"], "address": "人民路"}

    assert set(validate_submission(form, bad)[1]) == {f"form.{kind}" for kind in FIELD_TYPES}
    cleaned, errors = validate_submission(form, good)
    assert errors == {}
    assert set(cleaned) == set(FIELD_TYPES)
