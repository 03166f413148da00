"""Hand-written stage records for the report's tests, shaped as the stages write them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

def fit(mean, err, sigma, n=200):
    """A Gaussian-core fit as compare.json writes it."""
    return {"n": n, "n_core": n - 4, "mean": mean, "mean_err": err, "sigma": sigma,
            "sigma_err": sigma / math.sqrt(2 * (n - 5)), "median": mean,
            "method": "iterated clipped moments, +-3 sigma core"}


def robust(median, sigma, n=200):
    return {"n": n, "median": median, "robust_sigma": sigma,
            "median_err": math.sqrt(math.pi / 2) * sigma / math.sqrt(n)}


def truth_arm(ratio, err, alpha_err=0.0, n=150):
    sigma = err * math.sqrt(n) / math.sqrt(math.pi / 2)
    return {"n_truth_in_image": n + 10, "n_truth_outside_image": 0, "n_matched": n,
            "median_separation_arcsec": 0.05, "rms_jy_per_beam": 1.2e-4,
            "flux_ratio": robust(ratio, sigma, n),
            "flux_ratio_bright": {"snr_min": 20.0, **robust(ratio, sigma, n)},
            "alpha_error": robust(alpha_err, 0.1, n),
            "alpha_error_bright": {"snr_min": 20.0, **robust(alpha_err, 0.05, n)},
            "completeness": {"snr_min": 5.0, "n_truth": 140, "n_detected": 138,
                             "fraction": 138 / 140},
            "completeness_bright": {"snr_min": 20.0, "n_truth": 90, "n_detected": 90,
                                    "fraction": 1.0},
            "false_detections": {"n": 3, "fraction": 3 / (n + 3)}}


def compare_record(total=(0.001, 0.0005, 0.008), peak=(-0.001, 0.0005, 0.007), alpha=None,
                   truth=None, n=200, flux_jy=2e-2):
    """A compare.json; offsets are fractional (mean, error, sigma); absolute ones follow from
    a typical flux ``flux_jy``."""
    diffs = {}
    for name, (mean, err, sigma), unit in (("Total_flux", total, "Jy"),
                                           ("Peak_flux", peak, "Jy/beam")):
        diffs[name] = {"unit": unit,
                       "difference": fit(mean * flux_jy, err * flux_jy, sigma * flux_jy, n),
                       "fractional_difference": fit(mean, err, sigma, n)}
    quantities = ["Total_flux", "Peak_flux"]
    if alpha is not None:
        diffs["Alpha"] = {"unit": "", "difference": fit(*alpha, n=n - 40)}
        quantities.append("Alpha")
    return {
        "stage": "compare", "calmodel_version": "0.1.0",
        "parameters": {"match_radius_arcsec": 0.5, "outlier_sigma": 5.0, "bright_flux_jy": None,
                       "rms_jy": None, "truth_field": None, "completeness_snr": 5.0,
                       "bright_snr": 20.0, "fit": "iterated clipped moments, +-3 sigma core"},
        "elapsed_s": 2.5,
        "inputs": {"model": "model/catalog.fits", "nomodel": "nomodel/catalog.fits",
                   "truth": "sky.csv" if truth else None},
        "match_radius_arcsec": 0.5,
        "counts": {"model": n + 5, "nomodel": n + 3, "matched": n, "model_unmatched": 5,
                   "nomodel_unmatched": 3},
        "median_separation_arcsec": 0.06,
        "quantities": quantities,
        "differences": diffs,
        "total_over_peak": {"model": robust(1.10, 0.03, n + 5), "nomodel": robust(1.09, 0.03, n + 3),
                            "ks_statistic": 0.05, "ks_pvalue": 0.8},
        "outliers": {"n_sigma": 5.0, "n": 2, "items": []},
        "truth": truth,
        "products": {"matched": "matched.csv", "figures": []},
    }


def write(path: Path, payload: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1))
    return path


def write_png(path: Path, label: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(np.arange(10), np.arange(10) ** 1.5, color="tab:orange")
    ax.set_title(label)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def image_record(field, mode, rms=1.5e-4):
    return {"stage": "image", "calmodel_version": "0.1.0",
            "parameters": {"ms": "calibrated.ms", "field": field, "mode": mode, "robust": 1.0},
            "elapsed_s": 60.0, "name": f"{field}.{mode}", "field": field, "mode": mode,
            "rms_jy": rms, "beam": {"major_arcsec": 2.5, "minor_arcsec": 2.0, "pa_deg": 30.0},
            "imsize": [480, 480], "cell_arcsec": 0.6, "reference_frequency_hz": 3.0e9,
            "rms_over_thermal": 1.1, "peak_jy": 0.5, "dynamic_range": 0.5 / rms}


VLASS_LIKE_CALIBRATOR = [(1.0, 0.0, 0.0), (0.08, 2.4, 1.8), (0.06, -2.6, -2.4)]
COEQUAL_CALIBRATOR = [(0.6, 0.0, 0.0), (0.5, 2.2, 2.4)]


def write_calibrator_truth(folder: Path, components=VLASS_LIKE_CALIBRATOR) -> Path:
    """truth/calibrator.json as simulate writes it: (flux, east, north arcsec) at 94.5, -11.5."""
    ra0, dec0 = 94.5, -11.5
    rows = [{"ra_deg": ra0 + east / 3600.0 / math.cos(math.radians(dec0)),
             "dec_deg": dec0 + north / 3600.0, "flux_jy": flux, "alpha": -0.1,
             "maj_arcsec": 0.0, "min_arcsec": 0.0, "pa_deg": 0.0, "ref_freq_hz": 3e9, "field": ""}
            for flux, east, north in components]
    return write(folder / "truth" / "calibrator.json", {
        "field": "J0618", "ra_deg": ra0, "dec_deg": dec0, "components": rows,
        "total_flux_jy": sum(r["flux_jy"] for r in rows)})


def tile_side_records(root: Path, tile: str, calibrator=VLASS_LIKE_CALIBRATOR):
    """characterize, build_model, calibrate (both arms) and tile records of one tile, and
    the simulated calibrator's truth."""
    write_calibrator_truth(root / tile / "simulate", calibrator)
    write(root / tile / "simulate" / "tile.json", {
        "stage": "simulate", "calmodel_version": "0.1.0",
        "parameters": {"preset": "vlass-like", "config": None, "seed": 3}, "elapsed_s": 40.0,
        "tile": "simulate", "truth": {"sky": "truth/sky.csv", "calibrator": "truth/calibrator.json"},
        "fields": {"flux_calibrator": "3C286", "gain_calibrator": "J0618",
                                       "targets": ["TARGET"]},
        "expected_image_rms_jy": {"TARGET": 1.4e-4, "J0618": 3e-4}, "noise_sigma_jy": 0.05})
    write(root / tile / "characterize" / "characterize.json", {
        "stage": "characterize", "calmodel_version": "0.1.0",
        "parameters": {"threshold": 0.03, "band_klambda": [35.0, 90.0]}, "elapsed_s": 30.0,
        "band_klambda_scaled": [35.0, 90.0], "decisions": {"J0618": "model-needed"},
        "calibrators": [{"field": "J0618", "decision": "model-needed", "suggested_uvrange": None,
                         "max_abs_dev_in_band": 0.081, "max_abs_dev_outside_band": 0.02,
                         "coverage": {"status": "ok"}}]})
    write_png(root / tile / "characterize" / "J0618_amp_uvdist.png", "J0618 amp vs uvdist")
    write(root / tile / "build_model" / "build_model.json", {
        "stage": "build_model", "calmodel_version": "0.1.0",
        "parameters": {"field": "J0618"}, "elapsed_s": 300.0, "field": "J0618",
        "rounds": [{"solint": "inf", "accepted": True, "reason": "S/N up"},
                   {"solint": "int", "accepted": False, "reason": "rms grew 7%"}],
        "chosen_solint": "inf", "initial_snr": 900.0, "final_snr": 2500.0,
        "model_total_flux_jy": 1.2, "n_components": 85})
    for arm, flux in (("model", 1.001), ("nomodel", 1.35)):
        write(root / tile / "calibrate" / arm / "calibrate.json", {
            "stage": "calibrate", "calmodel_version": "0.1.0",
            "parameters": {"model": "model.cl" if arm == "model" else None,
                           "flux_scale": "bootstrap"}, "elapsed_s": 120.0, "arm": arm,
            "fluxscale": {"field": "J0618", "fit_flux_jy": flux, "fit_flux_error_jy": 0.002,
                          "fit_alpha": -0.1, "fit_alpha_error": 0.01, "fit_ref_freq_hz": 3e9}})


def tree(root: Path, tiles: dict, calibrators: dict | None = None) -> Path:
    """tiles: {tile: {"<field>_<mode>": compare record}} in the pipeline's layout, with
    image.json records of both arms and the other stages' records."""
    for tile, comps in tiles.items():
        for name, rec in comps.items():
            folder = write(root / tile / "compare" / name / "compare.json", rec).parent
            write_png(folder / "fluxes.png", f"{tile} {name}")
            fieldname, mode = name.rsplit("_", 1)
            for arm in ("model", "nomodel"):
                write(root / tile / "image" / f"{name}_{arm}" / "image.json",
                      image_record(fieldname, mode))
        tile_side_records(root, tile, (calibrators or {}).get(tile, VLASS_LIKE_CALIBRATOR))
    return root
