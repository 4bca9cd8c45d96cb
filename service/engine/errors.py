"""What the engine refuses, and why; the persistence layer turns these into HTTP problems."""

from __future__ import annotations

from collections.abc import Sequence


class EngineError(Exception):
    pass


class IllegalAction(EngineError):
    """The action is not possible in the request's current step (HTTP 409)."""

    def __init__(self, message: str, allowed: Sequence[str]) -> None:
        super().__init__(message)
        self.allowed = list(allowed)


class ActorNotAllowed(EngineError):
    """The actor may not act on the request at all, or not with this action (HTTP 403)."""


class InvalidActionData(EngineError):
    """The action's comment or data do not satisfy the definition (HTTP 422)."""

    def __init__(self, message: str, errors: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.errors = errors


class DefinitionInvalid(EngineError):
    """A process definition failed validation; ``errors`` names each offending place (HTTP 422)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors
