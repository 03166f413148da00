"""The grid points of a calibrator-structure sweep, as one CSV (points.csv).

`calmodel sweep` (simulate.sweep) writes it beside the samplesheet it expands; the report
reads it to place each tile on the map. The columns are declared here, once.
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from calmodel import CalmodelError
from calmodel.core.io import write_csv


@dataclass(frozen=True)
class SweepPoint:
    tile: str
    flux_ratio: float          # each secondary's flux / the primary's
    separation_beams: float    # secondary - primary, in synthesized beams (lambda_c / B_max)
    separation_arcsec: float
    secondary_alpha: float
    n_secondaries: int
    seed: int


COLUMNS = tuple(f.name for f in fields(SweepPoint))
_TYPES = {f.name: f.type for f in fields(SweepPoint)}


def write_points(path: Path, points: list[SweepPoint]) -> Path:
    return write_csv(path, [asdict(p) for p in points], list(COLUMNS))


def _value(name: str, text: str, where: str):
    kind = _TYPES[name]
    try:
        if kind == "str":
            return text
        value = int(text) if kind == "int" else float(text)
    except (TypeError, ValueError) as err:
        raise CalmodelError(f"{where}: {name} '{text}' is not a number") from err
    if not math.isfinite(value):
        raise CalmodelError(f"{where}: {name} '{text}' is not finite")
    return value


def read_points(path: Path) -> list[SweepPoint]:
    path = Path(path)
    if not path.is_file():
        raise CalmodelError(f"sweep points file '{path}' does not exist")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CalmodelError(f"{path}: missing column(s) {', '.join(missing)} (expected {', '.join(COLUMNS)})")
        points = [SweepPoint(**{c: _value(c, row[c], f"{path} line {i + 2}") for c in COLUMNS})
                  for i, row in enumerate(reader)]
    tiles = [p.tile for p in points]
    if len(set(tiles)) != len(tiles):
        raise CalmodelError(f"{path}: a tile appears more than once")
    return points
