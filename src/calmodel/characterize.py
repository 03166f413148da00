"""Stage `characterize`: is a gain calibrator a point source? (VLASS Memo 19, Section 2)

For each gain calibrator: a quick self-calibration on a private split copy, then the
calibrated amplitudes of the parallel hands, normalised per spectral window and
correlation, binned in uv-distance (klambda), and the memo's rule applied to the
binned medians. The statistic and the decision are documented in docs/characterize.md.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field as dc_field
from pathlib import Path

import numpy as np

from calmodel import CalmodelError
from calmodel.casa import casa_log_to, casa_tools, run_task
from calmodel.msio import check_input, field_names, fields_with_intent, open_input, pick_refant, spw_info
from calmodel.records import stage_record, write_json

C_M_S = 299_792_458.0
PARALLEL_HANDS = {5: "RR", 8: "LL", 9: "XX", 12: "YY"}  # casacore Stokes enum
DECISIONS = ("point", "uvrange", "model-needed", "insufficient-coverage")
CHUNK_ROWS = 50_000


@dataclass
class BinnedCurve:
    """Binned normalised amplitude; per-bin lists (None where a bin is empty)."""

    edges: list[float]
    centres: list[float]
    count: list[int]
    median_dev: list[float | None]
    sigma: list[float | None]
    scatter: list[float | None]
    in_band: list[bool]
    populated: list[bool]
    deviates: list[bool]


@dataclass
class CalibratorResult:
    field: str
    decision: str
    suggested_uvrange: str | None
    suggested_uvrange_klambda: list[float | None] | None
    coverage: dict
    max_abs_dev_in_band: float | None
    max_abs_dev_outside_band: float | None
    n_vis: int
    normalisation: list[dict]
    curve: BinnedCurve
    plot: str


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
                  bandpass_field: str | None) -> tuple[list[str], str | None]:
    """(gain calibrators, flux/bandpass calibrator or None) from --field or the scan intents."""
    names = field_names(ms)
    for wanted in (field, bandpass_field):
        if wanted is not None and wanted not in names:
            raise CalmodelError(f"field '{wanted}' not in {ms} (fields: {', '.join(names)})")
    bpcals = fields_with_intent(ms, "CALIBRATE_BANDPASS") + fields_with_intent(ms, "CALIBRATE_FLUX")
    if bandpass_field is None and bpcals:
        bandpass_field = bpcals[0]
    if field is not None:
        gaincals = [field]
    else:
        phase = fields_with_intent(ms, "CALIBRATE_PHASE") + fields_with_intent(ms, "CALIBRATE_AMPLI")
        if not phase and not bpcals:
            raise CalmodelError(f"{ms} has no scan intents: name the gain calibrator with --field "
                                f"(fields: {', '.join(names)})")
        gaincals = [f for f in names if f in phase and f not in bpcals and f != bandpass_field]
        if not gaincals:
            raise CalmodelError(f"no gain calibrator (CALIBRATE_PHASE/AMPLI intent, not the "
                                f"flux/bandpass calibrator) in {ms}: use --field")
    if bandpass_field in gaincals:  # never bandpass a calibrator on itself
        bandpass_field = None
    return gaincals, bandpass_field


# ---------------------------------------------------------------- calibration

def quick_selfcal(ms: Path, work: Path, gaincals: list[str], bandpass_field: str | None,
                  refant: str) -> None:
    """Unit point-source model, optional bandpass on the flux/bandpass calibrator, then a
    per-scan phase-only gaincal on each gain calibrator and applycal, all on ``ms`` (a copy)."""
    fields = gaincals + ([bandpass_field] if bandpass_field else [])
    # An explicit MODEL_DATA of 1 Jy (Stokes I) for every calibrator: never rely on the
    # solver's implicit model.
    for name in fields:
        run_task("setjy", vis=str(ms), field=name, standard="manual", fluxdensity=[1, 0, 0, 0],
              usescratch=True)
    pre: list[str] = []
    if bandpass_field:
        bpphase, bp = str(work / "bpphase.G"), str(work / "bandpass.B")
        run_task("gaincal", vis=str(ms), caltable=bpphase, field=bandpass_field, solint="int",
              calmode="p", refant=refant)
        run_task("bandpass", vis=str(ms), caltable=bp, field=bandpass_field, solint="inf",
              combine="scan", refant=refant, bandtype="B", solnorm=False, gaintable=[bpphase])
        if not Path(bp).is_dir():
            raise CalmodelError(f"bandpass found no solutions on {bandpass_field} (see casa.log)")
        pre = [bp]
    for cal in gaincals:
        gp = str(work / f"{_safe(cal)}.phase.G")
        run_task("gaincal", vis=str(ms), caltable=gp, field=cal, solint="inf", combine="",
              calmode="p", refant=refant, gaintable=pre)
        if not Path(gp).is_dir():
            raise CalmodelError(f"gaincal found no solutions on {cal} (see casa.log)")
        # 'nearest': each integration takes the solution of its own scan.
        run_task("applycal", vis=str(ms), field=cal, gaintable=pre + [gp],
              interp=["nearest"] * (len(pre) + 1), calwt=False, flagbackup=False)


# ---------------------------------------------------------------- reading

def read_amplitudes(ms: Path, fieldname: str, column: str = "CORRECTED_DATA"):
    """Unflagged parallel-hand amplitudes of ``fieldname`` (cross-correlations only).

    Returns (amp, uvdist_klambda, group, groups) where ``group`` indexes ``groups``, a list
    of (spw, correlation) pairs; uv-distance uses each channel's own frequency."""
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
    tb.open(str(ms))
    try:
        for ddid in range(len(dd_spw)):
            spw, ctypes = int(dd_spw[ddid]), list(corr_types[dd_pol[ddid]])
            hands = [i for i, c in enumerate(ctypes) if c in PARALLEL_HANDS]
            sub = tb.query(f"FIELD_ID=={fid} && DATA_DESC_ID=={ddid} && ANTENNA1!=ANTENNA2 "
                           f"&& !FLAG_ROW", columns=f"UVW,FLAG,{column}")
            try:
                freq_kl = spws[spw].chan_freqs_hz / C_M_S / 1e3  # klambda per metre
                for start in range(0, sub.nrows(), CHUNK_ROWS):
                    n = min(CHUNK_ROWS, sub.nrows() - start)
                    data = sub.getcol(column, startrow=start, nrow=n)[hands]  # (hand, chan, row)
                    flag = sub.getcol("FLAG", startrow=start, nrow=n)[hands]
                    uvw = sub.getcol("UVW", startrow=start, nrow=n)
                    uvd = np.hypot(uvw[0], uvw[1])[None, :] * freq_kl[:, None]  # (chan, row)
                    amp = np.abs(data)
                    good = ~flag & np.isfinite(amp) & (amp > 0)
                    for h, hand in enumerate(hands):
                        key = (spw, PARALLEL_HANDS[ctypes[hand]])
                        if key not in groups:
                            groups.append(key)
                        sel = good[h]
                        amps.append(amp[h][sel].astype(np.float32))
                        uvds.append(uvd[sel].astype(np.float32))
                        grp.append(np.full(int(sel.sum()), groups.index(key), dtype=np.int16))
            finally:
                sub.close()
    finally:
        tb.close()
    if not amps or sum(a.size for a in amps) == 0:
        raise CalmodelError(f"no unflagged calibrated parallel-hand data for field "
                            f"'{fieldname}' (see casa.log)")
    return np.concatenate(amps), np.concatenate(uvds), np.concatenate(grp), groups


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


