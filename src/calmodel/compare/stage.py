"""The `compare` stage: the two arms' catalogues against each other (memo Section 4.2),
and each against the simulated truth when there is one.

Matching
    Components are matched one-to-one as mutual nearest neighbours on the sky
    (``SkyCoord.match_to_catalog_sky`` both ways) closer than the match radius (0.5",
    as in the memo).

Differences and Gaussian fits
    For Total_flux, Peak_flux, Alpha (when both catalogues have finite values), Maj, Min
    and PA the difference is model - nomodel (PA wrapped into [-90, 90) deg); for the
    fluxes also the fractional difference (model - nomodel) / nomodel.  Each set of
    differences gets a Gaussian fitted to its core by iterated clipped moments: start at
    the median and 1.4826 x MAD, keep the values within +-3 sigma, take their mean and
    standard deviation (the latter corrected for the truncation at +-3 sigma), and repeat
    until the kept set stops changing.  The wide skirts of spurious components near
    bright sources (the memo's outliers) therefore do not pull the fit; the numbers do not
    depend on a histogram binning.  Uncertainties are sigma/sqrt(n_core) for the mean and
    sigma/sqrt(2 (n_core - 1)) for sigma.

Total/peak (memo Figure 9)
    Total_flux / Peak_flux of every component of each arm: its centre as the median with
    1.4826 x MAD as the spread (memo Tables 2/3 "centre" +- spread) - not the core fit,
    because unresolved (~1.0) and resolved (> 1) components make the distribution
    lopsided and a clipped fit can settle on either hump - and a two-sample
    Kolmogorov-Smirnov test of the two arms (``scipy.stats.ks_2samp``).

Outliers
    Matched pairs whose fractional Total_flux difference lies more than ``outlier_sigma``
    fitted sigmas from the fitted mean, each with the distance to the nearest *other*
    bright component of the nomodel catalogue: bright = Total_flux >= ``bright_flux_jy``,
    or by default the brightest 5% (at least one component).

Truth (a simulated tile)
    A CSV with columns ``ra_deg, dec_deg, flux_jy`` (required) and optionally ``alpha,
    maj_arcsec, min_arcsec, pa_deg`` (intrinsic FWHM size, PA east of north), ``field``
    and ``ref_freq_hz`` (frequency of ``flux_jy``; when given with ``alpha`` the flux is
    scaled to the catalogue's frequency, otherwise it is taken to be at that frequency;
    when the catalogue's record carries the image's band, each spectrum is put through the
    image's own Taylor fit over its channels: ``core.wideband.measured_flux``). The
    catalogue's Gaussians are grouped into PyBDSF sources first (``pybdsf_sources``).
    Per arm the truth is cut to the image footprint (from the ``catalog.json`` beside
    the catalogue) and, with ``truth_field``, to one field, then matched one-to-one within
    the match radius.  Reported: flux ratio measured/true (median and 1.4826 x MAD, for
    all matches and for true peak S/N >= ``bright_snr``), alpha error measured - true,
    completeness (fraction of truth components whose expected peak - flux x beam area /
    (beam (*) source) area - exceeds ``completeness_snr`` x image rms that are detected;
    also for ``bright_snr``) and false detections (components with no truth match).  The
    rms is ``rms_jy`` if given, else ``image_rms_jy_per_beam`` from that ``catalog.json``.

Outputs: ``compare.json``, ``matched.csv`` and PNG figures (Agg backend).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.wcs import WCS
from scipy import stats

from calmodel import CalmodelError
from calmodel.compare.settings import CompareSettings
from calmodel.core.constants import ARMS
from calmodel.core.io import write_figure, write_json, write_table
from calmodel.core.records import stage_record
from calmodel.core.skymatch import match_one_to_one, sky_coords
from calmodel.core.stats import mad_sigma, median_with_error
from calmodel.core.wideband import Band, measured_flux

REQUIRED = ("RA", "DEC", "Total_flux", "Peak_flux")
# quantity -> (unit, fractional difference too?)
QUANTITIES = {"Total_flux": ("Jy", True), "Peak_flux": ("Jy/beam", True), "Alpha": ("", False),
              "Maj": ("arcsec", False), "Min": ("arcsec", False), "PA": ("deg", False)}
TRUTH_REQUIRED = ("ra_deg", "dec_deg", "flux_jy")
TRUTH_OPTIONAL = ("alpha", "maj_arcsec", "min_arcsec", "pa_deg", "ref_freq_hz")
CLIP = 3.0
FWHM_TO_SIGMA = 1.0 / math.sqrt(8.0 * math.log(2.0))


@dataclass
class CompareResult:
    record: Path
    matched_csv: Path
    figures: list[Path]
    n_model: int
    n_nomodel: int
    n_matched: int
    fits: dict = field(default_factory=dict)


# ---------------------------------------------------------------- reading


def read_catalog(path: Path) -> Table:
    """A catalogue written by `calmodel catalog` (``.fits`` or ``.csv``), numeric columns as
    float."""
    path = Path(path)
    if not path.is_file():
        raise CalmodelError(f"catalogue not found: {path}")
    name = path.name.lower()
    if name.endswith((".fits", ".fit", ".fits.gz")):
        fmt = "fits"
    elif name.endswith(".csv"):
        fmt = "ascii.csv"
    else:
        raise CalmodelError(f"{path}: a catalogue must be .fits or .csv")
    try:
        table = Table.read(path, format=fmt)
    except (OSError, ValueError) as err:
        reason = " ".join(str(err).split())
        raise CalmodelError(f"{path}: not a readable catalogue ({reason})") from None
    missing = [col for col in REQUIRED if col not in table.colnames]
    if missing:
        raise CalmodelError(f"{path}: missing catalogue column {', '.join(missing)}")
    out = Table()
    for col in table.colnames:
        values = np.asarray(table[col])
        if col != "S_Code" and values.dtype.kind in "iuf":
            values = values.astype(float)
        out[col] = values
    return out


def catalog_record(path: Path) -> dict:
    """The ``catalog.json`` written beside a catalogue, or {} if there is none."""
    record = Path(path).parent / "catalog.json"
    if not record.is_file():
        return {}
    try:
        return json.loads(record.read_text())
    except json.JSONDecodeError as err:
        raise CalmodelError(f"{record}: not valid JSON ({err})") from None


def read_truth(path: Path) -> Table:
    path = Path(path)
    if not path.is_file():
        raise CalmodelError(f"truth catalogue not found: {path}")
    try:
        table = Table.read(path, format="ascii.csv")
    except (OSError, ValueError) as err:
        raise CalmodelError(f"{path}: not a readable CSV ({' '.join(str(err).split())})") from None
    missing = [col for col in TRUTH_REQUIRED if col not in table.colnames]
    if missing:
        raise CalmodelError(f"{path}: missing truth column {', '.join(missing)} (expected "
                            f"{', '.join(TRUTH_REQUIRED + TRUTH_OPTIONAL)}, field)")
    for col in TRUTH_REQUIRED + TRUTH_OPTIONAL:
        if col in table.colnames:
            table[col] = np.asarray(table[col], dtype=float)
    return table


# ---------------------------------------------------------------- statistics


def _truncation_factor(clip: float) -> float:
    """std of a unit normal truncated to +-clip."""
    mass = stats.norm.cdf(clip) - stats.norm.cdf(-clip)
    return math.sqrt(1.0 - 2.0 * clip * stats.norm.pdf(clip) / mass)


def gaussian_core_fit(values, clip: float = CLIP, max_iter: int = 100) -> dict:
    """Mean and sigma of the Gaussian core of ``values`` (see the module docstring)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    result = {"n": int(x.size), "n_core": int(x.size), "mean": None, "mean_err": None,
              "sigma": None, "sigma_err": None,
              "median": float(np.median(x)) if x.size else None,
              "method": f"iterated clipped moments, +-{clip:g} sigma core"}
    if x.size < 3:
        return result
    mu = float(np.median(x))
    sigma = mad_sigma(x, mu)
    if sigma == 0.0:
        sigma = float(np.std(x))
    keep = np.ones(x.size, bool)
    if sigma > 0.0:
        factor = _truncation_factor(clip)
        for _ in range(max_iter):
            new_keep = np.abs(x - mu) <= clip * sigma
            if new_keep.sum() < 3:
                break
            core = x[new_keep]
            mu, sigma = float(core.mean()), float(core.std(ddof=1)) / factor
            if np.array_equal(new_keep, keep) or sigma == 0.0:
                keep = new_keep
                break
            keep = new_keep
    n_core = int(keep.sum())
    result.update({"n_core": n_core, "mean": mu, "mean_err": sigma / math.sqrt(n_core),
                   "sigma": sigma, "sigma_err": sigma / math.sqrt(2.0 * (n_core - 1))})
    return result


