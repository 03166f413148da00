"""Measuring calibration against the truth of a simulated tile (used by the tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calmodel.core.casa import casa_tools
from calmodel.core.primary_beam import RadialBeam
from calmodel.core.sky import Component, visibilities


def truth_calibrator(tile: Path) -> list[Component]:
    return [Component(**c) for c in json.loads((tile / "truth/calibrator.json").read_text())["components"]]


def field_rows(ms: Path, field: str, columns: list[str]) -> dict:
    tb = casa_tools().tools.table()
    tb.open(str(ms / "FIELD"))
    names = list(tb.getcol("NAME"))
    ra, dec = np.degrees(tb.getcol("PHASE_DIR")[:, 0, names.index(field)])
    tb.close()
    tb.open(str(ms))
    sub = tb.query(f"FIELD_ID=={names.index(field)}")
    cols = {c: sub.getcol(c) for c in columns}
    sub.close()
    tb.close()
    tb.open(str(ms / "SPECTRAL_WINDOW"))
    cols["chan_freq"] = tb.getcol("CHAN_FREQ").T
    tb.close()
    tb.open(str(ms / "DATA_DESCRIPTION"))
    cols["ddid_spw"] = tb.getcol("SPECTRAL_WINDOW_ID")
    tb.close()
    cols["centre"] = (ra % 360.0, dec)
    return cols


def tile_beam(tile: Path) -> RadialBeam | None:
    """The primary beam a simulated tile's targets were attenuated with (truth/)."""
    path = Path(tile) / "truth" / "primary_beam.json"
    return RadialBeam.from_record(json.loads(path.read_text())) if path.is_file() else None


def model_visibilities(cols: dict, components: list[Component], pb: RadialBeam | None = None) -> np.ndarray:
    model = np.zeros(cols["DATA"].shape[1:], dtype=complex)
    spw = cols["ddid_spw"][cols["DATA_DESC_ID"]]
    for s in np.unique(spw):
        rows = spw == s
        model[:, rows] = visibilities(components, cols["UVW"][:, rows], cols["chan_freq"][s], *cols["centre"], pb)
    return model


@dataclass
class ResidualGains:
    """Per-antenna J_true / J_recovered, referenced to the reference antenna."""

    phase_deg: np.ndarray  # (n_solutions, nant)
    amp: np.ndarray

    @property
    def phase_rms_deg(self) -> float:
        return float(np.sqrt(np.nanmean(self.phase_deg**2)))

    @property
    def amp_rms(self) -> float:
        return float(np.sqrt(np.nanmean((self.amp - 1.0) ** 2)))


def residual_gains(ms: Path, field: str, components: list[Component], refant: int = 0) -> ResidualGains:
    """Solve, per integration, spw and polarisation, for antenna-based factors e_a with
    V_calibrated / V_true = e_a conj(e_b): the injected gain over the recovered one."""
    cols = field_rows(ms, field, ["DATA", "FLAG", "UVW", "DATA_DESC_ID", "TIME", "ANTENNA1", "ANTENNA2"])
    model = model_visibilities(cols, components)
    nant = int(max(cols["ANTENNA1"].max(), cols["ANTENNA2"].max())) + 1
    phases, amps = [], []
    for t in np.unique(cols["TIME"]):
        for ddid in np.unique(cols["DATA_DESC_ID"]):
            rows = np.flatnonzero((cols["TIME"] == t) & (cols["DATA_DESC_ID"] == ddid))
            for pol in range(cols["DATA"].shape[0]):
                ok = ~cols["FLAG"][pol][:, rows]
                n_ok = ok.sum(axis=0)
                ratio = np.where(ok, cols["DATA"][pol][:, rows] / model[:, rows], 0.0)
                r = np.where(n_ok > 0, ratio.sum(axis=0) / np.maximum(n_ok, 1), np.nan)
                good = np.isfinite(r)
                if good.sum() < nant:
                    continue
                a1, a2 = cols["ANTENNA1"][rows][good], cols["ANTENNA2"][rows][good]
                design = np.zeros((good.sum(), nant))
                design[np.arange(good.sum()), a1] = 1.0
                design[np.arange(good.sum()), a2] = 1.0
                log_amp = np.linalg.lstsq(design, np.log(np.abs(r[good])), rcond=None)[0]
                design[np.arange(good.sum()), a2] = -1.0
                keep = np.arange(nant) != refant
                phase = np.zeros(nant)
                phase[keep] = np.linalg.lstsq(design[:, keep], np.angle(r[good]), rcond=None)[0]
                present = np.isin(np.arange(nant), np.union1d(a1, a2))
                phases.append(np.where(present, np.degrees(phase), np.nan))
                amps.append(np.where(present, np.exp(log_amp), np.nan))
    return ResidualGains(np.array(phases), np.array(amps))
