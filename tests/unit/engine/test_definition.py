"""Validation of process definitions: every built-in one loads, and each kind of mistake is named where it is."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from service.engine.definition import load_definition, referenced_departments
from service.engine.errors import DefinitionInvalid
from service.engine.schema import PROCESS_DEFINITION_SCHEMA
from service.processes.builtin import BUILTIN_CODES, builtin_definition_data

DEPARTMENTS = {"district", "gov-office", "service-center", "housing", "urban", "market", "environment",
               "civil-affairs"}


def repair() -> dict[str, Any]:
    return copy.deepcopy(builtin_definition_data("repair"))


def errors_of(data: Any, departments: set[str] | None = DEPARTMENTS) -> dict[str, list[str]]:
    with pytest.raises(DefinitionInvalid) as info:
        load_definition(data, departments)
    return info.value.errors


@pytest.mark.parametrize("code", BUILTIN_CODES)
def test_builtin_definitions_load(code: str) -> None:
    definition = load_definition(builtin_definition_data(code), DEPARTMENTS)
    assert definition.code == code
    assert definition.initial_step in definition.steps
    assert referenced_departments(definition) <= DEPARTMENTS
    assert any(step.terminal and step.outcome == "completed" for step in definition.steps.values())


def test_published_schema_file_matches_the_code() -> None:
    published = Path(__file__).parents[3] / "docs" / "process-definition.schema.json"
    assert json.loads(published.read_text(encoding="utf-8")) == PROCESS_DEFINITION_SCHEMA


def test_structure_errors_name_the_step_and_action() -> None:
    data = repair()
    data["steps"][0]["actions"][0]["to"] = "Not A Key"
    data["steps"][1]["kind"] = "dance"
    errors = errors_of(data)
    assert "steps.acceptance.actions.accept.to" in errors
    assert "steps.repair.kind" in errors


def test_unknown_step_reference() -> None:
    data = repair()
    data["steps"][0]["actions"][0]["to"] = "inspection"
    assert errors_of(data) == {"steps.acceptance.actions.accept.to": ["unknown step 'inspection'"]}


def test_unknown_department() -> None:
    data = repair()
    data["steps"][1]["assignee"]["department"] = "water"
    assert errors_of(data) == {"steps.repair.assignee.department": ["unknown department 'water'"]}
    assert load_definition(data, None).steps["repair"].assignee.department == "water"  # type: ignore[union-attr]


def test_unreachable_step() -> None:
    data = repair()
    data["steps"].insert(2, {"key": "inspection", "kind": "task", "assignee": {"department": "urban"},
                             "actions": [{"action": "complete", "to": "completed"}]})
    assert errors_of(data) == {"steps.inspection": ["unreachable from the initial step"]}


def test_step_with_no_way_out() -> None:
    data = repair()
    data["steps"][1]["actions"] = [{"action": "transfer", "to": "$same"}]
    assert errors_of(data) == {
        "steps.repair": ["no way out: no terminal step can be reached from here"],
        "steps.completed": ["unreachable from the initial step"],
    }


def test_cycle_without_exit_is_no_way_out() -> None:
    data = repair()
    data["steps"][1]["actions"] = [{"action": "send_back", "to": "acceptance"}]
    data["steps"][0]["actions"] = [{"action": "accept", "to": "repair"}]
    errors = errors_of(data)
    assert set(errors) >= {"steps.acceptance", "steps.repair"}


def test_terminal_without_outcome() -> None:
    data = repair()
    del data["steps"][2]["outcome"]
    assert errors_of(data) == {"steps.completed": ["a terminal step needs an outcome"]}


def test_duplicate_keys() -> None:
    data = repair()
    data["steps"].append(copy.deepcopy(data["steps"][1]))
    data["steps"][0]["actions"].append({"action": "accept", "to": "repair"})
    errors = errors_of(data)
    assert errors["steps.repair"] == ["duplicate step key"]
    assert errors["steps.acceptance.actions.accept"] == ["duplicate action in this step"]


def test_resident_step_rules() -> None:
    data = repair()
    data["steps"][0]["actions"].append({"action": "request_materials", "to": "repair"})
    data["steps"][1]["actions"].append({"action": "supplement", "to": "$return"})
    errors = errors_of(data)
    assert errors["steps.acceptance.actions.request_materials.to"] == ["request_materials must lead to a resident step"]
    assert errors["steps.repair.actions.supplement.to"] == ["$return is only for actions of a resident step"]


def test_conditions_are_data_about_declared_fields() -> None:
    data = builtin_definition_data("disclosure")
    handling = next(s for s in data["steps"] if s["key"] == "handling")
    handling["actions"][0]["data"]["agency"]["required_when"] = {"verdict": ["x"]}
    errors = errors_of(data)
    assert errors == {"steps.handling.actions.reply.data.agency.required_when": ["unknown field 'verdict'"]}


def test_a_definition_cannot_carry_code() -> None:
    data = repair()
    data["steps"][0]["actions"][0]["condition"] = "__import__('os').system('true')"
    assert "steps.acceptance.actions.accept" in errors_of(data)


def test_only_dispatch_leads_to_a_chosen_department() -> None:
    data = copy.deepcopy(builtin_definition_data("complaint"))
    intake = next(s for s in data["steps"] if s["key"] == "intake")
    intake["actions"].append({"action": "accept", "to": "handling"})
    assert errors_of(data) == {
        "steps.intake.actions.accept.to": ["only dispatch may lead to a step whose department is $chosen"]}
