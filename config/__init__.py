"""Settings per environment; every value can be overridden by a ``CIVICDESK_<NAME>`` variable."""

from __future__ import annotations

import importlib
import json
import os
from typing import Any

ENVIRONMENTS = ("development", "testing", "production")


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, (list, dict)):
        return json.loads(raw)
    return raw


def load(environment: str | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the settings of ``environment`` (default ``CIVICDESK_ENV`` or development).

    Order of precedence: ``overrides`` > ``CIVICDESK_*`` environment variables > the environment's module >
    ``config.default``.
    """
    env = environment or os.environ.get("CIVICDESK_ENV", "development")
    if env not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {env!r}; expected one of {', '.join(ENVIRONMENTS)}")
    settings: dict[str, Any] = {}
    for module_name in ("config.default", f"config.{env}"):
        module = importlib.import_module(module_name)
        settings.update({k: v for k, v in vars(module).items() if k.isupper()})
    for key, default in list(settings.items()):
        raw = os.environ.get(f"CIVICDESK_{key}")
        if raw is not None:
            settings[key] = _coerce(raw, default)
    settings["ENV"] = env
    if overrides:
        settings.update(overrides)
    return settings
