"""Stage `characterize`: is a gain calibrator a point source? (VLASS Memo 19, Section 2)

For each gain calibrator: a quick self-calibration on a private split copy, then the
calibrated amplitudes of the parallel hands, normalised per spectral window and
correlation, binned in uv-distance (klambda), and the memo's rule applied to the
binned medians. The statistic and the decision are documented in docs/characterize.md.
"""


from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field as dc_field
from pathlib import Path

import numpy as np

from calmodel import CalmodelError
from calmodel.characterize.curve import (BinnedCurve, bin_edges, binned_curve, decide,
                                         max_abs_deviation)
from calmodel.characterize.plot import plot_curve
from calmodel.characterize.settings import CharacterizeSettings
from calmodel.core.casa import casa_log_to, casa_tools, run_task
from calmodel.core.constants import C_LIGHT
from calmodel.core.io import write_json
from calmodel.core.ms import check_input, field_names, open_input, reference_antenna, spw_info
from calmodel.core.naming import amp_uvdist_plot
from calmodel.core.precal import CalibratorModel, precalibrate
from calmodel.core.records import stage_record
from calmodel.core.roles import FieldRoles, field_roles
from calmodel.core.uvband import band_scale_for

PARALLEL_HANDS = {5: "RR", 8: "LL", 9: "XX", 12: "YY"}  # casacore Stokes enum
CHUNK_ROWS = 50_000


@dataclass
class CalibratorResult:
    field: str
    decision: str
    suggested_uvrange: str | None
    suggested_uvrange_klambda: list[float | None] | None
    coverage: dict
    max_abs_dev_in_band: float | None
    max_abs_dev_outside_band: float | None
    n_vis: int  # samples the statistic used
    n_vis_read: int  # unflagged samples read (more when subsampled)
    kept_fraction: float  # of the unflagged samples: 1, or max_samples / unflagged
    normalisation: list[dict]
    curve: BinnedCurve
    plot: str


@dataclass
class Amplitudes:
    """One calibrator's samples: ``group`` indexes ``groups``, (spw, correlation) pairs."""
    amp: np.ndarray
    uvd_klambda: np.ndarray
    group: np.ndarray
    groups: list
    n_read: int  # unflagged samples read
    kept_fraction: float  # 1, or the subsample's fraction beyond max_samples


@dataclass
class CharacterizeResult:
    out: Path
    record: Path
    band_klambda: tuple[float, float]
    bandpass_field: str | None
    refant: str
    calibrators: list[CalibratorResult] = dc_field(default_factory=list)

    @property
    def decisions(self) -> dict[str, str]:
        return {c.field: c.decision for c in self.calibrators}


# ---------------------------------------------------------------- selection

def select_fields(ms: Path, field: str | None,
                  bandpass_field: str | None) -> tuple[list[str], str | None, FieldRoles]:
    """(gain calibrators, flux/bandpass calibrator or None, all roles) from --field or the
    rule of calmodel.core.roles."""
    roles = field_roles(ms, bandpass=bandpass_field, gain=[field] if field is not None else None)
    gaincals, bandpass_field = roles.gain_calibrators, roles.bandpass_calibrator
    if not gaincals:
        if not roles.has_intents:
            raise CalmodelError(f"{ms} has no scan intents: name the gain calibrator with --field "
                                f"(fields: {', '.join(roles.fields)})")
        raise CalmodelError(f"no gain calibrator (CALIBRATE_PHASE/AMPLI intent, not the "
                            f"flux/bandpass calibrator) in {ms}: use --field")
    if bandpass_field in gaincals:  # never bandpass a calibrator on itself
        bandpass_field = None
    return gaincals, bandpass_field, roles


# ---------------------------------------------------------------- calibration

def quick_selfcal(ms: Path, work: Path, gaincals: list[str], bandpass_field: str | None,
                  refant: str) -> None:
    """Unit point-source model on every calibrator, optional bandpass on the flux/bandpass
    calibrator, then a per-scan phase-only gaincal on each gain calibrator and applycal,
    all on ``ms`` (a copy): calmodel.core.precal."""
    models = [CalibratorModel(name) for name in gaincals + ([bandpass_field] if bandpass_field else [])]
    precalibrate(ms, work, models, bandpass_field, gaincals, refant)


# ---------------------------------------------------------------- reading