# ---------------------------------------------------------------- binning and decision

def bin_edges(uvd: np.ndarray, band: tuple[float, float], nbins: int,
              binning: str = "linear") -> np.ndarray:
    """Bin edges in klambda; the band edges are always bin edges, so no bin straddles them.

    linear:   width w = (hi - lo) / nbins, edges lo + k*w covering all the data (>= 0).
    quantile: nbins equal-count bins inside the band; below and above it, equal-count bins
              holding about as many visibilities as an in-band bin (at least one bin each).
              Falls back to linear when the band holds fewer than nbins visibilities.
    """
    lo, hi = band
    umin, umax = float(uvd.min()), float(uvd.max())
    inside = uvd[(uvd >= lo) & (uvd < hi)]
    if binning == "quantile" and inside.size >= nbins:
        per = inside.size / nbins
        parts = []
        for a, b, vals in ((min(umin, lo), lo, uvd[uvd < lo]), (lo, hi, inside),
                           (hi, max(umax, hi) * (1 + 1e-6), uvd[uvd >= hi])):
            if vals.size == 0:
                parts.append([a, b] if (a, b) == (lo, hi) else [])
                continue
            k = nbins if (a, b) == (lo, hi) else max(1, round(vals.size / per))
            q = np.quantile(vals, np.linspace(0, 1, k + 1))
            q[0], q[-1] = a, b
            parts.append(list(q))
        edges = np.unique(np.concatenate([np.asarray(p, float) for p in parts if p]))
        return edges
    width = (hi - lo) / nbins
    kmin = min(0, math.floor((umin - lo) / width))
    kmax = max(nbins, math.floor((umax - lo) / width) + 1)
    edges = lo + width * np.arange(kmin, kmax + 1)
    if edges[0] < 0:  # the first bin starts at 0 (and is narrower)
        edges = np.concatenate([[0.0], edges[edges > 0]])
    return edges


