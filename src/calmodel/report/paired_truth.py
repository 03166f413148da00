"""Each arm against the simulated truth, over the same components.

compare.json's truth numbers are medians over each arm's own matches, so the two arms'
samples differ. Here the components matched in both arms (compare's matched.csv) are
matched to the truth (truth/sky.csv beside tile.json) once, and for each of them

    d = (model - nomodel) / true

is formed for Total_flux, and for Peak_flux where the true component is a point source
(its expected peak is its flux; a resolved one's would need the beam, which matched.csv
does not carry). The paired difference is the median of d with its robust error; each
arm's ratio to the truth is given over the same components.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from calmodel.core.skymatch import match_one_to_one, sky_coords
from calmodel.core.stats import median_with_error
from calmodel.report.values import number



def read_csv_columns(path: Path) -> dict[str, list[str]] | None:
    if not Path(path).is_file():
        return None
    with Path(path).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    return {key: [row[key] for row in rows] for key in rows[0]}


def _floats(columns: dict, name: str) -> np.ndarray:
    return np.array([float(v) if v not in ("", None) else np.nan for v in columns[name]])


def robust_median(values: np.ndarray) -> dict:
    """The median with its error, in the shape of compare's Gaussian-core fits (mean,
    mean_err, sigma, n, n_core) so that verdicts and tables read both alike."""
    stats = median_with_error(values)
    return {"mean": stats["median"], "mean_err": stats["median_err"], "sigma": stats["robust_sigma"],
            "n": stats["n"], "n_core": stats["n"], "statistic": "median"}


def paired_against_truth(matched: dict, truth: dict, field: str | None, radius_arcsec: float,
                         frequency_hz: float | None) -> dict | None:
    """Paired numbers of one compare (``matched``: matched.csv columns; ``truth``: sky.csv
    columns), or None when either lacks what is needed."""
    needed = {"RA", "DEC", "model_Total_flux", "nomodel_Total_flux"}
    if not matched or not truth or not needed <= set(matched) or "flux_jy" not in truth:
        return None
    keep = np.ones(len(truth["flux_jy"]), bool)
    if field and "field" in truth and field in set(truth["field"]):
        keep = np.array([f == field for f in truth["field"]])
    true_flux = _floats(truth, "flux_jy")[keep]
    if frequency_hz and "ref_freq_hz" in truth and "alpha" in truth:
        # sky.csv gives flux at ref_freq_hz; the catalogue measures at the image's frequency
        ratio = frequency_hz / _floats(truth, "ref_freq_hz")[keep]
        true_flux = true_flux * np.nan_to_num(ratio ** np.nan_to_num(_floats(truth, "alpha")[keep]), nan=1.0)
    point = (np.nan_to_num(_floats(truth, "maj_arcsec")[keep]) <= 0.0 if "maj_arcsec" in truth
             else np.ones(keep.sum(), bool))
    im, it, _ = match_one_to_one(
        sky_coords(_floats(matched, "RA"), _floats(matched, "DEC")),
        sky_coords(_floats(truth, "ra_deg")[keep], _floats(truth, "dec_deg")[keep]),
        radius_arcsec)
    out: dict = {"n_paired_with_truth": int(len(im)), "frequency_hz": frequency_hz}
    for key, quantity, subset in (("total_flux", "Total_flux", np.ones(len(it), bool)),
                                  ("peak_flux", "Peak_flux", point[it])):
        if f"model_{quantity}" not in matched:
            continue
        model = _floats(matched, f"model_{quantity}")[im][subset]
        nomodel = _floats(matched, f"nomodel_{quantity}")[im][subset]
        true = true_flux[it][subset]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[key] = robust_median((model - nomodel) / true)
            out[f"{key}_model_over_true"] = robust_median(model / true)
            out[f"{key}_nomodel_over_true"] = robust_median(nomodel / true)
    return out


def truth_tables_for(simulate_record_path: Path, simulate_data: dict) -> dict | None:
    """sky.csv of a simulated tile (path from tile.json's truth.sky, beside it)."""
    relative = (simulate_data.get("truth") or {}).get("sky") or "truth/sky.csv"
    return read_csv_columns(Path(simulate_record_path).parent / relative)


def frequency_of(image: dict | None) -> float | None:
    return number((image or {}).get("reference_frequency_hz"))