def read_amplitudes(ms: Path, fieldname: str, column: str = "CORRECTED_DATA",
                    max_samples: int | None = None) -> Amplitudes:
    """Unflagged parallel-hand amplitudes of ``fieldname`` (cross-correlations only), read
    in row chunks; uv-distance uses each channel's own frequency. Beyond ``max_samples``
    a uniform random subsample (seed 0) of each chunk is kept, so memory is bounded."""
    tools = casa_tools().tools
    fid = field_names(ms).index(fieldname)
    spws = {s.spw: s for s in spw_info(ms)}
    tb = tools.table()
    tb.open(str(ms / "DATA_DESCRIPTION"))
    dd_spw, dd_pol = tb.getcol("SPECTRAL_WINDOW_ID"), tb.getcol("POLARIZATION_ID")
    tb.close()
    tb.open(str(ms / "POLARIZATION"))
    corr_types = [tb.getcell("CORR_TYPE", i) for i in range(tb.nrows())]
    tb.close()
    amps, uvds, grp, groups = [], [], [], []
    rng = np.random.default_rng(0)
    selections = []
    tb.open(str(ms))
    try:
        for ddid in range(len(dd_spw)):
            spw, ctypes = int(dd_spw[ddid]), list(corr_types[dd_pol[ddid]])
            hands = [i for i, c in enumerate(ctypes) if c in PARALLEL_HANDS]
            sub = tb.query(f"FIELD_ID=={fid} && DATA_DESC_ID=={ddid} && ANTENNA1!=ANTENNA2 "
                           f"&& !FLAG_ROW", columns=f"UVW,FLAG,{column}")
            selections.append((spw, ctypes, hands, sub))
        # The kept fraction is fixed before the data are read: unflagged samples counted from
        # FLAG alone (1 byte a sample against 8 for the data).
        total = sum(int((~sub.getcol("FLAG", startrow=start, nrow=CHUNK_ROWS)[hands]).sum())
                    for _, _, hands, sub in selections for start in range(0, sub.nrows(), CHUNK_ROWS))
        keep = 1.0 if not max_samples or total <= max_samples else max_samples / total
        read = 0
        for spw, ctypes, hands, sub in selections:
            freq_kl = spws[spw].chan_freqs_hz / C_LIGHT / 1e3  # klambda per metre
            for start in range(0, sub.nrows(), CHUNK_ROWS):
                n = min(CHUNK_ROWS, sub.nrows() - start)
                data = sub.getcol(column, startrow=start, nrow=n)[hands]  # (hand, chan, row)
                flag = sub.getcol("FLAG", startrow=start, nrow=n)[hands]
                uvw = sub.getcol("UVW", startrow=start, nrow=n)
                uvd = np.hypot(uvw[0], uvw[1])[None, :] * freq_kl[:, None]  # (chan, row)
                amp = np.abs(data)
                good = ~flag & np.isfinite(amp) & (amp > 0)
                read += int(good.sum())
                if keep < 1.0:
                    good &= rng.random(good.shape, dtype=np.float32) < keep
                for h, hand in enumerate(hands):
                    key = (spw, PARALLEL_HANDS[ctypes[hand]])
                    if key not in groups:
                        groups.append(key)
                    sel = good[h]
                    amps.append(amp[h][sel].astype(np.float32))
                    uvds.append(uvd[sel].astype(np.float32))
                    grp.append(np.full(int(sel.sum()), groups.index(key), dtype=np.int16))
    finally:
        for *_, sub in selections:
            sub.close()
        tb.close()
    if not amps or sum(a.size for a in amps) == 0:
        raise CalmodelError(f"no unflagged calibrated parallel-hand data for field "
                            f"'{fieldname}' (see casa.log)")
    return Amplitudes(np.concatenate(amps), np.concatenate(uvds), np.concatenate(grp), groups,
                      n_read=read, kept_fraction=keep)


def normalise(amp: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, list[float], list[int]]:
    """Divide each (spw, correlation) group by its own median amplitude."""
    out = np.empty_like(amp)
    medians, counts = [], []
    for g in range(int(group.max()) + 1):
        sel = group == g
        med = float(np.median(amp[sel])) if sel.any() else float("nan")
        out[sel] = amp[sel] / med
        medians.append(med)
        counts.append(int(sel.sum()))
    return out, medians, counts


# ---------------------------------------------------------------- stage