def binned_curve(uvd: np.ndarray, namp: np.ndarray, edges: np.ndarray,
                 band: tuple[float, float], threshold: float, nsigma: float,
                 min_count: int) -> BinnedCurve:
    """Per bin [e_i, e_i+1): median of the normalised amplitude minus 1, the robust scatter
    1.4826 * MAD, the median's uncertainty 1.2533 * scatter / sqrt(N) (sqrt(pi/2): standard
    error of a median), and whether the bin deviates."""
    idx = np.searchsorted(edges, uvd, side="right") - 1
    lo, hi = band
    eps = 1e-9 * max(1.0, hi)
    curve = BinnedCurve([float(e) for e in edges], [], [], [], [], [], [], [], [])
    order = np.argsort(idx, kind="stable")
    splits = np.searchsorted(idx[order], np.arange(len(edges)))
    for i in range(len(edges) - 1):
        vals = namp[order[splits[i]:splits[i + 1]]].astype(np.float64)
        n = int(vals.size)
        centre = 0.5 * (edges[i] + edges[i + 1])
        curve.centres.append(float(centre))
        curve.count.append(n)
        curve.in_band.append(bool(edges[i] >= lo - eps and edges[i + 1] <= hi + eps))
        curve.populated.append(n >= min_count)
        if n == 0:
            curve.median_dev.append(None)
            curve.sigma.append(None)
            curve.scatter.append(None)
            curve.deviates.append(False)
            continue
        med = float(np.median(vals))
        scatter = 1.4826 * float(np.median(np.abs(vals - med)))
        sigma = 1.2533 * scatter / math.sqrt(n)
        dev = med - 1.0
        curve.median_dev.append(dev)
        curve.sigma.append(sigma)
        curve.scatter.append(scatter)
        curve.deviates.append(bool(n >= min_count and abs(dev) > threshold
                                   and abs(dev) > nsigma * sigma))
    return curve


def _fmt(x: float) -> str:
    return f"{round(x, 2):g}"


def clean_range(curve: BinnedCurve, band: tuple[float, float]) -> tuple[float | None, float | None]:
    """The widest run of non-deviating bins that contains the band: (lower, upper) klambda,
    None for no cut on that side."""
    lo, hi = band
    e = curve.edges
    below = [i for i, c in enumerate(curve.centres) if c < lo]
    above = [i for i, c in enumerate(curve.centres) if c > hi]
    lower: float | None = None
    for i in reversed(below):
        if curve.deviates[i]:
            lower = e[i + 1]
            break
    upper: float | None = None
    for i in above:
        if curve.deviates[i]:
            upper = e[i]
            break
    return lower, upper