# ---------------------------------------------------------------- matching


def _median_or_none(values):
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else None


def _wrap_pa(delta):
    return (np.asarray(delta, float) + 90.0) % 180.0 - 90.0


def _bright_distance(pairs: SkyCoord, self_index: np.ndarray, cat: Table, bright_flux_jy):
    """Distance (arcsec) from each pair to the nearest other bright component of ``cat``."""
    flux = np.asarray(cat["Total_flux"], float)
    finite = np.isfinite(flux)
    if not finite.any() or len(pairs) == 0:
        return np.full(len(pairs), np.nan), None
    threshold = (float(bright_flux_jy) if bright_flux_jy is not None
                 else float(np.percentile(flux[finite], 95.0)))
    bright = np.flatnonzero(finite & (flux >= min(threshold, np.nanmax(flux))))
    bright_coords = sky_coords(cat["RA"][bright], cat["DEC"][bright])
    idx1, sep1, _ = pairs.match_to_catalog_sky(bright_coords)
    dist = sep1.arcsec.copy()
    is_self = bright[idx1] == self_index
    if is_self.any():
        if len(bright) >= 2:
            _, sep2, _ = pairs.match_to_catalog_sky(bright_coords, nthneighbor=2)
            dist[is_self] = sep2.arcsec[is_self]
        else:
            dist[is_self] = np.nan
    return dist, threshold


