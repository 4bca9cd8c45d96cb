"""The published JSON Schema of a process definition (also in ``docs/process-definition.schema.json``)."""

from __future__ import annotations

from typing import Any

STEP_KINDS = ["task", "countersign", "resident", "terminal"]
OUTCOMES = ["completed", "rejected", "withdrawn"]
ACTORS = ["assignee", "supervisor", "resident", "signer"]
IDENTIFIER = "^[a-z][a-z0-9_]{0,63}$"
TARGET = "^(\\$return|\\$previous|\\$same|[a-z][a-z0-9_]{0,63})$"

_field: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "type": {"enum": ["string", "integer", "boolean", "list", "object"], "default": "string"},
        "required": {"type": "boolean", "default": False},
        "enum": {"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 1},
        "minimum": {"type": "integer"},
        "maximum": {"type": "integer"},
        "max_length": {"type": "integer", "minimum": 1},
        "required_when": {
            "type": "object",
            "description": "Required when each named field has one of the given values.",
            "additionalProperties": {"type": "array", "items": {"type": ["string", "integer", "boolean"]}},
        },
        "label": {"type": "string"},
    },
}

_action: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["action", "to"],
    "properties": {
        "action": {"type": "string", "pattern": IDENTIFIER},
        "to": {"type": "string", "pattern": TARGET,
               "description": "The next step, or $same (stay), $previous (send back), $return (after a supplement)."},
        "by": {"enum": ACTORS, "default": "assignee"},
        "label": {"type": "string"},
        "comment_required": {"type": "boolean", "default": False},
        "public": {"type": "boolean", "default": True,
                   "description": "Shown on the resident's timeline."},
        "departments": {"type": "array", "items": {"type": "string"},
                        "description": "transfer/dispatch: the departments that may be chosen (default: any)."},
        "data": {"type": "object", "additionalProperties": _field},
    },
}

PROCESS_DEFINITION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "civicdesk:process-definition:1",
    "title": "civicdesk process definition",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema_version", "code", "name", "time_limit_working_days", "initial_step", "steps"],
    "properties": {
        "schema_version": {"const": 1},
        "code": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{1,63}$"},
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "time_limit_working_days": {"type": "integer", "minimum": 1, "maximum": 365},
        "clock": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "supplement": {"enum": ["pause", "restart"], "default": "pause",
                               "description": "While waiting for a supplement the clock pauses, or it restarts "
                                              "in full from the day the supplement arrives."},
                "extension_max_days": {"type": "integer", "minimum": 0, "default": 0},
                "supplement_request_within_days": {
                    "type": "integer", "minimum": 1,
                    "description": "Materials may be requested only within this many working days of receipt."},
            },
        },
        "initial_step": {"type": "string", "pattern": IDENTIFIER},
        "steps": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "kind"],
                "properties": {
                    "key": {"type": "string", "pattern": IDENTIFIER},
                    "kind": {"enum": STEP_KINDS},
                    "name": {"type": "string"},
                    "public_name": {"type": "string", "description": "The step in words the resident understands."},
                    "assignee": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["department"],
                        "properties": {
                            "department": {"type": "string",
                                           "description": "A department code, or $chosen: the one the entering "
                                                          "action named in data.department."},
                            "role": {"type": "string", "default": "handler"},
                        },
                    },
                    "time_limit_working_days": {"type": "integer", "minimum": 1},
                    "clock": {"enum": ["runs", "paused", "excluded"], "default": "runs",
                              "description": "excluded: time in this step does not count (third-party opinion)."},
                    "clock_starts": {"enum": ["arrival", "claim"], "default": "arrival"},
                    "outcome": {"enum": OUTCOMES},
                    "countersign": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["departments", "on_approved", "on_rejected"],
                        "properties": {
                            "departments": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                            "rule": {"enum": ["unanimous", "majority"], "default": "unanimous"},
                            "on_approved": {"type": "string", "pattern": IDENTIFIER},
                            "on_rejected": {"type": "string", "pattern": IDENTIFIER},
                        },
                    },
                    "actions": {"type": "array", "items": _action},
                },
            },
        },
    },
}
