"""A sweep of gain-calibrator structures: one YAML description -> one simulated tile per grid
point (a samplesheet, a simulation config per tile, and points.csv for the report's map).

Every grid point has the same observation and target sky (per seed); only the calibrator
differs: a primary at the field centre and ``n_secondaries`` secondaries, each
``flux_ratio`` x the primary's flux, ``separation_beams`` synthesized beams out, spread
evenly in position angle from ``position_angle_deg``. The synthesized beam is
lambda_c / B_max of the observation (centre frequency of the spws, longest baseline of
the array configuration). docs/sweep.md describes the format and the sizes.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from calmodel import CalmodelError
from calmodel.core.constants import C_LIGHT, RAD_TO_ARCSEC
from calmodel.core.io import write_csv, write_json, write_text
from calmodel.core.records import stage_record
from calmodel.core.sweep_points import SweepPoint, write_points
from calmodel.simulate.config import load_settings, load_yaml_mapping, merge_settings
from calmodel.simulate.stage import read_antenna_config


# Observation sizes of one grid point (simulation settings over defaults.yaml).
SIZES = {
    # ~1.5 core-minutes per grid point for the whole paired pipeline, QL and SE (measured:
    # docs/sweep.md): one target field, two spws of 3 channels, one calibration cycle.
    # 60 sources: enough matched components (>= 10 per fit) even where calibration fails.
    "small": {"fields": {"targets": {"count": 1}}, "sky": {"sources_per_field": 60},
              "observation": {"cycles": 1, "spw_centres_ghz": [2.5, 3.5], "channels_per_spw": 3}},
    # the tile of the built-in demo (-profile test)
    "demo": {"fields": {"targets": {"count": 1}}, "sky": {"sources_per_field": 40}},
    # simulate/presets/defaults.yaml as it is: two target fields, 4 spws x 4 channels
    "full": {},
}
GRID_AXES = {  # axis -> (type, default values)
    "flux_ratio": (float, [0.01, 0.03, 0.1, 0.3, 1.0]),
    "separation_beams": (float, [0.5, 1.0, 2.0, 4.0, 8.0]),
    "secondary_alpha": (float, [-0.7]),
    "n_secondaries": (int, [1]),
    "seeds": (int, [1]),
}
TOP_KEYS = {"description", "size", "grid", "primary", "position_angle_deg", "modes",
            "simulation"}
MAX_SEPARATION_BEAMS = 20.0  # build-model's calibrator image must hold the secondaries
MAX_POINTS = 2000
MODES = ("ql;se", "ql", "se")
BASE_PRESET = "point"  # each point's config then replaces the calibrator


@dataclass(frozen=True)
class SweepDescription:
    description: str
    size: str
    grid: dict                  # axis -> list of values
    primary_flux_jy: float
    primary_alpha: float
    position_angle_deg: float
    modes: str
    simulation: dict            # simulation settings over the size's, for every point


def _number_list(name: str, values, kind) -> list:
    values = values if isinstance(values, list) else [values]
    if not values:
        raise CalmodelError(f"sweep grid.{name}: give at least one value")
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CalmodelError(f"sweep grid.{name}: '{value}' is not a finite number")
        if kind is int and value != int(value):
            raise CalmodelError(f"sweep grid.{name}: '{value}' is not a whole number")
        out.append(kind(value))
    if len(set(out)) != len(out):
        raise CalmodelError(f"sweep grid.{name}: a value appears twice")
    return out


def _check_axis(name: str, values: list) -> None:
    bounds = {"flux_ratio": (0.0, 1.0, "in (0, 1]: a secondary is never brighter than the primary"),
              "separation_beams": (0.0, MAX_SEPARATION_BEAMS, f"in (0, {MAX_SEPARATION_BEAMS:g}]"),
              "secondary_alpha": (-5.0, 5.0, "in (-5, 5]"),
              "n_secondaries": (0, 8, "from 1 to 8"),
              "seeds": (-1, 2_147_483_647, "from 0 to 2147483647")}
    low, high, text = bounds[name]
    bad = [v for v in values if not low < v <= high]
    if bad:
        raise CalmodelError(f"sweep grid.{name}: {', '.join(f'{v:g}' for v in bad)} not {text}")


def read_sweep(path: Path) -> SweepDescription:
    """The sweep description in ``path``, checked: unknown keys and bad values are errors."""
    path = Path(path)
    if not path.is_file():
        raise CalmodelError(f"sweep description '{path}' does not exist")
    data = load_yaml_mapping(path.read_text(), str(path))
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise CalmodelError(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(TOP_KEYS))})")
    size = data.get("size", "small")
    if size not in SIZES:
        raise CalmodelError(f"{path}: size '{size}' is not one of {', '.join(SIZES)}")
    grid_in = data.get("grid") or {}
    if not isinstance(grid_in, dict):
        raise CalmodelError(f"{path}: grid must be a mapping of axis -> values")
    unknown = sorted(set(grid_in) - set(GRID_AXES))
    if unknown:
        raise CalmodelError(f"{path}: unknown grid axis {', '.join(unknown)} (known: {', '.join(GRID_AXES)})")
    grid = {}
    for name, (kind, default) in GRID_AXES.items():
        grid[name] = _number_list(name, grid_in.get(name, default), kind)
        _check_axis(name, grid[name])
    n_points = math.prod(len(v) for v in grid.values())
    if n_points > MAX_POINTS:
        raise CalmodelError(f"{path}: {n_points} grid points; at most {MAX_POINTS} in one sweep")
    primary = data.get("primary") or {}
    if not isinstance(primary, dict) or set(primary) - {"flux_jy", "alpha"}:
        raise CalmodelError(f"{path}: primary takes flux_jy and alpha")
    flux = _number_list("primary.flux_jy", primary.get("flux_jy", 1.0), float)[0]
    alpha = _number_list("primary.alpha", primary.get("alpha", -0.1), float)[0]
    if flux <= 0:
        raise CalmodelError(f"{path}: primary.flux_jy must be > 0")
    angle = _number_list("position_angle_deg", data.get("position_angle_deg", 45.0), float)[0]
    modes = str(data.get("modes", "ql;se"))
    if modes not in MODES:
        raise CalmodelError(f"{path}: modes '{modes}' is not one of {', '.join(MODES)}")
    simulation = data.get("simulation") or {}
    if not isinstance(simulation, dict) or "calibrator" in simulation or "base" in simulation:
        raise CalmodelError(f"{path}: simulation is a mapping of simulation settings (not calibrator "
                            "or base: the grid sets the calibrator)")
    return SweepDescription(str(data.get("description", "")), size, grid, flux, alpha, angle,
                            modes, simulation)


def point_settings(sweep: SweepDescription) -> dict:
    """The simulation settings every grid point shares (the calibrator aside), checked."""
    settings = merge_settings(load_settings(), SIZES[sweep.size])
    return merge_settings(settings, sweep.simulation, "simulation.")


def synthesized_beam_arcsec(settings: dict) -> float:
    """lambda_c / B_max: the centre of the spws and the longest baseline of the array."""
    xyz, _, _ = read_antenna_config(settings["observation"]["array_config"])
    longest = float(np.max(np.linalg.norm(xyz[:, None, :] - xyz[None, :, :], axis=-1)))
    centre_hz = float(np.mean(settings["observation"]["spw_centres_ghz"])) * 1e9
    return C_LIGHT / centre_hz / longest * RAD_TO_ARCSEC


def tile_name(flux_ratio: float, separation: float, alpha: float, n: int, seed: int) -> str:
    return f"r{flux_ratio:g}_sep{separation:g}_alpha{alpha:g}_n{n}_seed{seed}"


def calibrator_components(sweep: SweepDescription, flux_ratio: float, separation_arcsec: float,
                          alpha: float, n: int) -> list[dict]:
    components = [{"east_arcsec": 0.0, "north_arcsec": 0.0, "flux_jy": sweep.primary_flux_jy,
                   "alpha": sweep.primary_alpha}]
    for k in range(n):
        angle = math.radians(sweep.position_angle_deg + 360.0 * k / n)
        components.append({"east_arcsec": round(separation_arcsec * math.sin(angle), 4),
                           "north_arcsec": round(separation_arcsec * math.cos(angle), 4),
                           "flux_jy": round(sweep.primary_flux_jy * flux_ratio, 9), "alpha": alpha})
    return components


@dataclass
class SweepResult:
    samplesheet: Path
    points: Path
    record: Path
    n_points: int
    beam_arcsec: float


def expand_sweep(sweep_file: Path, out: Path) -> SweepResult:
    """Write ``out``/samplesheet.csv, configs/<tile>.yaml, points.csv and sweep.json."""
    started = time.monotonic()
    sweep = read_sweep(sweep_file)
    shared = point_settings(sweep)
    beam = synthesized_beam_arcsec(shared)
    out = Path(out)
    (out / "configs").mkdir(parents=True, exist_ok=True)
    rows, points = [], []
    grid = sweep.grid
    for ratio, sep, alpha, n, seed in itertools.product(
            grid["flux_ratio"], grid["separation_beams"], grid["secondary_alpha"],
            grid["n_secondaries"], grid["seeds"]):
        tile = tile_name(ratio, sep, alpha, n, seed)
        separation_arcsec = sep * beam
        settings = {**{k: v for k, v in shared.items() if k not in ("description", "preset")},
                    "description": f"sweep point: {n} secondary x {ratio:g} of the primary, "
                                   f"{sep:g} beams ({separation_arcsec:.2f} arcsec) out",
                    "calibrator": {**shared["calibrator"],
                                   "components": calibrator_components(sweep, ratio, separation_arcsec, alpha, n)}}
        config = write_text(out / "configs" / f"{tile}.yaml", yaml.safe_dump(settings, sort_keys=False))
        rows.append({"tile": tile, "preset": BASE_PRESET, "seed": seed, "config": f"configs/{config.name}",
                     "modes": sweep.modes, "build_model": "always"})
        points.append(SweepPoint(tile, ratio, sep, round(separation_arcsec, 4), alpha, n, seed))
    samplesheet = write_csv(out / "samplesheet.csv", rows, list(rows[0]))
    points_csv = write_points(out / "points.csv", points)
    parameters = {"sweep": str(sweep_file), "out": str(out)}
    results = {"description": sweep.description, "size": sweep.size, "grid": grid,
               "primary": {"flux_jy": sweep.primary_flux_jy, "alpha": sweep.primary_alpha},
               "position_angle_deg": sweep.position_angle_deg, "modes": sweep.modes,
               "synthesized_beam_arcsec": round(beam, 4),
               "beam_rule": "lambda_c / B_max (centre of the spws, longest baseline)",
               "n_points": len(points),
               "products": {"samplesheet": samplesheet.name, "points": points_csv.name}}
    record = write_json(out / "sweep.json", stage_record("sweep", parameters, results, started))
    return SweepResult(samplesheet, points_csv, record, len(points), beam)