# ---------------------------------------------------------------- truth


def _expected_peak(flux, truth: Table, beam_arcsec) -> np.ndarray:
    """Peak (Jy/beam) of each truth component after convolution with the beam."""
    if not beam_arcsec or "maj_arcsec" not in truth.colnames:
        return np.asarray(flux, float)

    def cov(fmaj, fmin, pa):
        smaj, smin = np.asarray(fmaj) * FWHM_TO_SIGMA, np.asarray(fmin) * FWHM_TO_SIGMA
        t = np.radians(pa)
        s, c = np.sin(t), np.cos(t)
        # (east, north) covariance; the major axis points along (sin pa, cos pa)
        return (smaj**2 * s * s + smin**2 * c * c, smaj**2 * c * c + smin**2 * s * s,
                (smaj**2 - smin**2) * s * c)

    def column(name, default):
        if name not in truth.colnames:
            return default
        return np.nan_to_num(np.asarray(truth[name], float))

    bxx, byy, bxy = cov(*beam_arcsec)
    maj = column("maj_arcsec", None)
    sxx, syy, sxy = cov(maj, column("min_arcsec", maj), column("pa_deg", 0.0 * maj))
    det_b = bxx * byy - bxy**2
    det_c = (bxx + sxx) * (byy + syy) - (bxy + sxy) ** 2
    return np.asarray(flux, float) * np.sqrt(det_b / det_c)


def _in_footprint(truth: Table, record: dict) -> np.ndarray:
    if not record.get("image_wcs") or not record.get("image_shape"):
        return np.ones(len(truth), bool)
    wcs = WCS(record["image_wcs"])
    ny, nx = record["image_shape"]
    x, y = wcs.world_to_pixel_values(np.asarray(truth["ra_deg"]), np.asarray(truth["dec_deg"]))
    return (x >= -0.5) & (y >= -0.5) & (x < nx - 0.5) & (y < ny - 0.5)


