"""The built-in process definitions, as data files loaded by ``civicdesk demo load``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
BUILTIN_CODES = ("disclosure", "complaint", "repair", "permit", "consultation")


def builtin_definition_data(code: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((HERE / f"{code}.yaml").read_text(encoding="utf-8"))
    return data
