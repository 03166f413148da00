"""The `report` stage: every tile's stage records -> tables, a verdict and one HTML page.

Discovery
    Each INPUT is a stage record file or a folder searched recursively for the records
    ``compare.json``, ``catalog.json``, ``image.json``, ``characterize.json``,
    ``build_model.json``, ``calibrate.json`` and ``tile.json`` (hidden files and folders,
    such as the temporary names of an unfinished atomic write, are skipped).  The report is
    built from these records only (and the PNG figures beside the compare, characterize and
    build-model records).

Which tile, field, image mode and arm a record belongs to
    1. ``meta.json`` beside the record, with any of the keys ``tile``, ``field``, ``mode``
       (``ql`` | ``se``) and ``arm`` (``model`` | ``nomodel``), wins.
    2. Else what the record itself declares: ``image.json`` its ``field`` and ``mode``,
       ``calibrate.json`` its ``arm``, ``tile.json`` its ``tile``.
    3. Else the path.  The tile is the folder above the nearest stage folder (``compare``,
       ``catalog``, ``image``, ``characterize``, ``build_model``, ``calibrate``,
       ``simulate`` ...); each folder between the stage folder and the record is read as
       ``<field>_<mode>[_<arm>]`` or ``<arm>``.  So the pipeline's
       ``<outdir>/<tile>/compare/<field>_<mode>/compare.json`` names all three.  Without a
       stage folder, the record's folder is read that way and the tile is the folder
       above it, or, if the record's folder does not parse, that folder itself.
    A ``compare.json`` whose image mode cannot be found this way is an error, as are two
    ``compare.json`` records for the same tile, field and mode.

Numbers (see ``docs/report.md``)
    Per compare record: the Gaussian-core fits of ``compare`` (mean +- error, sigma +- error)
    of the Total_flux and Peak_flux differences (absolute and fractional) and of the
    spectral index difference, the total/peak centres, the truth comparison per arm, and
    the offsets in units of the image rms (``image.json`` ``rms_jy``, nomodel arm first;
    else ``catalog.json``, the truth comparison, or ``tile.json``'s expected rms).
    A tile combines its fields, the overall row combines the tiles: inverse-variance
    weighted mean with its error scaled up by sqrt(chi2/dof) when the parts disagree
    more than their errors allow (Birge ratio); sigma is the spread of the pooled
    components about that mean; counts add.

Outputs: ``report.json``, ``tables.md`` and ``report.html`` (self-contained), written
atomically.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import time
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Any, Iterable

from calmodel import CalmodelError, __version__
from calmodel.core.constants import ARMS, MODES
from calmodel.core.io import write_json, write_text as _write_text
from calmodel.core.records import stage_record

RECORD_FILES = {
    "compare.json": "compare",
    "catalog.json": "catalog",
    "image.json": "image",
    "characterize.json": "characterize",
    "build_model.json": "build_model",
    "calibrate.json": "calibrate",
    "tile.json": "simulate",
}
STAGE_DIRS = {"compare", "catalog", "catalogue", "catalogs", "image", "images", "imaging",
              "characterize", "build_model", "build-model", "calibrate", "simulate", "tile"}
MODE_NAMES = {"ql": "QL (Quick Look)", "se": "SE (Single Epoch)"}
MODE_TABLES = {"ql": "memo Table 2", "se": "memo Table 3"}
META_KEYS = ("tile", "field", "mode", "arm")
FIGURE_STAGES = ("characterize", "build_model", "compare")
FIGURE_CAPTIONS = {
    "fluxes.png": "Total and peak flux with vs without model, and the histograms of their "
                  "differences with the fitted Gaussian (memo Figures 7/8)",
    "fluxes_fractional.png": "Fractional total and peak flux differences (model - nomodel) / "
                             "nomodel with the fitted Gaussian",
    "total_over_peak.png": "Total flux / peak flux of both arms, with the KS test (memo Figure 9)",
    "alpha.png": "Spectral index with vs without model and the histogram of the differences "
                 "(memo Figure 10)",
    "shapes.png": "Component major/minor axis and position angle, with vs without model",
    "truth.png": "Measured / true flux and measured - true spectral index, per arm",
    "selfcal_rounds.png": "Self-calibration rounds of the calibrator model (build-model)",
    "calibrator_image.png": "Image of the gain calibrator used as its model (build-model)",
}
VERDICTS = ("significant-change", "no-significant-change", "not-evaluated")
TRUTH_MIN_BRIGHT = 3


@dataclass(frozen=True)
class Criterion:
    nsigma: float = 3.0
    # A survey's absolute flux-scale uncertainty is a few %: an offset between the arms below
    # it is not a scientific change, however precisely thousands of components measure it.
    flux_threshold: float = 0.03  # fractional
    alpha_threshold: float = 0.05
    rms_fraction: float = 0.5  # a flux offset must also exceed this fraction of the image RMS

    def text(self) -> str:
        n, f, a = self.nsigma, self.flux_threshold, self.alpha_threshold
        return (
            f"A tile is 'significant-change' if, in any image mode (QL or SE): "
            f"(1) the mean fractional offset (model - nomodel) / nomodel of the matched "
            f"components' Total_flux or Peak_flux has |mean| > {n:g} x its uncertainty and "
            f"|mean| > {f:g} ({f * 100:g}%) and the mean offset in Jy exceeds "
            f"{self.rms_fraction:g} x the image RMS (where image.json gives it: the memo judged "
            f"offsets against the image noise, so a tiny but precisely measured offset is not "
            f"a scientific change); or "
            f"(2) against the simulated truth, the two arms' median flux ratios "
            f"(measured / true Total_flux) differ by more than {n:g} x their combined "
            f"uncertainty and by more than {f:g}; or "
            f"(3) the mean spectral index offset (model - nomodel) has |mean| > {n:g} x its "
            f"uncertainty and |mean| > {a:g}. "
            f"Otherwise 'no-significant-change'; 'not-evaluated' when no compare.json gives a "
            f"number to test. A tile's offsets combine its fields' compare.json records "
            f"(inverse-variance weighted mean, error scaled up by sqrt(chi2/dof) when the "
            f"fields disagree); the overall verdict applies the same test to all tiles "
            f"combined that way and is also 'significant-change' when any tile is.")

    def as_dict(self) -> dict:
        return {
            "text": self.text(),
            "nsigma": self.nsigma,
            "flux_threshold_fractional": self.flux_threshold,
            "alpha_threshold": self.alpha_threshold,
            "rms_fraction": self.rms_fraction,
            "flux_quantities": ["Total_flux", "Peak_flux"],
            "flux_offset": "Gaussian-core fit of (model - nomodel) / nomodel over matched "
                           "components (compare.json differences.<q>.fractional_difference)",
            "alpha_offset": "Gaussian-core fit of Alpha model - nomodel "
                            "(compare.json differences.Alpha.difference)",
            "truth_flux_ratio": f"median measured/true Total_flux of components with true peak "
                                f"S/N >= the compare bright_snr (flux_ratio_bright) when both "
                                f"arms have >= {TRUTH_MIN_BRIGHT}, else of all matched "
                                f"(flux_ratio); uncertainty = compare's median_err, combined "
                                f"in quadrature for the difference",
            "combination": "inverse-variance weighted mean; error x max(1, sqrt(chi2/dof)); "
                           "sigma = rms of the pooled components about the combined mean",
            "overall": "same test on all tiles combined, or any tile significant-change",
            "verdicts": list(VERDICTS),
        }


@dataclass
class Record:
    path: Path
    stage: str
    data: dict
    tile: str
    field: str | None = None
    mode: str | None = None
    arm: str | None = None
    identified_by: dict = dc_field(default_factory=dict)


@dataclass
class ReportResult:
    out: Path
    html: Path
    markdown: Path
    record: Path
    verdict: str
    tiles: list[str]
    n_records: int


# ---------------------------------------------------------------- small helpers


def _get(d: Any, *keys, default=None):
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return default if d is None else d


def _num(x) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CalmodelError(f"{path}: not valid JSON ({err})") from None
    except OSError as err:
        raise CalmodelError(f"{path}: cannot read ({err.strerror})") from None
    if not isinstance(data, dict):
        raise CalmodelError(f"{path}: expected a JSON object")
    return data


# ---------------------------------------------------------------- discovery


def discover(inputs: Iterable[Path]) -> list[Path]:
    """The stage record files named or found (recursively) under ``inputs``."""
    found: dict[Path, Path] = {}
    for item in inputs:
        item = Path(item)
        if not item.exists():
            raise CalmodelError(f"input not found: {item}")
        if item.is_file():
            if item.name not in RECORD_FILES:
                raise CalmodelError(f"{item}: not a stage record (expected one of "
                                    f"{', '.join(RECORD_FILES)}, or a folder)")
            candidates = [item]
        else:
            candidates, visited = [], set()
            # Nextflow stages inputs as symlinks: follow them, but not round a cycle.
            for root, dirs, files in os.walk(item, followlinks=True):
                real = os.path.realpath(root)
                if real in visited:
                    dirs[:] = []
                    continue
                visited.add(real)
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                candidates += [Path(root) / f for f in sorted(files) if f in RECORD_FILES]
        for path in candidates:
            found.setdefault(path.resolve(), path)
    return sorted(found.values(), key=lambda p: str(p))


def _parse_folder(name: str) -> dict:
    """``<field>_<mode>[_<arm>]``, ``<arm>`` or ``<mode>`` -> the keys it names, else {}."""
    tokens = name.split("_")
    if len(tokens) == 1:
        word = name.lower()
        return {"arm": word} if word in ARMS else {"mode": word} if word in MODES else {}
    out: dict = {}
    if tokens[-1].lower() in ARMS and len(tokens) >= 3 and tokens[-2].lower() in MODES:
        out["arm"] = tokens.pop().lower()
    if tokens[-1].lower() in MODES:
        out["mode"] = tokens.pop().lower()
        out["field"] = "_".join(tokens)
    return out


def _from_path(path: Path) -> dict:
    parts = path.parent.parts
    start = max(0, len(parts) - 5)
    stage_at = None
    for i in range(len(parts) - 1, start - 1, -1):
        if parts[i].lower() in STAGE_DIRS and i >= 1:
            stage_at = i
            break
    found: dict = {}
    if stage_at is not None:
        found["tile"] = parts[stage_at - 1]
        for name in parts[stage_at + 1:]:
            found.update(_parse_folder(name))
        return found
    parsed = _parse_folder(parts[-1]) if parts else {}
    found.update(parsed)
    if parsed and len(parts) >= 2:
        found["tile"] = parts[-2]
    elif parts:
        found["tile"] = parts[-1]
    return found


def _declared(stage: str, data: dict) -> dict:
    out: dict = {}
    params = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
    if stage == "image":
        for key in ("field", "mode", "arm"):
            value = data.get(key, params.get(key))
            if isinstance(value, str) and value:
                out[key] = value
    if stage == "calibrate":
        arm = data.get("arm", params.get("arm"))
        if isinstance(arm, str) and arm:
            out["arm"] = arm
    if stage == "simulate":
        tile = data.get("tile")
        if isinstance(tile, str) and tile and tile.lower() not in STAGE_DIRS:
            out["tile"] = tile
    return out



def _one_of(values: dict, by: dict, key: str, allowed, path: Path, label: str) -> str | None:
    """The lower-cased ``values[key]`` if present; an error naming where it came from if not allowed."""
    value = values.get(key)
    if value is None:
        return None
    if value.lower() not in allowed:
        raise CalmodelError(f"{path}: {label} '{value}' (from {by[key]}) is not one of {', '.join(allowed)}")
    return value.lower()

def load_record(path: Path) -> Record:
    """Read one record and decide its tile, field, mode and arm (module docstring)."""
    path = Path(path)
    data = _read_json(path)
    stage = RECORD_FILES.get(path.name, str(data.get("stage", "")))
    meta_path = path.parent / "meta.json"
    meta = _read_json(meta_path) if meta_path.is_file() else {}
    sources = [("meta.json", {k: meta[k] for k in META_KEYS if meta.get(k) not in (None, "")}),
               ("record", _declared(stage, data)), ("path", _from_path(path))]
    values: dict = {}
    by: dict = {}
    for source, found in sources:
        for key in META_KEYS:
            if key not in values and key in found:
                values[key] = str(found[key])
                by[key] = source
    mode = _one_of(values, by, "mode", MODES, path, "image mode")
    arm = _one_of(values, by, "arm", ARMS, path, "arm")
    if stage == "compare" and (mode is None or "field" not in values):
        raise CalmodelError(
            f"{path}: cannot tell its field and image mode; put it at "
            f"<tile>/compare/<field>_<mode>/compare.json or write a meta.json beside it with "
            f'{{"tile": ..., "field": ..., "mode": "ql"|"se"}}')
    return Record(path=path, stage=stage, data=data, tile=values["tile"],
                  field=values.get("field"), mode=mode, arm=arm, identified_by=by)


# ---------------------------------------------------------------- statistics


def combine_fits(fits: list[dict]) -> dict:
    """Combine Gaussian-core fits ({mean, mean_err, sigma, sigma_err, n, n_core}) of parts.

    Inverse-variance weighted mean; its error is scaled by max(1, sqrt(chi2/dof)); sigma is
    the rms of the pooled components about the combined mean (the mixture's width)."""
    fits = [f for f in fits if isinstance(f, dict)]
    out = {"mean": None, "mean_err": None, "sigma": None, "sigma_err": None,
           "n": int(sum(_num(f.get("n")) or 0 for f in fits)),
           "n_core": int(sum(_num(f.get("n_core")) or 0 for f in fits)),
           "n_parts": 0, "chi2_dof": None}
    usable = [f for f in fits if _num(f.get("mean")) is not None and _num(f.get("mean_err")) is not None]
    out["n_parts"] = len(usable)
    if not usable:
        return out
    if len(usable) == 1:
        only = usable[0]
        out.update({k: _num(only.get(k)) for k in ("mean", "mean_err", "sigma", "sigma_err")})
        return out
    exact = [f for f in usable if f["mean_err"] == 0.0]
    if exact:
        mean = sum(f["mean"] for f in exact) / len(exact)
        err = 0.0
    else:
        weights = [1.0 / f["mean_err"] ** 2 for f in usable]
        total = sum(weights)
        mean = sum(w * f["mean"] for w, f in zip(weights, usable)) / total
        err = 1.0 / math.sqrt(total)
        chi2 = sum(w * (f["mean"] - mean) ** 2 for w, f in zip(weights, usable))
        out["chi2_dof"] = chi2 / (len(usable) - 1)
        err *= max(1.0, math.sqrt(out["chi2_dof"]))
    out["mean"], out["mean_err"] = mean, err
    spread = [f for f in usable if _num(f.get("sigma")) is not None]
    n_core = sum(max(1, int(_num(f.get("n_core")) or 1)) for f in spread)
    if spread:
        var = sum(max(1, int(_num(f.get("n_core")) or 1)) * (f["sigma"] ** 2 + (f["mean"] - mean) ** 2)
                  for f in spread) / n_core
        out["sigma"] = math.sqrt(var)
        out["sigma_err"] = out["sigma"] / math.sqrt(2.0 * (n_core - 1)) if n_core > 1 else None
    return out


def _as_fit(robust: dict | None) -> dict | None:
    """compare's robust_stats (median, robust_sigma, median_err, n) as a fit-like dict."""
    if not isinstance(robust, dict):
        return None
    return {"mean": _num(robust.get("median")), "mean_err": _num(robust.get("median_err")),
            "sigma": _num(robust.get("robust_sigma")), "sigma_err": None,
            "n": robust.get("n") or 0, "n_core": robust.get("n") or 0}


def combine_centres(parts: list[dict]) -> dict:
    """Combine robust_stats (median, robust_sigma, median_err, n): n-weighted median, pooled
    spread about it."""
    parts = [p for p in parts if isinstance(p, dict) and _num(p.get("median")) is not None]
    if not parts:
        return {"median": None, "robust_sigma": None, "median_err": None, "n": 0}
    if len(parts) == 1:
        return dict(parts[0])
    ns = [max(1, int(p.get("n") or 1)) for p in parts]
    total = sum(ns)
    centre = sum(n * p["median"] for n, p in zip(ns, parts)) / total
    var = sum(n * ((_num(p.get("robust_sigma")) or 0.0) ** 2 + (p["median"] - centre) ** 2)
              for n, p in zip(ns, parts)) / total
    errs = [(n / total * p["median_err"]) ** 2 for n, p in zip(ns, parts)
            if _num(p.get("median_err")) is not None]
    return {"median": centre, "robust_sigma": math.sqrt(var),
            "median_err": math.sqrt(sum(errs)) if errs else None, "n": total}


def _difference(a: dict | None, b: dict | None) -> dict | None:
    if not a or not b or a.get("mean") is None or b.get("mean") is None:
        return None
    ea, eb = a.get("mean_err"), b.get("mean_err")
    err = math.hypot(ea, eb) if ea is not None and eb is not None else None
    return {"value": a["mean"] - b["mean"], "error": err}


# ---------------------------------------------------------------- per-record summaries


def _truth_summary(truth: dict | None) -> dict | None:
    if not isinstance(truth, dict) or not all(isinstance(truth.get(a), dict) for a in ARMS):
        return None
    bright_ok = all((_get(truth, a, "flux_ratio_bright", "n") or 0) >= TRUTH_MIN_BRIGHT
                    and _num(_get(truth, a, "flux_ratio_bright", "median_err")) is not None
                    for a in ARMS)
    sample = "flux_ratio_bright" if bright_ok else "flux_ratio"
    arms = {}
    for arm in ARMS:
        t = truth[arm]
        n_false = _get(t, "false_detections", "n")
        n_matched = t.get("n_matched")
        n_false = int(n_false) if _num(n_false) is not None else None
        n_matched = int(n_matched) if _num(n_matched) is not None else None
        keys = ("snr_min", "n_truth", "n_detected", "fraction")
        arms[arm] = {
            "n_truth_in_image": t.get("n_truth_in_image"),
            "n_matched": n_matched,
            "flux_ratio": _as_fit(t.get(sample)),
            "flux_ratio_sample": sample,
            "flux_ratio_snr_min": _get(t, sample, "snr_min"),
            "alpha_error": _as_fit(t.get("alpha_error")),
            "completeness": {k: _get(t, "completeness", k) for k in keys},
            "completeness_bright": {k: _get(t, "completeness_bright", k) for k in keys},
            "false_detections": {
                "n": n_false,
                "n_components": (n_false + n_matched if n_false is not None
                                 and n_matched is not None else None),
                "fraction": _get(t, "false_detections", "fraction")},
        }
    return {"arms": arms, "flux_ratio_difference": _difference(arms["model"]["flux_ratio"],
                                                               arms["nomodel"]["flux_ratio"])}


def _combine_truth(parts: list[dict | None]) -> dict | None:
    parts = [p for p in parts if p]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    arms = {}
    for arm in ARMS:
        items = [p["arms"][arm] for p in parts]

        def pool(key):
            n_truth = sum(int(_get(i, key, "n_truth") or 0) for i in items)
            n_det = sum(int(_get(i, key, "n_detected") or 0) for i in items)
            return {"snr_min": _get(items[0], key, "snr_min"), "n_truth": n_truth,
                    "n_detected": n_det, "fraction": n_det / n_truth if n_truth else None}

        n_false = sum(int(_get(i, "false_detections", "n") or 0) for i in items)
        n_comp = sum(int(_get(i, "false_detections", "n_components") or 0) for i in items)
        samples = sorted({i["flux_ratio_sample"] for i in items})
        arms[arm] = {
            "n_truth_in_image": sum(int(i.get("n_truth_in_image") or 0) for i in items),
            "n_matched": sum(int(i.get("n_matched") or 0) for i in items),
            "flux_ratio": combine_fits([i["flux_ratio"] for i in items]),
            "flux_ratio_sample": "+".join(samples),
            "flux_ratio_snr_min": items[0].get("flux_ratio_snr_min"),
            "alpha_error": combine_fits([i["alpha_error"] for i in items]),
            "completeness": pool("completeness"),
            "completeness_bright": pool("completeness_bright"),
            "false_detections": {"n": n_false, "n_components": n_comp,
                                 "fraction": n_false / n_comp if n_comp else None},
        }
    return {"arms": arms, "flux_ratio_difference": _difference(arms["model"]["flux_ratio"],
                                                               arms["nomodel"]["flux_ratio"])}


def _in_rms(fit: dict | None, rms: float | None) -> dict:
    if not fit or not rms:
        return {"mean": None, "sigma": None}
    mean, sigma = fit.get("mean"), fit.get("sigma")
    return {"mean": mean / rms if mean is not None else None,
            "sigma": sigma / rms if sigma is not None else None}


def summarise_compare(rec: Record, rms: float | None, rms_source: str | None) -> dict:
    """The numbers of one compare.json the report uses."""
    d = rec.data
    diffs = d.get("differences") if isinstance(d.get("differences"), dict) else {}
    out: dict = {"tile": rec.tile, "field": rec.field, "mode": rec.mode, "record": str(rec.path),
                 "counts": {k: _get(d, "counts", k) for k in ("model", "nomodel", "matched")},
                 "rms_jy": rms, "rms_source": rms_source}
    for key, q in (("total_flux", "Total_flux"), ("peak_flux", "Peak_flux")):
        absolute = _get(diffs, q, "difference")
        out[key] = {"difference": absolute, "fractional": _get(diffs, q, "fractional_difference"),
                    "in_rms": _in_rms(absolute, rms), "unit": _get(diffs, q, "unit")}
    out["alpha"] = {"difference": _get(diffs, "Alpha", "difference")} if "Alpha" in diffs else None
    tp = d.get("total_over_peak") if isinstance(d.get("total_over_peak"), dict) else {}
    out["total_over_peak"] = {"model": tp.get("model"), "nomodel": tp.get("nomodel"),
                              "ks_statistic": tp.get("ks_statistic"),
                              "ks_pvalue": tp.get("ks_pvalue")}
    out["outliers"] = _get(d, "outliers", "n")
    out["truth"] = _truth_summary(d.get("truth"))
    return out


def combine_summaries(parts: list[dict]) -> dict:
    """A tile (its fields) or the overall row (its tiles): the same shape, combined."""
    counts = {k: sum(int(_get(p, "counts", k) or 0) for p in parts)
              for k in ("model", "nomodel", "matched")}
    rms_values = sorted(p["rms_jy"] for p in parts if p.get("rms_jy"))
    rms = rms_values[len(rms_values) // 2] if rms_values else None
    if rms_values and len(rms_values) % 2 == 0:
        rms = 0.5 * (rms_values[len(rms_values) // 2 - 1] + rms_values[len(rms_values) // 2])
    source = "median of the parts' rms" if rms is not None else None
    if len(parts) == 1:
        source = parts[0].get("rms_source")
    out: dict = {"counts": counts, "rms_jy": rms, "rms_source": source, "parts": len(parts)}
    for key in ("total_flux", "peak_flux"):
        absolute = combine_fits([_get(p, key, "difference") for p in parts])
        out[key] = {"difference": absolute,
                    "fractional": combine_fits([_get(p, key, "fractional") for p in parts]),
                    "in_rms": _in_rms(absolute, rms), "unit": _get(parts[0], key, "unit")}
    alphas = [p["alpha"]["difference"] for p in parts if p.get("alpha")]
    out["alpha"] = {"difference": combine_fits(alphas)} if alphas else None
    tp = [p.get("total_over_peak") or {} for p in parts]
    pvalues = [x["ks_pvalue"] for x in tp if _num(x.get("ks_pvalue")) is not None]
    out["total_over_peak"] = {"model": combine_centres([x.get("model") for x in tp]),
                              "nomodel": combine_centres([x.get("nomodel") for x in tp]),
                              "ks_statistic": None,
                              "ks_pvalue": min(pvalues) if pvalues else None,
                              "ks_pvalue_rule": "smallest of the parts"}
    out["outliers"] = sum(int(p.get("outliers") or 0) for p in parts)
    out["truth"] = _combine_truth([p.get("truth") for p in parts])
    return out


# ---------------------------------------------------------------- verdict


def _check(label: str, mode: str, value, error, threshold: float, nsigma: float,
           in_rms=None, rms_fraction: float | None = None) -> dict:
    value, error, in_rms = _num(value), _num(error), _num(in_rms)
    check = {"mode": mode, "quantity": label, "value": value, "error": error,
             "threshold": threshold, "nsigma": nsigma, "significance": None,
             "significant": None, "offset_in_rms": in_rms, "rms_fraction": rms_fraction}
    if value is None or error is None:
        return check
    check["significance"] = abs(value) / error if error > 0 else (math.inf if value else 0.0)
    above_noise = in_rms is None or rms_fraction is None or abs(in_rms) > rms_fraction
    check["significant"] = bool(abs(value) > nsigma * error and abs(value) > threshold and above_noise)
    return check


def checks_for(mode: str, numbers: dict, criterion: Criterion) -> list[dict]:
    n, thr = criterion.nsigma, criterion.flux_threshold
    checks = []
    for key, label in (("total_flux", "Total_flux fractional offset"),
                       ("peak_flux", "Peak_flux fractional offset")):
        fit = _get(numbers, key, "fractional") or {}
        checks.append(_check(label, mode, fit.get("mean"), fit.get("mean_err"), thr, n,
                             _get(numbers, key, "in_rms", "mean"), criterion.rms_fraction))
    diff = _get(numbers, "truth", "flux_ratio_difference")
    if diff:
        checks.append(_check("truth flux ratio model - nomodel", mode, diff.get("value"),
                             diff.get("error"), thr, n))
    alpha = _get(numbers, "alpha", "difference")
    if alpha:
        checks.append(_check("Alpha offset", mode, alpha.get("mean"), alpha.get("mean_err"),
                             criterion.alpha_threshold, n))
    return checks


def _reason(check: dict) -> str:
    fractional = "Alpha" not in check["quantity"]
    value, error = check["value"], check["error"]
    if fractional:
        text = f"{value * 100:+.2f}% ± {error * 100:.2f}%"
        thr = f"{check['threshold'] * 100:g}%"
    else:
        text = f"{value:+.4f} ± {error:.4f}"
        thr = f"{check['threshold']:g}"
    sig = check["significance"]
    sig_text = "exact" if sig == math.inf else f"{sig:.1f}σ"
    noise = (f" and {check['rms_fraction']:g} x image RMS ({check['offset_in_rms']:+.2f})"
             if check.get("offset_in_rms") is not None and check.get("rms_fraction") is not None else "")
    return (f"{check['mode'].upper()} {check['quantity']} {text} ({sig_text}) exceeds "
            f"{check['nsigma']:g}σ and {thr}{noise}")


def verdict_of(checks: list[dict]) -> tuple[str, list[str]]:
    judged = [c for c in checks if c["significant"] is not None]
    if not judged:
        return "not-evaluated", ["no compare.json number to test"]
    significant = [c for c in judged if c["significant"]]
    if significant:
        return "significant-change", [_reason(c) for c in significant]
    return "no-significant-change", [
        f"{len(judged)} checks, none beyond {judged[0]['nsigma']:g}σ and the threshold"]


def _overall_verdict(pooled: list[dict], parts: dict[str, dict]) -> tuple[str, list[str]]:
    """The pooled checks of all tiles, and significant-change whenever a tile (``parts``:
    tile -> its entry or mode numbers, with verdict and reasons) is."""
    verdict, reasons = verdict_of(pooled)
    flagged = [t for t, p in parts.items() if p.get("verdict") == "significant-change"]
    if verdict == "significant-change":
        # one tile: its own reasons already say it
        reasons = [] if len(parts) == 1 else [f"all tiles combined: {r}" for r in reasons]
    elif flagged:
        reasons = []
    if flagged:
        verdict = "significant-change"
        reasons = [f"tile {t}: {r}" for t in flagged for r in parts[t]["reasons"]] + reasons
    return verdict, reasons


# ---------------------------------------------------------------- other stages


def _characterize_summary(rec: Record) -> dict:
    d = rec.data
    cals = []
    for cal in d.get("calibrators") or []:
        if isinstance(cal, dict):
            cals.append({k: cal.get(k) for k in ("field", "decision", "max_abs_dev_in_band",
                                                 "max_abs_dev_outside_band", "suggested_uvrange")}
                        | {"coverage": _get(cal, "coverage", "status")})
    if not cals:
        cals = [{"field": f, "decision": dec} for f, dec in (d.get("decisions") or {}).items()]
    return {"record": str(rec.path), "calibrators": cals,
            "threshold": _get(d, "parameters", "threshold"),
            "band_klambda": d.get("band_klambda_scaled") or _get(d, "parameters", "band_klambda")}


def _build_model_summary(rec: Record) -> dict:
    d = rec.data
    rounds = [r for r in d.get("rounds") or [] if isinstance(r, dict)]
    return {"record": str(rec.path), "field": d.get("field") or _get(d, "parameters", "field"),
            "chosen_solint": d.get("chosen_solint"),
            "rounds": [{k: r.get(k) for k in ("solint", "accepted", "reason")} for r in rounds],
            "n_rounds": len(rounds), "n_accepted": sum(1 for r in rounds if r.get("accepted")),
            "initial_snr": d.get("initial_snr"), "final_snr": d.get("final_snr"),
            "model_total_flux_jy": d.get("model_total_flux_jy"),
            "n_components": d.get("n_components")}


def _fluxscale_summary(rec: Record) -> dict:
    fs = rec.data.get("fluxscale") if isinstance(rec.data.get("fluxscale"), dict) else {}
    return {"record": str(rec.path), "field": fs.get("field"),
            **{k: fs.get(k) for k in ("fit_flux_jy", "fit_flux_error_jy", "fit_alpha",
                                      "fit_alpha_error", "fit_ref_freq_hz")},
            "model": _get(rec.data, "parameters", "model"),
            "flux_scale": _get(rec.data, "parameters", "flux_scale")}


def _tile_summary(rec: Record) -> dict:
    d = rec.data
    return {"record": str(rec.path), "preset": _get(d, "parameters", "preset"),
            "seed": _get(d, "parameters", "seed"), "fields": d.get("fields"),
            "expected_image_rms_jy": d.get("expected_image_rms_jy"),
            "noise_sigma_jy": d.get("noise_sigma_jy")}


def _image_summary(rec: Record) -> dict:
    d = rec.data
    beam = d.get("beam") if isinstance(d.get("beam"), dict) else {}
    return {"record": str(rec.path), "field": rec.field, "mode": rec.mode, "arm": rec.arm,
            "rms_jy": _num(d.get("rms_jy")), "peak_jy": _num(d.get("peak_jy")),
            "dynamic_range": _num(d.get("dynamic_range")),
            "beam_arcsec": [beam.get("major_arcsec"), beam.get("minor_arcsec"), beam.get("pa_deg")]
            if beam else d.get("beam_arcsec")}


def _rms_for(tile: str, field_: str | None, mode: str | None, by_stage: dict,
             compare: Record) -> tuple[float | None, str | None]:
    """Image rms for a compare record: image.json (nomodel, model, any arm), catalog.json,
    the truth comparison, then tile.json's expected rms."""
    for stage, key in (("image", "rms_jy"), ("catalog", "image_rms_jy_per_beam")):
        candidates = [r for r in by_stage.get(stage, []) if r.tile == tile and r.field == field_
                      and r.mode == mode]
        for arm in ("nomodel", "model", None):
            for r in candidates:
                if r.arm == arm and _num(r.data.get(key)):
                    return float(r.data[key]), f"{stage}.json ({arm or 'arm unknown'})"
    for arm in ("nomodel", "model"):
        value = _num(_get(compare.data, "truth", arm, "rms_jy_per_beam"))
        if value:
            return value, f"compare.json truth ({arm})"
    for r in by_stage.get("simulate", []):
        if r.tile == tile:
            value = _num(_get(r.data, "expected_image_rms_jy", field_ or ""))
            if value:
                return value, "tile.json expected_image_rms_jy"
    return None, None


# ---------------------------------------------------------------- assembling


def build(records: list[Record], criterion: Criterion) -> dict:
    """The report's content (what report.json holds, less provenance)."""
    by_stage: dict[str, list[Record]] = {}
    for rec in records:
        by_stage.setdefault(rec.stage, []).append(rec)
    seen: dict[tuple, Path] = {}
    for rec in by_stage.get("compare", []):
        key = (rec.tile, rec.field, rec.mode)
        if key in seen:
            raise CalmodelError(f"two compare.json records for tile {rec.tile}, field {rec.field}, "
                                f"mode {rec.mode}: {seen[key]} and {rec.path}")
        seen[key] = rec.path
    warnings: list[str] = []
    tiles: dict[str, dict] = {}

    def tile_entry(name: str) -> dict:
        return tiles.setdefault(name, {"verdict": None, "reasons": [], "checks": [], "modes": {},
                                       "characterize": None, "build_model": None,
                                       "fluxscale": {}, "images": [], "simulation": None})

    for rec in sorted(by_stage.get("compare", []), key=lambda r: (r.tile, r.mode, r.field)):
        rms, source = _rms_for(rec.tile, rec.field, rec.mode, by_stage, rec)
        summary = summarise_compare(rec, rms, source)
        tile_entry(rec.tile)["modes"].setdefault(rec.mode, {"fields": {}})["fields"][rec.field] = summary
    for rec in by_stage.get("characterize", []):
        entry = tile_entry(rec.tile)
        if entry["characterize"] is not None:
            warnings.append(f"tile {rec.tile}: more than one characterize.json; using {rec.path}")
        entry["characterize"] = _characterize_summary(rec)
    for rec in by_stage.get("build_model", []):
        entry = tile_entry(rec.tile)
        if entry["build_model"] is not None:
            warnings.append(f"tile {rec.tile}: more than one build_model.json; using {rec.path}")
        entry["build_model"] = _build_model_summary(rec)
    for rec in by_stage.get("calibrate", []):
        arm = rec.arm or "unknown"
        entry = tile_entry(rec.tile)
        if arm in entry["fluxscale"]:
            warnings.append(f"tile {rec.tile}: more than one calibrate.json for arm {arm}; "
                            f"using {rec.path}")
        entry["fluxscale"][arm] = _fluxscale_summary(rec)
    for rec in by_stage.get("image", []):
        tile_entry(rec.tile)["images"].append(_image_summary(rec))
    for rec in by_stage.get("simulate", []):
        tile_entry(rec.tile)["simulation"] = _tile_summary(rec)
    for rec in by_stage.get("catalog", []):
        tile_entry(rec.tile)

    for name, entry in tiles.items():
        fs = entry["fluxscale"]
        if all(_num(_get(fs, a, "fit_flux_jy")) for a in ARMS):
            m, n = fs["model"], fs["nomodel"]
            ratio = m["fit_flux_jy"] / n["fit_flux_jy"]
            em, en = _num(m.get("fit_flux_error_jy")), _num(n.get("fit_flux_error_jy"))
            err = (ratio * math.hypot(em / m["fit_flux_jy"], en / n["fit_flux_jy"])
                   if em is not None and en is not None else None)
            fs["model_over_nomodel"] = {"flux_ratio": ratio, "flux_ratio_error": err}
        for mode in sorted(entry["modes"]):
            numbers = entry["modes"][mode]
            fields = [numbers["fields"][f] for f in sorted(numbers["fields"])]
            numbers.update(combine_summaries(fields))
            numbers["checks"] = checks_for(mode, numbers, criterion)
            numbers["verdict"], numbers["reasons"] = verdict_of(numbers["checks"])
            entry["checks"] += numbers["checks"]
        entry["verdict"], entry["reasons"] = verdict_of(entry["checks"])

    overall: dict = {"modes": {}, "checks": [], "tiles_significant": sorted(
        t for t, e in tiles.items() if e["verdict"] == "significant-change")}
    for mode in MODES:
        names = [t for t in sorted(tiles) if mode in tiles[t]["modes"]]
        if not names:
            continue
        numbers = combine_summaries([tiles[t]["modes"][mode] for t in names])
        numbers["tiles"] = names
        numbers["checks"] = checks_for(mode, numbers, criterion)
        numbers["verdict"], numbers["reasons"] = _overall_verdict(
            numbers["checks"], {t: tiles[t]["modes"][mode] for t in names})
        overall["modes"][mode] = numbers
        overall["checks"] += numbers["checks"]
    overall["verdict"], overall["reasons"] = verdict_of(overall["checks"])
    if overall["tiles_significant"] or any(m["verdict"] == "significant-change"
                                           for m in overall["modes"].values()):
        overall["verdict"] = "significant-change"
        overall["reasons"] = [f"tile {t}: {r}" for t in overall["tiles_significant"]
                              for r in tiles[t]["reasons"]]
        overall["reasons"] += [r for m in overall["modes"].values() for r in m["reasons"]
                               if r.startswith("all tiles combined")]
    return {"criterion": criterion.as_dict(), "tiles": dict(sorted(tiles.items())),
            "overall": overall, "warnings": warnings}


# ---------------------------------------------------------------- formatting


def _decimals(err: float | None, scale: float) -> int:
    if err is None or err * scale <= 0 or not math.isfinite(err * scale):
        return 3
    return int(min(4, max(0, 1 - math.floor(math.log10(abs(err * scale))))))


def fmt_fit(fit: dict | None, scale: float = 1.0, suffix: str = "") -> str:
    """'mean ± err (sigma ± err)' as memo Tables 2/3."""
    if not fit or fit.get("mean") is None:
        return "–"
    d = _decimals(fit.get("mean_err"), scale)
    text = f"{fit['mean'] * scale:+.{d}f}"
    if float(text) == 0.0:
        text = "+" + text[1:]  # no "-0.000"
    if fit.get("mean_err") is not None:
        text += f" ± {fit['mean_err'] * scale:.{d}f}"
    text += suffix
    if fit.get("sigma") is not None:
        ds = _decimals(fit.get("sigma_err"), scale) if fit.get("sigma_err") else d
        inner = f"{fit['sigma'] * scale:.{ds}f}"
        if fit.get("sigma_err") is not None:
            inner += f" ± {fit['sigma_err'] * scale:.{ds}f}"
        text += f" ({inner}{suffix})"
    return text


def fmt_centre(c: dict | None) -> str:
    if not c or c.get("median") is None:
        return "–"
    spread = c.get("robust_sigma")
    return f"{c['median']:.2f}" + (f" ± {spread:.2f}" if spread is not None else "")


def _fmt(x, spec: str = ".3g", none: str = "–") -> str:
    x = _num(x)
    return none if x is None else format(x, spec)


def _fmt_rms(in_rms: dict | None) -> str:
    if not in_rms or in_rms.get("mean") is None:
        return "–"
    text = f"{in_rms['mean']:+.3f}"
    if in_rms.get("sigma") is not None:
        text += f" ({in_rms['sigma']:.3f})"
    return text


def _fmt_fraction(c: dict | None) -> str:
    if not c or c.get("fraction") is None:
        return "–"
    return f"{c['fraction'] * 100:.1f}% ({c.get('n_detected')}/{c.get('n_truth')})"


def _fmt_diff(d: dict | None) -> str:
    if not d or d.get("value") is None:
        return "–"
    text = f"{d['value'] * 100:+.2f}%"
    return text + (f" ± {d['error'] * 100:.2f}%" if d.get("error") is not None else "")


@dataclass
class Table_:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""

    def stacked(self) -> set[int]:
        """Columns whose cells the HTML page breaks into lines (mean, then the sigma)."""
        words = ("offset", "/ image rms", "flux ratio", "error measured", "centre")
        return {i for i, h in enumerate(self.header) if any(w in h.lower() for w in words)}


def fmt_ratio(fit: dict | None, sample: str | None, snr_min) -> str:
    """'median ± error (scatter) [sample]' of a truth flux ratio."""
    if not fit or fit.get("mean") is None:
        return "–"
    text = f"{fit['mean']:.3f}"
    if fit.get("mean_err") is not None:
        text += f" ± {fit['mean_err']:.3f}"
    if fit.get("sigma") is not None:
        text += f" ({fit['sigma']:.3f})"
    label = f"S/N ≥ {_fmt(snr_min, 'g')}" if sample == "flux_ratio_bright" else "all"
    return f"{text} [{label}]"


def _pm(value, error, spec: str) -> str:
    """'value ± error' (either may be missing)."""
    text = _fmt(value, spec)
    return text + (f" ± {_fmt(error, spec)}" if _num(error) is not None else "")


def _mode_row(label: str, fields: str, n: dict, has_alpha: bool, has_truth: bool) -> list[str]:
    counts = n.get("counts") or {}
    tp = n.get("total_over_peak") or {}
    in_rms = (f"{_fmt_rms(_get(n, 'total_flux', 'in_rms'))}; "
              f"{_fmt_rms(_get(n, 'peak_flux', 'in_rms'))}")
    if n.get("rms_jy"):
        in_rms += f" [rms {n['rms_jy'] * 1e6:.1f} µJy]"
    row = [label, fields,
           f"{counts.get('matched', '–')} ({counts.get('model', '–')} / {counts.get('nomodel', '–')})",
           fmt_fit(_get(n, "total_flux", "difference"), 1e6),
           fmt_fit(_get(n, "total_flux", "fractional"), 100.0, "%"),
           fmt_fit(_get(n, "peak_flux", "difference"), 1e6),
           fmt_fit(_get(n, "peak_flux", "fractional"), 100.0, "%"),
           in_rms]
    if has_alpha:
        row.append(fmt_fit(_get(n, "alpha", "difference")))
    row += [f"{fmt_centre(tp.get('model'))}, {fmt_centre(tp.get('nomodel'))}",
            _fmt(tp.get("ks_pvalue"), ".2g")]
    if has_truth:
        row.append(_fmt_diff(_get(n, "truth", "flux_ratio_difference")))
    row.append(n.get("verdict") or "–")
    return row


def _mode_tables(tiles: dict, overall: dict, mode: str) -> list[Table_]:
    """Memo Table 2 (QL) / 3 (SE): a row per tile and the overall row; then a row per field."""
    names = overall["modes"][mode]["tiles"]
    has_alpha = mode == "se" or any(_get(tiles[t], "modes", mode, "alpha") for t in names)
    has_truth = any(_get(tiles[t], "modes", mode, "truth") for t in names)
    header = (["Tile", "Fields", "N matched (of model / nomodel)", "Total flux offset (µJy)",
               "Total flux offset (fractional)", "Peak offset (µJy/beam)",
               "Peak offset (fractional)", "Total; peak offset / image rms (sigma / rms)"]
              + (["Alpha offset"] if has_alpha else [])
              + ["Total/Peak centre (model, nomodel)", "KS p (total/peak)"]
              + (["Truth flux ratio model - nomodel"] if has_truth else [])
              + [f"Verdict ({mode.upper()})"])
    rows = [_mode_row(t, ", ".join(sorted(tiles[t]["modes"][mode]["fields"])),
                      tiles[t]["modes"][mode], has_alpha, has_truth) for t in names]
    n_fields = sum(len(tiles[t]["modes"][mode]["fields"]) for t in names)
    rows.append(_mode_row("Overall", f"{n_fields} field(s)", overall["modes"][mode], has_alpha,
                          has_truth))
    per_tile = Table_(
        f"{MODE_NAMES[mode]} images: per tile and overall (as {MODE_TABLES[mode]})", header, rows,
        "Offsets are model - nomodel: mean ± error of the Gaussian-core fit, the standard "
        "deviation ± error in parentheses. Total/peak centre: median ± 1.4826 MAD. "
        "KS p: two-sample Kolmogorov-Smirnov test of total/peak of the two arms "
        "(smallest over the fields/tiles combined).")
    field_rows = []
    for t in names:
        for f, s in sorted(tiles[t]["modes"][mode]["fields"].items()):
            field_rows.append(
                [t, f, str(_get(s, "counts", "matched", default="–")),
                 fmt_fit(_get(s, "total_flux", "fractional"), 100.0, "%"),
                 fmt_fit(_get(s, "peak_flux", "fractional"), 100.0, "%")]
                + ([fmt_fit(_get(s, "alpha", "difference"))] if has_alpha else [])
                + [_fmt(s["rms_jy"] * 1e6 if s.get("rms_jy") else None, ".1f"),
                   s.get("rms_source") or "–", str(s.get("outliers", "–"))])
    per_field = Table_(f"{MODE_NAMES[mode]} images: per field",
                       ["Tile", "Field", "N matched", "Total flux offset (fractional)",
                        "Peak offset (fractional)"] + (["Alpha offset"] if has_alpha else [])
                       + ["Image rms (µJy/beam)", "rms from", "Outliers"], field_rows)
    return [per_tile, per_field]


def _truth_table(tiles: dict) -> list[Table_]:
    rows = []
    for t, e in tiles.items():
        for mode in MODES:
            for f, s in sorted(_get(e, "modes", mode, "fields", default={}).items()):
                for arm in ARMS:
                    a = _get(s, "truth", "arms", arm)
                    if not a:
                        continue
                    fd = a["false_detections"]
                    false = str(fd.get("n"))
                    if fd.get("fraction") is not None:
                        false += f" ({fd['fraction'] * 100:.1f}%)"
                    rows.append([t, mode.upper(), f, arm,
                                 f"{a.get('n_matched')} / {a.get('n_truth_in_image')}",
                                 fmt_ratio(a.get("flux_ratio"), a.get("flux_ratio_sample"),
                                           a.get("flux_ratio_snr_min")),
                                 fmt_fit(a.get("alpha_error")),
                                 _fmt_fraction(a.get("completeness")),
                                 _fmt_fraction(a.get("completeness_bright")), false])
    if not rows:
        return []
    return [Table_("Against the simulated truth (per arm)",
                   ["Tile", "Mode", "Field", "Arm", "Matched / truth in image",
                    "Flux ratio measured/true: median ± error (scatter)",
                    "Alpha error measured - true", "Completeness (≥5σ)", "Completeness (bright)",
                    "False detections"], rows,
                   "Flux ratio and alpha error: median, the median's uncertainty and the "
                   "1.4826 MAD scatter; completeness counts the truth components above the S/N "
                   "limit that were detected.")]


def _fluxscale_table(tiles: dict) -> list[Table_]:
    rows = []
    for t, e in tiles.items():
        for arm in sorted(k for k in e["fluxscale"] if k != "model_over_nomodel"):
            f = e["fluxscale"][arm]
            freq = _num(f.get("fit_ref_freq_hz"))
            rows.append([t, arm, str(f.get("field") or "–"),
                         _pm(f.get("fit_flux_jy"), f.get("fit_flux_error_jy"), ".4f"),
                         _pm(f.get("fit_alpha"), f.get("fit_alpha_error"), ".3f"),
                         _fmt(freq / 1e9 if freq else None, ".3f")])
        ratio = e["fluxscale"].get("model_over_nomodel")
        if ratio:
            rows.append([t, "model / nomodel", "",
                         _pm(ratio["flux_ratio"], ratio.get("flux_ratio_error"), ".4f"), "", ""])
    if not rows:
        return []
    return [Table_("Gain calibrator fluxscale (calibrate.json)",
                   ["Tile", "Arm", "Gain calibrator", "Fitted flux (Jy)", "Fitted alpha",
                    "Ref. freq (GHz)"], rows,
                   "With a spatial model (bootstrap) the model arm's fitted flux is relative to "
                   "the model and should be ~1 with alpha ~0.")]


def _stage_tables(tiles: dict) -> list[Table_]:
    """characterize, build_model, image and tile records, one small table each."""
    out = []
    rows = [[t, str(c.get("field")), str(c.get("decision")),
             _fmt(c.get("max_abs_dev_in_band"), ".4f"), _fmt(c.get("max_abs_dev_outside_band"), ".4f"),
             str(c.get("suggested_uvrange") or "–"), str(c.get("coverage") or "–")]
            for t, e in tiles.items() for c in _get(e, "characterize", "calibrators", default=[])]
    if rows:
        out.append(Table_("Gain calibrator structure (characterize.json)",
                          ["Tile", "Calibrator", "Decision", "max |dev| in band",
                           "max |dev| outside band", "Suggested uvrange", "Coverage"], rows))
    rows = [[t, str(b.get("field") or "–"), str(b.get("chosen_solint") or "–"),
             f"{b['n_accepted']} / {b['n_rounds']}",
             f"{_fmt(b.get('initial_snr'), '.0f')} → {_fmt(b.get('final_snr'), '.0f')}",
             _fmt(b.get("model_total_flux_jy"), ".4f"), _fmt(b.get("n_components"), "g")]
            for t, e in tiles.items() if (b := e["build_model"])]
    if rows:
        out.append(Table_("Calibrator model (build_model.json)",
                          ["Tile", "Calibrator", "Chosen solint", "Rounds accepted", "S/N",
                           "Model flux (Jy)", "Components"], rows))
    rows = []
    for t, e in tiles.items():
        for im in sorted(e["images"], key=lambda i: (str(i["mode"]), str(i["field"]), str(i["arm"]))):
            beam = im.get("beam_arcsec") or []
            rows.append([t, str(im.get("field") or "–"), (im.get("mode") or "–").upper(),
                         str(im.get("arm") or "–"),
                         _fmt(im["rms_jy"] * 1e6 if im.get("rms_jy") else None, ".1f"),
                         _fmt(im.get("peak_jy"), ".4g"), _fmt(im.get("dynamic_range"), ".0f"),
                         " × ".join(_fmt(b, ".2f") for b in beam[:2]) if beam else "–"])
    if rows:
        out.append(Table_("Images (image.json)", ["Tile", "Field", "Mode", "Arm", "rms (µJy/beam)",
                                                  "Peak (Jy/beam)", "Dynamic range",
                                                  "Beam (arcsec)"], rows))
    rows = []
    for t, e in tiles.items():
        if (sim := e["simulation"]):
            rms = sim.get("expected_image_rms_jy") or {}
            rows.append([t, str(sim.get("preset") or "–"),
                         "–" if sim.get("seed") is None else str(sim["seed"]),
                         ", ".join(f"{k} {v * 1e6:.1f}" for k, v in rms.items() if _num(v)) or "–"])
    if rows:
        out.append(Table_("Simulated tiles (tile.json)",
                          ["Tile", "Preset", "Seed", "Expected image rms (µJy)"], rows))
    return out


def tables(content: dict) -> list[Table_]:
    """Every table of the report, in order; shared by tables.md and report.html."""
    tiles, overall = content["tiles"], content["overall"]
    out = [Table_("Verdict", ["Tile", "Verdict", "Reasons"],
                  [[t, e["verdict"], "; ".join(e["reasons"])] for t, e in tiles.items()]
                  + [["Overall", overall["verdict"], "; ".join(overall["reasons"])]])]
    for mode in MODES:
        if mode in overall["modes"]:
            out += _mode_tables(tiles, overall, mode)
    return out + _truth_table(tiles) + _fluxscale_table(tiles) + _stage_tables(tiles)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(content: dict, table_list: list[Table_], title: str) -> str:
    lines = [f"# {title}", "", f"**Overall verdict: {content['overall']['verdict']}**", "",
             f"Criterion: {content['criterion']['text']}", ""]
    for table in table_list:
        lines += [f"## {table.title}", "", "| " + " | ".join(map(_md_cell, table.header)) + " |",
                  "|" + "|".join("---" for _ in table.header) + "|"]
        lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in table.rows]
        if table.note:
            lines += ["", table.note]
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- HTML

CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1d232a;
background:#f6f7f9;line-height:1.4}
main{max-width:1240px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.25em;margin:32px 0 8px;border-bottom:1px solid #d8dde3;
padding-bottom:4px}h3{font-size:1.05em;margin:20px 0 6px}
.sub{color:#5b6670;margin:0 0 16px}
.verdict{border-radius:6px;padding:14px 18px;margin:12px 0 8px;border:1px solid}
.verdict .v{font-size:1.35em;font-weight:700}
.significant-change{background:#fdecea;border-color:#e0a19b;color:#8a1c12}
.no-significant-change{background:#e8f5ea;border-color:#9fcfa6;color:#1b5e25}
.not-evaluated{background:#eef0f3;border-color:#c3c9d0;color:#39424b}
.badge{display:inline-block;white-space:nowrap;padding:1px 7px;border-radius:10px;font-size:.85em;font-weight:600;
border:1px solid}
.criterion{font-size:.92em;background:#f3f5f8;border-left:4px solid #8895a3;padding:8px 12px}
.wrap{overflow-x:auto;margin:6px 0}
table{border-collapse:collapse;font-size:.82em}
th,td{border:1px solid #d5dae0;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
tr.overall td{font-weight:700;background:#f7f8fa}
td.num{font-variant-numeric:tabular-nums}
.sd{color:#5b6670;font-size:.92em}
.note{font-size:.82em;color:#5b6670;margin:2px 0 10px}
figure{margin:14px 0 22px;padding:8px;border:1px solid #e0e4e8;border-radius:4px;background:#fff}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{font-size:.86em;color:#39424b;margin-top:6px}
details{margin:4px 0}summary{cursor:pointer}
pre{background:#f3f5f8;padding:8px;overflow-x:auto;font-size:.78em}
ul.warn li{color:#8a5a00}
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _html_table(table: Table_, level: int = 2) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in table.header)
    body = []
    stacked = table.stacked()
    for row in table.rows:
        cls = ' class="overall"' if row and row[0] == "Overall" else ""
        cells = []
        for i, cell in enumerate(row):
            if cell in VERDICTS:
                cells.append(f'<td><span class="badge {cell}">{_e(cell)}</span></td>')
            else:
                text = _e(cell)
                if i in stacked:
                    text = (text.replace("; ", "<br>").replace(" (", '<br><span class="sd">(', 1)
                            .replace(" [", "<br>["))
                    if '<span class="sd">' in text:
                        first, _, sd = text.partition('<span class="sd">')
                        sd, brk, rest = sd.partition("<br>")
                        text = f'{first}<span class="sd">{sd}</span>{brk}{rest}'
                text = text.replace(" ± ", "&nbsp;±&nbsp;")
                num = ' class="num"' if i > 0 and any(ch.isdigit() for ch in cell) else ""
                cells.append(f"<td{num}>{text}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    note = f'<p class="note">{_e(table.note)}</p>' if table.note else ""
    return (f"<h{level}>{_e(table.title)}</h{level}>\n<div class=\"wrap\"><table><thead><tr>{head}"
            f"</tr></thead><tbody>\n" + "\n".join(body) + f"\n</tbody></table></div>{note}\n")


def figures_for(records: list[Record]) -> list[dict]:
    """PNG figures beside the compare, characterize and build-model records."""
    figures = []
    order = {s: i for i, s in enumerate(FIGURE_STAGES)}
    chosen = sorted((r for r in records if r.stage in FIGURE_STAGES),
                    key=lambda r: (r.tile, order[r.stage], r.mode or "", r.field or ""))
    for rec in chosen:
        known = list(FIGURE_CAPTIONS)
        pngs = sorted(rec.path.parent.glob("*.png"),
                      key=lambda q: (known.index(q.name) if q.name in known else len(known), q.name))
        for png in pngs:
            if png.name.startswith("."):
                continue
            caption = FIGURE_CAPTIONS.get(png.name)
            if caption is None and png.name.endswith("_amp_uvdist.png"):
                caption = (f"Normalised amplitude vs uv-distance of gain calibrator "
                           f"{png.name[:-len('_amp_uvdist.png')]} (characterize)")
            if caption is None:
                caption = f"{png.stem} ({rec.stage})"
            where = " · ".join(x for x in (rec.tile, rec.field, (rec.mode or "").upper()) if x)
            figures.append({"tile": rec.tile, "stage": rec.stage, "field": rec.field,
                            "mode": rec.mode, "path": png, "caption": f"{where}: {caption}"})
    return figures


def render_html(content: dict, table_list: list[Table_], figures: list[dict],
                provenance: list[dict], title: str) -> str:
    overall = content["overall"]
    verdict = overall["verdict"]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="sub">calmodel {_e(__version__)} · {len(content["tiles"])} tile(s) · '
        f"{len(provenance)} stage record(s) · after VLASS Memo 19, Section 4</p>",
        f'<div class="verdict {verdict}"><div class="v">Overall: {_e(verdict)}</div>',
        "<ul>" + "".join(f"<li>{_e(r)}</li>" for r in overall["reasons"]) + "</ul></div>",
        f'<p class="criterion"><b>Criterion.</b> {_e(content["criterion"]["text"])}</p>',
    ]
    if content.get("warnings"):
        parts.append('<ul class="warn">' + "".join(f"<li>{_e(w)}</li>" for w in content["warnings"])
                     + "</ul>")
    parts += [_html_table(t) for t in table_list]
    if figures:
        parts.append("<h2>Figures</h2>")
        current = None
        for fig in figures:
            if fig["tile"] != current:
                current = fig["tile"]
                parts.append(f"<h3>Tile {_e(current)}</h3>")
            data = base64.b64encode(fig["path"].read_bytes()).decode("ascii")
            parts.append(f'<figure><img alt="{_e(fig["caption"])}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{_e(fig['caption'])}<br><small>{_e(fig['path'].name)}"
                         f"</small></figcaption></figure>")
    parts.append("<h2>Provenance</h2>")
    versions = sorted({str(p["calmodel_version"]) for p in provenance})
    parts.append(f"<p>Report by calmodel {_e(__version__)}; records written by calmodel "
                 f"{_e(', '.join(versions))}.</p>")
    head = ["Stage", "Tile", "Field", "Mode", "Arm", "calmodel", "Elapsed (s)", "Identified by",
            "Record"]
    rows = [[p["stage"], p["tile"], p["field"] or "–", (p["mode"] or "–").upper(), p["arm"] or "–",
             str(p["calmodel_version"]), _fmt(p["elapsed_s"], ".1f"),
             ", ".join(f"{k}: {v}" for k, v in p["identified_by"].items()), p["path"]]
            for p in provenance]
    parts.append(_html_table(Table_("Stage records", head, rows), level=3))
    parts.append("<h3>Parameters</h3>")
    for p in provenance:
        parts.append(f"<details><summary>{_e(p['stage'])} · {_e(p['tile'])} · {_e(p['path'])}"
                     f"</summary><pre>{_e(json.dumps(p['parameters'], indent=1, default=str))}"
                     f"</pre></details>")
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


# ---------------------------------------------------------------- the stage


def report(inputs: list[Path], out: Path, criterion: Criterion = Criterion(),
           title: str = "calmodel report: does a calibrator model change the science?") -> ReportResult:
    """Find the stage records under ``inputs``, judge them, write ``out``/report.{json,html},
    tables.md."""
    started = time.monotonic()
    out = Path(out)
    if (criterion.nsigma <= 0 or criterion.flux_threshold < 0 or criterion.alpha_threshold < 0
            or criterion.rms_fraction < 0):
        raise CalmodelError("--nsigma must be positive and the thresholds not negative")
    paths = discover(inputs)
    if not paths:
        raise CalmodelError(f"no stage records ({', '.join(RECORD_FILES)}) found under "
                            f"{', '.join(str(p) for p in inputs)}")
    records = [load_record(p) for p in paths]
    content = build(records, criterion)
    provenance = [{"stage": r.stage, "tile": r.tile, "field": r.field, "mode": r.mode,
                   "arm": r.arm, "path": str(r.path), "identified_by": r.identified_by,
                   "calmodel_version": r.data.get("calmodel_version"),
                   "elapsed_s": r.data.get("elapsed_s"), "parameters": r.data.get("parameters")}
                  for r in records]
    versions = sorted({str(p["calmodel_version"]) for p in provenance})
    if len(versions) > 1:
        content["warnings"].append(f"records from different calmodel versions: {', '.join(versions)}")
    table_list = tables(content)
    figures = figures_for(records)
    out.mkdir(parents=True, exist_ok=True)
    markdown = _write_text(out / "tables.md", render_markdown(content, table_list, title))
    page = _write_text(out / "report.html",
                       render_html(content, table_list, figures, provenance, title))
    parameters = {"inputs": [str(p) for p in inputs], "nsigma": criterion.nsigma,
                  "flux_threshold": criterion.flux_threshold,
                  "alpha_threshold": criterion.alpha_threshold, "rms_fraction": criterion.rms_fraction,
                  "title": title}
    results = {**content, "records": provenance,
               "figures": [{"path": str(f["path"]), "caption": f["caption"]} for f in figures],
               "products": {"html": page.name, "markdown": markdown.name}}
    record = write_json(out / "report.json", stage_record("report", parameters, results, started))
    return ReportResult(out, page, markdown, record, content["overall"]["verdict"],
                        list(content["tiles"]), len(records))