def _completeness(detected: np.ndarray, snr: np.ndarray | None, snr_min: float) -> dict:
    if snr is None:
        return {"snr_min": snr_min, "n_truth": None, "n_detected": None, "fraction": None}
    above = snr >= snr_min
    n = int(above.sum())
    n_det = int((detected & above).sum())
    return {"snr_min": snr_min, "n_truth": n, "n_detected": n_det,
            "fraction": n_det / n if n else None}


def pybdsf_sources(cat: Table) -> Table:
    """One row per PyBDSF source (``Source_id``): its Gaussians' Total_flux summed, position,
    peak and alpha of its brightest Gaussian. Against the truth a point source that PyBDSF
    fitted with two Gaussians (it does, near pixel-split clean components at high dynamic
    range) is one source; the arms are still compared Gaussian by Gaussian, as the memo."""
    if "Source_id" not in cat.colnames or len(cat) == 0:
        return cat
    ids = np.asarray(cat["Source_id"])
    rows = []
    for sid in np.unique(ids):
        members = np.flatnonzero(ids == sid)
        brightest = members[np.argmax(np.asarray(cat["Peak_flux"], float)[members])]
        error = (float(np.sqrt(np.sum(np.asarray(cat["E_Total_flux"], float)[members] ** 2)))
                 if "E_Total_flux" in cat.colnames else np.nan)
        rows.append((brightest, float(np.sum(np.asarray(cat["Total_flux"], float)[members])), error))
    out = cat[[b for b, _, _ in rows]]
    out["Total_flux"] = [total for _, total, _ in rows]
    if "E_Total_flux" in cat.colnames:
        out["E_Total_flux"] = [error for _, _, error in rows]
    return out


def truth_comparison(cat: Table, record: dict, truth: Table, radius_arcsec: float,
                     rms_jy: float | None, truth_field: str | None, completeness_snr: float,
                     bright_snr: float) -> tuple[dict, dict]:
    """Numbers for one arm against the truth (per PyBDSF source), and the arrays its figure
    needs."""
    cat = pybdsf_sources(cat)
    keep = _in_footprint(truth, record)
    if truth_field is not None:
        if "field" not in truth.colnames:
            raise CalmodelError("--truth-field given but the truth CSV has no 'field' column")
        keep &= np.asarray(truth["field"]).astype(str) == truth_field
    sub = truth[keep]
    flux = np.asarray(sub["flux_jy"], float)
    freq = record.get("frequency_hz")
    band = Band.from_record(record.get("band"))
    if band is not None and "alpha" in sub.colnames:
        # The truth as the image measures it: each spectrum through the image's own Taylor fit.
        ref = (np.asarray(sub["ref_freq_hz"], float) if "ref_freq_hz" in sub.colnames
               else np.full(len(sub), band.reffreq_hz))
        flux = measured_flux(flux, np.asarray(sub["alpha"], float), ref, band)
    elif freq and "ref_freq_hz" in sub.colnames and "alpha" in sub.colnames:
        scale = (freq / np.asarray(sub["ref_freq_hz"], float)) ** np.nan_to_num(
            np.asarray(sub["alpha"], float))
        flux = flux * np.where(np.isfinite(scale), scale, 1.0)
    rms = rms_jy if rms_jy is not None else record.get("image_rms_jy_per_beam")
    snr = _expected_peak(flux, sub, record.get("beam_arcsec")) / rms if rms else None

    it, ic, sep = match_one_to_one(sky_coords(sub["ra_deg"], sub["dec_deg"]),
                                   sky_coords(cat["RA"], cat["DEC"]), radius_arcsec)
    detected = np.zeros(len(sub), bool)
    detected[it] = True
    ratio = np.asarray(cat["Total_flux"], float)[ic] / flux[it]
    bright = snr[it] >= bright_snr if snr is not None else np.zeros(len(it), bool)
    alpha_err = np.full(len(it), np.nan)
    if "Alpha" in cat.colnames and "alpha" in sub.colnames:
        alpha_err = np.asarray(cat["Alpha"], float)[ic] - np.asarray(sub["alpha"], float)[it]
    n_false = len(cat) - len(ic)
    numbers = {
        "truth_flux": ("as measured: the spectrum through the image's Taylor fit over its channels"
                       if band is not None and "alpha" in sub.colnames else
                       "the spectrum at the image frequency" if freq else "flux_jy as given"),
        "n_truth_in_image": len(sub),
        "n_truth_outside_image": int((~keep).sum()),
        "n_matched": len(it),
        "median_separation_arcsec": float(np.median(sep)) if len(sep) else None,
        "rms_jy_per_beam": rms,
        "flux_ratio": median_with_error(ratio),
        "flux_ratio_bright": {"snr_min": bright_snr, **median_with_error(ratio[bright])},
        "alpha_error": median_with_error(alpha_err),
        "alpha_error_bright": {"snr_min": bright_snr, **median_with_error(alpha_err[bright])},
        "completeness": _completeness(detected, snr, completeness_snr),
        "completeness_bright": _completeness(detected, snr, bright_snr),
        "false_detections": {"n": n_false, "fraction": n_false / len(cat) if len(cat) else None},
    }
    arrays = {"true_flux": flux[it], "ratio": ratio, "alpha_err": alpha_err,
              "table": Table({"ra_deg": np.asarray(sub["ra_deg"], float)[it],
                              "dec_deg": np.asarray(sub["dec_deg"], float)[it],
                              "true_flux_jy": flux[it],
                              "Total_flux": np.asarray(cat["Total_flux"], float)[ic],
                              "E_Total_flux": (np.asarray(cat["E_Total_flux"], float)[ic]
                                               if "E_Total_flux" in cat.colnames else np.full(len(ic), np.nan)),
                              "ratio": ratio,
                              "true_snr": snr[it] if snr is not None else np.full(len(it), np.nan),
                              "resolved": (np.nan_to_num(np.asarray(sub["maj_arcsec"], float))[it] > 0
                                           if "maj_arcsec" in sub.colnames else np.zeros(len(it), bool)),
                              "alpha_error": alpha_err, "sep_arcsec": sep})}
    return numbers, arrays


