"""Process definitions (流程定义): data describing steps, who acts, where each action leads and the time limits.

``load_definition(data)`` validates a definition (structure by the JSON Schema, then meaning: references,
reachability, ways out, outcomes) and returns an immutable :class:`ProcessDefinition`. A definition never
contains code; the only conditions are data (``required_when``) that the engine evaluates.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from service.engine.errors import DefinitionInvalid
from service.engine.schema import PROCESS_DEFINITION_SCHEMA

RETURN, PREVIOUS, SAME = "$return", "$previous", "$same"
CHOSEN = "$chosen"
SPECIAL_TARGETS = (RETURN, PREVIOUS, SAME)

# Actions whose effect the engine knows; any other action name simply moves the request to its ``to`` step.
STANDARD_ACTIONS = ("accept", "request_materials", "supplement", "transfer", "dispatch", "send_back", "countersign",
                    "add_signer", "remove_signer", "approve", "reject", "complete", "extend", "reply", "reopen",
                    "withdraw", "supervise", "claim", "release")
# Data every use of a standard action needs, whatever the definition adds.
IMPLIED_FIELDS: dict[str, dict[str, dict[str, Any]]] = {
    "transfer": {"department": {"type": "string", "required": True}},
    "dispatch": {"department": {"type": "string", "required": True}},
    "request_materials": {"items": {"type": "list", "required": True}},
    "countersign": {"decision": {"type": "string", "required": True, "enum": ["agree", "disagree"]}},
    "add_signer": {"department": {"type": "string", "required": True}},
    "remove_signer": {"department": {"type": "string", "required": True}},
    "extend": {"days": {"type": "integer", "required": True, "minimum": 1}},
    "supplement": {"materials": {"type": "object"}, "answers": {"type": "object"}},
}
COMMENT_REQUIRED = ("reject", "send_back", "extend", "transfer")


@dataclass(frozen=True)
class DataField:
    name: str
    type: str = "string"
    required: bool = False
    enum: tuple[Any, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    required_when: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    label: str | None = None


@dataclass(frozen=True)
class ActionSpec:
    action: str
    to: str
    by: str = "assignee"
    label: str | None = None
    comment_required: bool = False
    public: bool = True
    departments: tuple[str, ...] | None = None
    fields: tuple[DataField, ...] = ()


@dataclass(frozen=True)
class Assignee:
    department: str
    role: str = "handler"


@dataclass(frozen=True)
class CountersignSpec:
    departments: tuple[str, ...]
    on_approved: str
    on_rejected: str
    rule: str = "unanimous"


@dataclass(frozen=True)
class StepSpec:
    key: str
    kind: str
    name: str
    public_name: str
    assignee: Assignee | None = None
    time_limit_working_days: int | None = None
    clock: str = "runs"
    clock_starts: str = "arrival"
    outcome: str | None = None
    countersign: CountersignSpec | None = None
    actions: tuple[ActionSpec, ...] = ()

    @property
    def terminal(self) -> bool:
        return self.kind == "terminal"

    def action(self, name: str) -> ActionSpec | None:
        return next((a for a in self.actions if a.action == name), None)


@dataclass(frozen=True)
class ClockRules:
    supplement: str = "pause"
    extension_max_days: int = 0
    supplement_request_within_days: int | None = None


@dataclass(frozen=True)
class ProcessDefinition:
    code: str
    name: str
    time_limit_working_days: int
    initial_step: str
    steps: Mapping[str, StepSpec]
    clock: ClockRules = ClockRules()
    description: str = ""

    def step(self, key: str) -> StepSpec:
        return self.steps[key]

    def status_of(self, step_key: str, *, touched: bool) -> str:
        """The request ``status`` while it stands on ``step_key`` (``touched``: staff acted at least once)."""
        step = self.steps[step_key]
        if step.terminal:
            return step.outcome or "completed"
        if step.kind == "resident":
            return "awaiting_supplement"
        if step_key == self.initial_step and not touched:
            return "submitted"
        return "in_progress"


def _fields(spec: Mapping[str, Any]) -> tuple[DataField, ...]:
    merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in IMPLIED_FIELDS.get(spec["action"], {}).items()}
    for name, options in (spec.get("data") or {}).items():
        merged[name] = {**merged.get(name, {}), **options}
    return tuple(
        DataField(
            name=name,
            type=o.get("type", "string"),
            required=bool(o.get("required", False)),
            enum=tuple(o["enum"]) if "enum" in o else None,
            minimum=o.get("minimum"),
            maximum=o.get("maximum"),
            max_length=o.get("max_length"),
            required_when={k: tuple(v) for k, v in (o.get("required_when") or {}).items()},
            label=o.get("label"),
        )
        for name, o in merged.items()
    )


def _action(spec: Mapping[str, Any], step_kind: str) -> ActionSpec:
    name = spec["action"]
    default_by = "resident" if name in ("supplement", "withdraw") else "signer" if name == "countersign" else (
        "supervisor" if name in ("add_signer", "remove_signer", "supervise") else "assignee")
    if step_kind == "resident" and name != "supplement" and "by" not in spec:
        default_by = "resident"
    return ActionSpec(
        action=name,
        to=spec["to"],
        by=spec.get("by", default_by),
        label=spec.get("label"),
        comment_required=bool(spec.get("comment_required", name in COMMENT_REQUIRED)),
        public=bool(spec.get("public", name not in ("add_signer", "remove_signer", "supervise"))),
        departments=tuple(spec["departments"]) if "departments" in spec else None,
        fields=_fields(spec),
    )


def _step(spec: Mapping[str, Any]) -> StepSpec:
    countersign = spec.get("countersign")
    assignee = spec.get("assignee")
    return StepSpec(
        key=spec["key"],
        kind=spec["kind"],
        name=spec.get("name", spec["key"]),
        public_name=spec.get("public_name", spec.get("name", spec["key"])),
        assignee=Assignee(assignee["department"], assignee.get("role", "handler")) if assignee else None,
        time_limit_working_days=spec.get("time_limit_working_days"),
        clock=spec.get("clock", "paused" if spec["kind"] == "resident" else "runs"),
        clock_starts=spec.get("clock_starts", "arrival"),
        outcome=spec.get("outcome"),
        countersign=CountersignSpec(
            departments=tuple(countersign["departments"]),
            on_approved=countersign["on_approved"],
            on_rejected=countersign["on_rejected"],
            rule=countersign.get("rule", "unanimous"),
        ) if countersign else None,
        actions=tuple(_action(a, spec["kind"]) for a in spec.get("actions", [])),
    )


def _structure_errors(data: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in Draft202012Validator(PROCESS_DEFINITION_SCHEMA).iter_errors(data):
        where = _readable_path(data, list(error.absolute_path)) or "definition"
        errors.setdefault(where, []).append(error.message)
    return errors


def _readable_path(data: Any, path: list[Any]) -> str:
    """``steps.review.actions.approve.to`` rather than ``steps.3.actions.1.to``."""
    parts: list[str] = []
    node = data
    for item in path:
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            node = node[item]
            label = node.get("key") or node.get("action") if isinstance(node, dict) else None
            parts.append(str(label) if isinstance(label, str) else str(item))
        else:
            node = node.get(item) if isinstance(node, dict) else None
            parts.append(str(item))
    return ".".join(parts)


def _targets(step: StepSpec) -> set[str]:
    targets = {a.to for a in step.actions if a.to not in SPECIAL_TARGETS}
    if step.countersign:
        targets |= {step.countersign.on_approved, step.countersign.on_rejected}
    return targets


def _semantic_errors(data: Mapping[str, Any], known_departments: Collection[str] | None
                     ) -> tuple[dict[str, list[str]], dict[str, StepSpec]]:
    errors: dict[str, list[str]] = {}

    def add(where: str, message: str) -> None:
        errors.setdefault(where, []).append(message)

    steps: dict[str, StepSpec] = {}
    for raw in data["steps"]:
        if raw["key"] in steps:
            add(f"steps.{raw['key']}", "duplicate step key")
            continue
        seen_actions: set[str] = set()
        for action in raw.get("actions", []):
            if action["action"] in seen_actions:
                add(f"steps.{raw['key']}.actions.{action['action']}", "duplicate action in this step")
            seen_actions.add(action["action"])
        steps[raw["key"]] = _step(raw)

    initial = data["initial_step"]
    if initial not in steps:
        add("initial_step", f"unknown step {initial!r}")
    elif steps[initial].terminal:
        add("initial_step", "the initial step cannot be terminal")

    for key, step in steps.items():
        where = f"steps.{key}"
        if step.terminal:
            if not step.outcome:
                add(where, "a terminal step needs an outcome")
            for action in step.actions:
                if action.action != "reopen":
                    add(f"{where}.actions.{action.action}", "a terminal step only allows reopen")
        elif step.outcome:
            add(f"{where}.outcome", "only terminal steps have an outcome")
        if step.kind == "task" and step.assignee is None:
            add(f"{where}.assignee", "a task step needs an assignee department")
        if step.kind == "countersign" and step.countersign is None:
            add(f"{where}.countersign", "a countersign step needs its departments and outcomes")
        if step.countersign and step.kind != "countersign":
            add(f"{where}.countersign", "only countersign steps have a countersign block")
        if step.kind == "resident" and not any(a.by == "resident" for a in step.actions):
            add(where, "a resident step needs an action the resident can take (supplement)")
        departments: list[tuple[str, str]] = []
        if step.assignee and step.assignee.department != CHOSEN:
            departments.append((f"{where}.assignee.department", step.assignee.department))
        if step.countersign:
            departments += [(f"{where}.countersign.departments", d) for d in step.countersign.departments
                            if d != CHOSEN]
        for action in step.actions:
            aw = f"{where}.actions.{action.action}"
            departments += [(f"{aw}.departments", d) for d in action.departments or ()]
            if action.to not in SPECIAL_TARGETS and action.to not in steps:
                add(f"{aw}.to", f"unknown step {action.to!r}")
            if action.to == RETURN and step.kind != "resident":
                add(f"{aw}.to", "$return is only for actions of a resident step")
            target_step = steps.get(action.to)
            if (target_step is not None and target_step.assignee is not None
                    and target_step.assignee.department == CHOSEN and action.action != "dispatch"):
                add(f"{aw}.to", "only dispatch may lead to a step whose department is $chosen")
            if action.action == "request_materials" and action.to in steps and steps[action.to].kind != "resident":
                add(f"{aw}.to", "request_materials must lead to a resident step")
            if action.action == "reopen" and not step.terminal:
                add(aw, "reopen is only for terminal steps")
            if action.action == "countersign" and step.kind != "countersign":
                add(aw, "countersign is only for countersign steps")
            names = {f.name for f in action.fields}
            for f in action.fields:
                for other in f.required_when:
                    if other not in names:
                        add(f"{aw}.data.{f.name}.required_when", f"unknown field {other!r}")
        if step.countersign:
            for target in (step.countersign.on_approved, step.countersign.on_rejected):
                if target not in steps:
                    add(f"{where}.countersign", f"unknown step {target!r}")
        if known_departments is not None:
            for place, code in departments:
                if code not in known_departments:
                    add(place, f"unknown department {code!r}")

    if errors or initial not in steps:
        return errors, steps

    reachable = {initial}
    queue = deque([initial])
    while queue:
        for target in _targets(steps[queue.popleft()]):
            if target in steps and target not in reachable:
                reachable.add(target)
                queue.append(target)
    for key in steps:
        if key not in reachable:
            add(f"steps.{key}", "unreachable from the initial step")

    # Every step must have a way to some terminal step: walk the transitions backwards from the terminals.
    # A resident step's $return leads back to whichever step asked, so it counts as a way out.
    leads_out = {key for key, step in steps.items() if step.terminal}
    changed = True
    while changed:
        changed = False
        for key, step in steps.items():
            if key in leads_out:
                continue
            if _targets(step) & leads_out or (step.kind == "resident" and any(a.to == RETURN for a in step.actions)):
                leads_out.add(key)
                changed = True
    for key in steps:
        if key not in leads_out:
            add(f"steps.{key}", "no way out: no terminal step can be reached from here")
    return errors, steps


def load_definition(data: Any, known_departments: Collection[str] | None = None) -> ProcessDefinition:
    """Validate ``data`` and return the definition, or raise :class:`DefinitionInvalid` naming every problem."""
    errors = _structure_errors(data)
    if errors:
        raise DefinitionInvalid(errors)
    semantic, steps = _semantic_errors(data, known_departments)
    if semantic:
        raise DefinitionInvalid(semantic)
    clock = data.get("clock", {})
    return ProcessDefinition(
        code=data["code"],
        name=data["name"],
        description=data.get("description", ""),
        time_limit_working_days=data["time_limit_working_days"],
        initial_step=data["initial_step"],
        steps=steps,
        clock=ClockRules(
            supplement=clock.get("supplement", "pause"),
            extension_max_days=clock.get("extension_max_days", 0),
            supplement_request_within_days=clock.get("supplement_request_within_days"),
        ),
    )


def referenced_departments(definition: ProcessDefinition) -> set[str]:
    codes: set[str] = set()
    for step in definition.steps.values():
        if step.assignee and step.assignee.department != CHOSEN:
            codes.add(step.assignee.department)
        if step.countersign:
            codes |= {d for d in step.countersign.departments if d != CHOSEN}
        for action in step.actions:
            codes |= set(action.departments or ())
    return codes
