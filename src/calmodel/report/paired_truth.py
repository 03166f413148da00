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
import math
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from calmodel.report.values import number

MAD_TO_SIGMA = 1.4826
ARCSEC_PER_RADIAN = 180.0 * 3600.0 / math.pi


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


def unit_vectors(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


def mutual_nearest(a: np.ndarray, b: np.ndarray, radius_arcsec: float):
    """Index pairs (ia, ib) of unit vectors that are each other's nearest within radius."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    chord = 2.0 * math.sin(radius_arcsec / ARCSEC_PER_RADIAN / 2.0)
    dist_ab, ab = cKDTree(b).query(a)
    _, ba = cKDTree(a).query(b)
    ia = np.arange(len(a))
    keep = (dist_ab <= chord) & (ba[ab] == ia)
    return ia[keep], ab[keep]


def robust_median(values: np.ndarray) -> dict:
    x = values[np.isfinite(values)]
    if x.size == 0:
        return {"mean": None, "mean_err": None, "sigma": None, "n": 0, "n_core": 0}
    median = float(np.median(x))
    sigma = MAD_TO_SIGMA * float(np.median(np.abs(x - median)))
    # a median scatters sqrt(pi/2) more than a mean of a normal sample
    return {"mean": median, "mean_err": math.sqrt(math.pi / 2.0) * sigma / math.sqrt(x.size),
            "sigma": sigma, "n": int(x.size), "n_core": int(x.size), "statistic": "median"}


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
    im, it = mutual_nearest(
        unit_vectors(_floats(matched, "RA"), _floats(matched, "DEC")),
        unit_vectors(_floats(truth, "ra_deg")[keep], _floats(truth, "dec_deg")[keep]),
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