# ---------------------------------------------------------------- figures


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _scatter(ax, x, y, label, unit, log):
    ax.scatter(x, y, s=8, color="k", alpha=0.7)
    finite = np.isfinite(x) & np.isfinite(y)
    if finite.any():
        lo = float(min(x[finite].min(), y[finite].min()))
        hi = float(max(x[finite].max(), y[finite].max()))
        ax.plot([lo, hi], [lo, hi], "--", color="tab:blue", lw=1)
    if log and finite.any() and (x[finite] > 0).all() and (y[finite] > 0).all():
        ax.set_xscale("log")
        ax.set_yscale("log")
    suffix = f" ({unit})" if unit else ""
    ax.set_xlabel(f"{label} without model{suffix}")
    ax.set_ylabel(f"{label} with model{suffix}")


def _histogram(ax, values, fit, label, unit, scale=1.0):
    x = np.asarray(values, float)
    x = x[np.isfinite(x)] * scale
    ax.set_xlabel(f"{label}{f' ({unit})' if unit else ''}")
    ax.set_ylabel("components")
    if x.size == 0:
        return
    if fit["sigma"]:
        mu, sigma = fit["mean"] * scale, fit["sigma"] * scale
        lo, hi = mu - 8 * sigma, mu + 8 * sigma
        shown = x[(x >= lo) & (x <= hi)]
    else:
        shown = x
    bins = np.histogram_bin_edges(shown, bins=max(10, min(60, int(np.sqrt(shown.size)) * 2)))
    ax.hist(shown, bins=bins, color="0.6")
    if fit["sigma"]:
        grid = np.linspace(bins[0], bins[-1], 400)
        mass = stats.norm.cdf(CLIP) - stats.norm.cdf(-CLIP)
        amplitude = fit["n_core"] / mass * (bins[1] - bins[0])
        ax.plot(grid, amplitude * stats.norm.pdf(grid, mu, sigma), color="tab:orange")
        ax.text(0.03, 0.95, f"mean {mu:.3g} ± {fit['mean_err'] * scale:.2g}\n"
                f"sigma {sigma:.3g} ± {fit['sigma_err'] * scale:.2g}\n"
                f"n {fit['n']} (core {fit['n_core']})"
                + (f", {x.size - shown.size} off scale" if x.size > shown.size else ""),
                transform=ax.transAxes, va="top", fontsize=8)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    write_figure(fig, path, dpi=110, metadata={"Software": None})
    _plt().close(fig)
    return path