def decide(curve: BinnedCurve, band: tuple[float, float], fraction_in_band: float,
           min_bins: int, min_fraction: float) -> tuple[str, dict, str | None, list | None]:
    """(decision, coverage, suggested uvrange string, [lower, upper] klambda)."""
    populated_in = sum(1 for p, b in zip(curve.populated, curve.in_band) if p and b)
    coverage = {"status": "ok", "populated_bins_in_band": populated_in,
                "fraction_in_band": fraction_in_band, "min_bins": min_bins,
                "min_fraction": min_fraction}
    if populated_in < min_bins or fraction_in_band < min_fraction:
        coverage["status"] = "insufficient"
        return "insufficient-coverage", coverage, None, None
    if any(d and b for d, b in zip(curve.deviates, curve.in_band)):
        return "model-needed", coverage, None, None
    if not any(curve.deviates):
        return "point", coverage, None, None
    lower, upper = clean_range(curve, band)
    if lower is not None and upper is not None:
        text = f"{_fmt(lower)}~{_fmt(upper)}klambda"
    elif lower is not None:
        text = f">{_fmt(lower)}klambda"
    else:
        text = f"<{_fmt(upper)}klambda"
    return "uvrange", coverage, text, [lower, upper]


def _max_abs(curve: BinnedCurve, in_band: bool) -> float | None:
    vals = [abs(d) for d, b, p in zip(curve.median_dev, curve.in_band, curve.populated)
            if p and b == in_band and d is not None]
    return max(vals) if vals else None


# ---------------------------------------------------------------- plot

def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)


