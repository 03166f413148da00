"""Options of the simulate stage (the tile itself is described by a preset or YAML config:
simulate/presets/defaults.yaml holds those defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from calmodel.core.options import bounded


@dataclass(frozen=True)
class SimulateOptions:
    preset: str | None = None  # a built-in preset (simulate/presets/<name>.yaml)
    config: Path | None = None  # YAML settings overriding the defaults
    seed: int = bounded(1, low=0)  # seed for sky, gains and noise
    overwrite: bool = False  # replace an existing tile.ms
