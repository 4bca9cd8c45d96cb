"""Process definitions: upload (validated), list and compare versions, activate, migrate running requests."""

from __future__ import annotations

from typing import Any

from service.accounts.roles import roles_for
from service.core.api import Blueprint
from service.core.auth import current_actor, staff_required
from service.engine.schema import PROCESS_DEFINITION_SCHEMA
from service.processes import operations, queries
from service.processes.schemas import (
    CompareArgs,
    ComparisonSchema,
    MigrationPlanSchema,
    MigrationSchema,
    ProcessListSchema,
    ProcessUploadSchema,
    ProcessVersionDetailSchema,
    ProcessVersionListSchema,
    ProcessVersionSchema,
)

PREFIX = "/processes"
blp = Blueprint("console_processes", __name__, description="Process definitions and their versions.")


@blp.route("/schema", methods=["GET"])
@staff_required()
@blp.response(200)
def definition_schema() -> Any:
    """The JSON Schema every process definition follows."""
    return PROCESS_DEFINITION_SCHEMA


@blp.route("", methods=["GET"])
@staff_required()
@blp.response(200, ProcessListSchema)
def list_processes() -> Any:
    return {"items": queries.processes()}


@blp.route("", methods=["POST"])
@staff_required(*roles_for("processes.manage"))
@blp.arguments(ProcessUploadSchema)
@blp.response(201, ProcessVersionDetailSchema)
@blp.problem(422, "The definition is invalid; `errors` names each offending step or action.")
def upload_process(body: dict[str, Any]) -> Any:
    """Store a definition as the next version of its process (and activate it, if asked)."""
    return operations.upload(current_actor(), body["definition"], activate=body["activate"]), 201


@blp.route("/<code>/versions", methods=["GET"])
@staff_required()
@blp.response(200, ProcessVersionListSchema)
def list_versions(code: str) -> Any:
    return {"items": queries.versions_of(code)}


@blp.route("/<code>/versions/<int:version>", methods=["GET"])
@staff_required()
@blp.response(200, ProcessVersionDetailSchema)
def get_version(code: str, version: int) -> Any:
    return queries.get_version(code, version)


@blp.route("/<code>/versions/<int:version>/activate", methods=["POST"])
@staff_required(*roles_for("processes.manage"))
@blp.response(200, ProcessVersionSchema)
def activate_version(code: str, version: int) -> Any:
    """New requests start on this version; running ones finish on the version they started on."""
    return operations.activate_version(current_actor(), code, version)


@blp.route("/<code>/compare", methods=["GET"])
@staff_required()
@blp.arguments(CompareArgs, location="query")
@blp.response(200, ComparisonSchema)
def compare_versions(args: dict[str, Any], code: str) -> Any:
    return operations.compare(code, args["from_version"], args["to_version"])


@blp.route("/<code>/migrations", methods=["POST"])
@staff_required(*roles_for("processes.manage"))
@blp.arguments(MigrationSchema)
@blp.response(200, MigrationPlanSchema)
def migrate(body: dict[str, Any], code: str) -> Any:
    """Move running requests to another version where their step still exists (``dry_run`` only reports)."""
    return operations.migrate_requests(current_actor(), code, body["from_version"], body["to_version"],
                                       dry_run=body["dry_run"])
