"""Small, dependency-free helpers for reading loosely shaped stage records."""

from __future__ import annotations

import math
from typing import Any


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