def plot_curve(path: Path, fieldname: str, uvd: np.ndarray, namp: np.ndarray,
               curve: BinnedCurve, band: tuple[float, float], threshold: float,
               decision: str, max_points: int = 20_000) -> Path:
    """Memo Figure 1: normalised amplitude - 1 against uv-distance, Agg backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rng = np.random.default_rng(0)
    pick = rng.choice(uvd.size, size=min(max_points, uvd.size), replace=False)
    fig = Figure(figsize=(7, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(uvd[pick], namp[pick] - 1, s=1, c="0.6", alpha=0.4, lw=0, rasterized=True,
               label=f"visibilities ({pick.size} of {uvd.size})")
    ok = [i for i, d in enumerate(curve.median_dev) if d is not None and curve.populated[i]]
    dev = np.array([curve.median_dev[i] for i in ok])
    sig = np.array([curve.sigma[i] for i in ok])
    cen = np.array([curve.centres[i] for i in ok])
    bad = np.array([curve.deviates[i] for i in ok], dtype=bool)
    ax.errorbar(cen[~bad], dev[~bad], yerr=sig[~bad], fmt="o", ms=4, c="C0", label="bin median")
    if bad.any():
        ax.errorbar(cen[bad], dev[bad], yerr=sig[bad], fmt="s", ms=5, c="C3", label="deviating bin")
    ax.axvspan(*band, color="C2", alpha=0.12, label=f"band {_fmt(band[0])}-{_fmt(band[1])} kλ")
    for s in (-threshold, threshold):
        ax.axhline(s, color="k", ls="--", lw=0.8)
    ax.axhline(0, color="k", lw=0.5)
    spread = float(np.quantile(np.abs(namp[pick] - 1), 0.98)) if pick.size else 0.0
    span = max([0.1, 2.5 * threshold, min(spread, 0.5)] + [abs(d) * 1.3 for d in dev])
    ax.set_ylim(-span, span)
    ax.set_xlim(0, curve.edges[-1])
    ax.set_xlabel("uv-distance (kλ)")
    ax.set_ylabel("amplitude / median − 1")
    ax.set_title(f"{fieldname}: {decision}")
    ax.legend(fontsize=7, loc="upper right", markerscale=2)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    tmp.replace(path)
    return path


# ---------------------------------------------------------------- stage

def characterize(ms: Path, out: Path, field: str | None = None, threshold: float = 0.03,
                 band_klambda: tuple[float, float] = (35.0, 90.0), band_scale: float = 1.0,
                 nsigma: float = 3.0, nbins: int = 11, binning: str = "linear",
                 min_count: int = 20, min_bins: int = 2, min_fraction: float = 0.05,
                 bandpass_field: str | None = None, spw: str = "", refant: str = "",
                 keep_work: bool = False) -> CharacterizeResult:
    """Characterise each gain calibrator of ``ms`` (an MS or a UVFITS file) into ``out``."""
    started = time.monotonic()
    ms, out = Path(ms), Path(out)
    check_input(ms)  # before anything is written
    lo, hi = (float(b) * band_scale for b in band_klambda)
    if not (0 <= lo < hi) or band_scale <= 0:
        raise CalmodelError(f"bad band {band_klambda} x {band_scale}: need 0 <= low < high")
    if threshold <= 0 or nsigma < 0 or nbins < 1 or min_count < 1 or binning not in (
            "linear", "quantile"):
        raise CalmodelError("need threshold > 0, nsigma >= 0, nbins >= 1, min_count >= 1, "
                            "binning linear|quantile")
    band = (lo, hi)
    out.mkdir(parents=True, exist_ok=True)
    (out / "characterize.json").unlink(missing_ok=True)  # no stale record if this run fails
    casa_log_to(out / "casa.log")
    work = Path(tempfile.mkdtemp(prefix=".characterize-work-", dir=out))
    try:
        source = open_input(ms, work)
        gaincals, bpfield = select_fields(source, field, bandpass_field)
        calms = work / "calibrators.ms"
        # The private copy: only the calibrators (and the spw/channel selection).
        run_task("split", vis=str(source), outputvis=str(calms),
              field=",".join(gaincals + ([bpfield] if bpfield else [])), spw=spw,
              datacolumn="data", keepflags=True)
        chosen_refant = refant or pick_refant(calms, gaincals)
        quick_selfcal(calms, work, gaincals, bpfield, chosen_refant)
        freqs = {s.spw: s.reffreq_hz for s in spw_info(calms)}
        results = []
        for cal in gaincals:
            amp, uvd, group, groups = read_amplitudes(calms, cal)
            namp, medians, counts = normalise(amp, group)
            edges = bin_edges(uvd, band, nbins, binning)
            curve = binned_curve(uvd, namp, edges, band, threshold, nsigma, min_count)
            frac = float(np.count_nonzero((uvd >= lo) & (uvd < hi)) / uvd.size)
            decision, coverage, text, rng = decide(curve, band, frac, min_bins, min_fraction)
            plot = out / f"{_safe(cal)}_amp_uvdist.png"
            plot_curve(plot, cal, uvd, namp, curve, band, threshold, decision)
            results.append(CalibratorResult(
                field=cal, decision=decision, suggested_uvrange=text,
                suggested_uvrange_klambda=rng, coverage=coverage,
                max_abs_dev_in_band=_max_abs(curve, True),
                max_abs_dev_outside_band=_max_abs(curve, False), n_vis=int(uvd.size),
                normalisation=[{"spw": s, "reffreq_hz": freqs[s], "correlation": c,
                                "median_amplitude": m, "n_vis": n}
                               for (s, c), m, n in zip(groups, medians, counts)],
                curve=curve, plot=plot.name))
    finally:
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
    parameters = {"ms": str(ms), "field": field, "bandpass_field": bandpass_field,
                  "threshold": threshold, "band_klambda": list(band_klambda),
                  "band_scale": band_scale, "nsigma": nsigma, "nbins": nbins,
                  "binning": binning, "min_count": min_count, "min_bins": min_bins,
                  "min_fraction": min_fraction, "spw": spw, "refant": refant}
    record = write_json(out / "characterize.json", stage_record(
        "characterize", parameters,
        {"band_klambda_scaled": [lo, hi], "bandpass_field_used": bpfield,
         "refant_used": chosen_refant, "gain_calibrators": gaincals,
         "decisions": {r.field: r.decision for r in results},
         "calibrators": [asdict(r) for r in results],
         "work_dir": str(work) if keep_work else None}, started))
    return CharacterizeResult(out=out, record=record, band_klambda=band,
                              bandpass_field=bpfield, refant=chosen_refant, calibrators=results)
