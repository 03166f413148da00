"""Small, dependency-free helpers for reading loosely shaped stage records."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from calmodel import CalmodelError


def get_in(data: Any, *keys, default=None):
    """``data[k1][k2]...``, or ``default`` when a level is missing, not a dict, or null."""
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return default if data is None else data


def number(value) -> float | None:
    """A finite float, or None (records write undefined numbers as null; bools are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def read_json_object(path: Path) -> dict:
    """A JSON object from ``path``; a one-line CalmodelError otherwise."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise CalmodelError(f"{path}: not valid JSON ({err})") from None
    except OSError as err:
        raise CalmodelError(f"{path}: cannot read ({err.strerror})") from None
    if not isinstance(data, dict):
        raise CalmodelError(f"{path}: expected a JSON object")
    return data