def _figures(out: Path, pairs: dict, fits: dict, quantities: list[str], tp: dict,
             truth_arrays: dict | None) -> list[Path]:
    plt = _plt()
    paths = []
    flux_scale = {"Total_flux": (1e6, "µJy"), "Peak_flux": (1e6, "µJy/beam")}
    # Memo Figures 7/8: fluxes, scatter over difference histogram.
    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    for col, q in enumerate(("Total_flux", "Peak_flux")):
        _scatter(axes[0, col], pairs[f"nomodel_{q}"], pairs[f"model_{q}"], q, QUANTITIES[q][0],
                 True)
        scale, unit = flux_scale[q]
        _histogram(axes[1, col], pairs[f"diff_{q}"], fits[q]["difference"],
                   f"{q} model - nomodel", unit, scale)
    paths.append(_save(fig, out / "fluxes.png"))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for col, q in enumerate(("Total_flux", "Peak_flux")):
        _histogram(axes[col], pairs[f"frac_{q}"], fits[q]["fractional_difference"],
                   f"{q} (model - nomodel) / nomodel", "")
    paths.append(_save(fig, out / "fluxes_fractional.png"))
    # Memo Figure 10: spectral index.
    if "Alpha" in quantities:
        fig, axes = plt.subplots(2, 1, figsize=(5, 8))
        _scatter(axes[0], pairs["nomodel_Alpha"], pairs["model_Alpha"], "Alpha", "", False)
        _histogram(axes[1], pairs["diff_Alpha"], fits["Alpha"]["difference"],
                   "Alpha model - nomodel", "")
        paths.append(_save(fig, out / "alpha.png"))
    shapes = [q for q in ("Maj", "Min", "PA") if q in quantities]
    if shapes:
        fig, axes = plt.subplots(2, len(shapes), figsize=(4.5 * len(shapes), 8), squeeze=False)
        for col, q in enumerate(shapes):
            _scatter(axes[0, col], pairs[f"nomodel_{q}"], pairs[f"model_{q}"], q,
                     QUANTITIES[q][0], False)
            _histogram(axes[1, col], pairs[f"diff_{q}"], fits[q]["difference"],
                       f"{q} model - nomodel", QUANTITIES[q][0])
        paths.append(_save(fig, out / "shapes.png"))
    # Memo Figure 9: total / peak of both arms.
    fig, ax = plt.subplots(figsize=(6, 4))
    both = np.concatenate([tp["model"], tp["nomodel"]])
    both = both[np.isfinite(both)]
    if both.size:
        lo, hi = np.percentile(both, [0.5, 99.5])
        bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 40)
        for arm, color in zip(ARMS, ("tab:orange", "tab:blue")):
            ax.hist(tp[arm], bins=bins, histtype="step", color=color, label=arm)
        ax.legend()
    ax.set_xlabel("Total_flux / Peak_flux (beam)")
    ax.set_ylabel("components")
    if tp["ks_pvalue"] is not None:
        ax.set_title(f"KS D = {tp['ks_statistic']:.3f}, p = {tp['ks_pvalue']:.3g}", fontsize=9)
    paths.append(_save(fig, out / "total_over_peak.png"))
    if truth_arrays:
        fig, axes = plt.subplots(2, 1, figsize=(6, 8), sharex=True)
        for arm, color in zip(ARMS, ("tab:orange", "tab:blue")):
            arrays = truth_arrays[arm]
            axes[0].scatter(arrays["true_flux"], arrays["ratio"], s=8, color=color, label=arm)
            axes[1].scatter(arrays["true_flux"], arrays["alpha_err"], s=8, color=color, label=arm)
        axes[0].axhline(1.0, ls="--", color="k", lw=1)
        axes[1].axhline(0.0, ls="--", color="k", lw=1)
        axes[0].set_ylabel("Total_flux measured / true")
        axes[1].set_ylabel("Alpha measured - true")
        axes[1].set_xlabel("true flux (Jy)")
        if any(len(truth_arrays[arm]["true_flux"]) for arm in ARMS):
            axes[1].set_xscale("log")
        axes[0].legend()
        paths.append(_save(fig, out / "truth.png"))
    return paths


