"""Settings of the calibrate stage: the only place its defaults live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from calmodel.core.options import bounded


@dataclass(frozen=True)
class CalibrateSettings:
    model: Path | None = None
    flux_scale: str = "bootstrap"  # bootstrap | model
    flux_field: str | None = None  # default: core.roles (intents)
    gain_field: str | None = None  # default: core.roles (intents)
    targets: tuple[str, ...] = ()  # default: core.roles (intents, else all others)
    refant: str | None = None  # default: core.ms.reference_antenna
    uvrange: str = ""  # for solves on the gain calibrator (e.g. from characterize)
    quack_s: float | None = bounded(None, low=0)  # default: half an integration, which flags the first dump
    short_solint: str = "int"
    long_solint: str = "inf"
    minsnr: float = bounded(3.0, low=0)
    statwt: bool = True  # re-derive weights from the scatter (VLA pipeline); off for simulated tiles