def characterize(ms: Path, out: Path,
                 settings: CharacterizeSettings = CharacterizeSettings()) -> CharacterizeResult:
    """Characterise each gain calibrator of ``ms`` (an MS or a UVFITS file) into ``out``."""
    started = time.monotonic()
    ms, out = Path(ms), Path(out)
    check_input(ms)  # before anything is written
    s = settings
    band_klambda, threshold, nsigma, nbins, binning, min_count = (
        s.band_klambda, s.threshold, s.nsigma, s.nbins, s.binning, s.min_count)
    if not (0 <= band_klambda[0] < band_klambda[1]) or (s.band_scale is not None and s.band_scale <= 0):
        raise CalmodelError(f"bad band {band_klambda} x {s.band_scale}: need 0 <= low < high, scale > 0")
    if threshold <= 0 or nsigma < 0 or nbins < 1 or min_count < 1 or binning not in (
            "linear", "quantile"):
        raise CalmodelError("need threshold > 0, nsigma >= 0, nbins >= 1, min_count >= 1, "
                            "binning linear|quantile")
    out.mkdir(parents=True, exist_ok=True)
    (out / "characterize.json").unlink(missing_ok=True)  # no stale record if this run fails
    casa_log_to(out / "casa.log")
    work = Path(tempfile.mkdtemp(prefix=".characterize-work-", dir=out))
    try:
        source = open_input(ms, work)
        gaincals, bpfield, roles = select_fields(source, s.field, s.bandpass_field)
        scaled = band_scale_for(source, s.band_scale)
        lo, hi = (float(b) * scaled.scale for b in band_klambda)
        band = (lo, hi)
        calms = work / "calibrators.ms"
        # The private copy: only the calibrators (and the spw/channel selection).
        run_task("split", vis=str(source), outputvis=str(calms),
                 field=",".join(gaincals + ([bpfield] if bpfield else [])), spw=s.spw,
                 datacolumn="data", keepflags=True)
        chosen_refant = s.refant or reference_antenna(calms, gaincals)
        quick_selfcal(calms, work, gaincals, bpfield, chosen_refant)
        freqs = {w.spw: w.reffreq_hz for w in spw_info(calms)}
        results = []
        for cal in gaincals:
            samples = read_amplitudes(calms, cal, max_samples=s.max_samples)
            amp, uvd, group, groups = samples.amp, samples.uvd_klambda, samples.group, samples.groups
            namp, medians, counts = normalise(amp, group)
            edges = bin_edges(uvd, band, nbins, binning)
            curve = binned_curve(uvd, namp, edges, band, threshold, nsigma, min_count)
            frac = float(np.count_nonzero((uvd >= lo) & (uvd < hi)) / uvd.size)
            decision, coverage, text, rng = decide(curve, band, frac, s.min_bins, s.min_fraction)
            plot = out / amp_uvdist_plot(cal)
            plot_curve(plot, cal, uvd, namp, curve, band, threshold, decision)
            results.append(CalibratorResult(
                field=cal, decision=decision, suggested_uvrange=text,
                suggested_uvrange_klambda=rng, coverage=coverage,
                max_abs_dev_in_band=max_abs_deviation(curve, True),
                max_abs_dev_outside_band=max_abs_deviation(curve, False), n_vis=int(uvd.size),
                n_vis_read=samples.n_read, kept_fraction=samples.kept_fraction,
                normalisation=[{"spw": w, "reffreq_hz": freqs[w], "correlation": c,
                                "median_amplitude": m, "n_vis": n}
                               for (w, c), m, n in zip(groups, medians, counts)],
                curve=curve, plot=plot.name))
    finally:
        if not s.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    parameters = {"ms": str(ms), "field": s.field, "bandpass_field": s.bandpass_field,
                  "threshold": threshold, "band_klambda": list(band_klambda),
                  "band_scale": s.band_scale, "nsigma": nsigma, "nbins": nbins,
                  "binning": binning, "min_count": min_count, "min_bins": s.min_bins,
                  "min_fraction": s.min_fraction, "max_samples": s.max_samples, "spw": s.spw, "refant": s.refant}
    record = write_json(out / "characterize.json", stage_record(
        "characterize", parameters,
        {"band_klambda_scaled": [lo, hi], "band_scale_used": scaled.as_record(),
         "bandpass_field_used": bpfield,
         "roles": {"flux_calibrator": roles.flux_calibrator, "gain_calibrators": roles.gain_calibrators,
                   "targets": roles.targets, "reasons": roles.reasons},
         "refant_used": chosen_refant, "gain_calibrators": gaincals,
         "decisions": {r.field: r.decision for r in results},
         "calibrators": [asdict(r) for r in results],
         "work_dir": str(work) if s.keep_work else None}, started))
    return CharacterizeResult(out=out, record=record, band_klambda=band,
                              bandpass_field=bpfield, refant=chosen_refant, calibrators=results)