# ---------------------------------------------------------------- the stage


def compare(model_cat: Path, nomodel_cat: Path, out: Path, truth: Path | None = None,
            settings: CompareSettings = CompareSettings()) -> CompareResult:
    """Compare the model and nomodel catalogues (and each with the truth); write ``out``."""
    started = time.monotonic()
    match_radius_arcsec, outlier_sigma = settings.match_radius_arcsec, settings.outlier_sigma
    bright_flux_jy, rms_jy, truth_field = settings.bright_flux_jy, settings.rms_jy, settings.truth_field
    completeness_snr, bright_snr = settings.completeness_snr, settings.bright_snr
    out = Path(out)
    if match_radius_arcsec <= 0:
        raise CalmodelError(f"match radius must be positive, not {match_radius_arcsec}")
    cats = {"model": read_catalog(model_cat), "nomodel": read_catalog(nomodel_cat)}
    truth_table = read_truth(truth) if truth is not None else None
    m, n = cats["model"], cats["nomodel"]
    im, inm, sep = match_one_to_one(sky_coords(m["RA"], m["DEC"]), sky_coords(n["RA"], n["DEC"]),
                                    match_radius_arcsec)

    pairs = Table()
    pairs["model_row"] = im
    pairs["nomodel_row"] = inm
    for arm, idx in (("model", im), ("nomodel", inm)):
        if "Gaus_id" in cats[arm].colnames:
            pairs[f"{arm}_Gaus_id"] = np.asarray(cats[arm]["Gaus_id"])[idx].astype(int)
    pairs["RA"] = np.asarray(n["RA"])[inm]
    pairs["DEC"] = np.asarray(n["DEC"])[inm]
    pairs["sep_arcsec"] = sep
    quantities, fits = [], {}
    for q, (unit, fractional) in QUANTITIES.items():
        if q not in m.colnames or q not in n.colnames:
            continue
        a, b = np.asarray(m[q], float)[im], np.asarray(n[q], float)[inm]
        if q == "Alpha" and not np.any(np.isfinite(a) & np.isfinite(b)):
            continue  # no spectral index (QL images)
        quantities.append(q)
        pairs[f"model_{q}"], pairs[f"nomodel_{q}"] = a, b
        pairs[f"diff_{q}"] = _wrap_pa(a - b) if q == "PA" else a - b
        fits[q] = {"unit": unit, "difference": gaussian_core_fit(pairs[f"diff_{q}"])}
        if fractional:
            with np.errstate(divide="ignore", invalid="ignore"):
                pairs[f"frac_{q}"] = (a - b) / b
            fits[q]["fractional_difference"] = gaussian_core_fit(pairs[f"frac_{q}"])

    # Outliers in fractional total flux, and their distance to bright components.
    frac_fit = fits["Total_flux"]["fractional_difference"]
    if frac_fit["sigma"]:
        pairs["nsigma_frac_Total_flux"] = ((pairs["frac_Total_flux"] - frac_fit["mean"])
                                           / frac_fit["sigma"])
    else:
        pairs["nsigma_frac_Total_flux"] = np.full(len(pairs), np.nan)
    pairs["outlier"] = np.abs(np.nan_to_num(pairs["nsigma_frac_Total_flux"])) > outlier_sigma
    pairs["bright_dist_arcsec"], bright_threshold = _bright_distance(
        sky_coords(pairs["RA"], pairs["DEC"]), inm, n, bright_flux_jy)
    outlier_rows = pairs[pairs["outlier"]]
    outliers = {
        "n_sigma": outlier_sigma,
        "bright_flux_jy": bright_threshold,
        "bright_rule": "given" if bright_flux_jy is not None else "brightest 5% of nomodel",
        "n": len(outlier_rows),
        "median_bright_dist_arcsec": {
            "outliers": _median_or_none(outlier_rows["bright_dist_arcsec"]),
            "all_matched": _median_or_none(pairs["bright_dist_arcsec"])},
        "items": [{"model_row": int(r["model_row"]), "nomodel_row": int(r["nomodel_row"]),
                   "ra_deg": float(r["RA"]), "dec_deg": float(r["DEC"]),
                   "model_total_flux_jy": float(r["model_Total_flux"]),
                   "nomodel_total_flux_jy": float(r["nomodel_Total_flux"]),
                   "frac_diff": float(r["frac_Total_flux"]),
                   "nsigma": float(r["nsigma_frac_Total_flux"]),
                   "bright_dist_arcsec": float(r["bright_dist_arcsec"])} for r in outlier_rows],
    }

    # Memo Figure 9: total/peak of every component of each arm.
    tp = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for arm in ARMS:
            ratio = (np.asarray(cats[arm]["Total_flux"], float)
                     / np.asarray(cats[arm]["Peak_flux"], float))
            tp[arm] = ratio[np.isfinite(ratio)]
    ks = (stats.ks_2samp(tp["model"], tp["nomodel"])
          if tp["model"].size >= 2 and tp["nomodel"].size >= 2 else None)
    tp["ks_statistic"] = float(ks.statistic) if ks else None
    tp["ks_pvalue"] = float(ks.pvalue) if ks else None
    total_over_peak = {arm: median_with_error(tp[arm]) for arm in ARMS}
    total_over_peak.update({"ks_statistic": tp["ks_statistic"], "ks_pvalue": tp["ks_pvalue"]})

    truth_numbers, truth_arrays = None, None
    if truth_table is not None:
        truth_numbers, truth_arrays = {}, {}
        for arm, path in (("model", model_cat), ("nomodel", nomodel_cat)):
            truth_numbers[arm], truth_arrays[arm] = truth_comparison(
                cats[arm], catalog_record(path), truth_table, match_radius_arcsec, rms_jy,
                truth_field, completeness_snr, bright_snr)

    out.mkdir(parents=True, exist_ok=True)
    matched = write_table(pairs, out / "matched.csv", "ascii.csv")
    truth_tables = [write_table(truth_arrays[arm]["table"], out / f"truth_{arm}.csv", "ascii.csv")
                    for arm in ARMS] if truth_arrays else []
    figures = _figures(out, pairs, fits, quantities, tp, truth_arrays)
    results = {
        "inputs": {"model": str(model_cat), "nomodel": str(nomodel_cat),
                   "truth": str(truth) if truth else None},
        "match_radius_arcsec": match_radius_arcsec,
        "counts": {"model": len(m), "nomodel": len(n), "matched": len(pairs),
                   "model_unmatched": len(m) - len(pairs),
                   "nomodel_unmatched": len(n) - len(pairs)},
        "median_separation_arcsec": float(np.median(sep)) if len(sep) else None,
        "quantities": quantities,
        "differences": fits,
        "total_over_peak": total_over_peak,
        "outliers": outliers,
        "truth": truth_numbers,
        "products": {"matched": matched.name, "figures": [p.name for p in figures],
                     "truth_matches": [p.name for p in truth_tables]},
    }
    parameters = {"match_radius_arcsec": match_radius_arcsec, "outlier_sigma": outlier_sigma,
                  "bright_flux_jy": bright_flux_jy, "rms_jy": rms_jy, "truth_field": truth_field,
                  "completeness_snr": completeness_snr, "bright_snr": bright_snr,
                  "fit": f"iterated clipped moments, +-{CLIP:g} sigma core"}
    record = write_json(out / "compare.json", stage_record("compare", parameters, results, started))
    return CompareResult(record, matched, figures, len(m), len(n), len(pairs), fits)
