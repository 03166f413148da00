"""What the report takes from each stage record, and how a tile's fields (or a scope's
tiles) are combined into one row of memo Tables 2/3."""

from __future__ import annotations

from calmodel.report.combine import (centre_as_fit, combine_centres, combine_fits,
                                     difference_of_means, median_value)
from calmodel.report.noise import rms_relative_error
from calmodel.report.records import Record
from calmodel.report.values import get_in, number
from calmodel.report.vocabulary import ARMS

# compare's bright sample is used for the truth flux ratio only when each arm has this many
TRUTH_MIN_BRIGHT = 3
FLUX_KEYS = (("total_flux", "Total_flux"), ("peak_flux", "Peak_flux"))
COUNT_KEYS = ("model", "nomodel", "matched")
COMPLETENESS_KEYS = ("snr_min", "n_truth", "n_detected", "fraction")
PAIRED_TRUTH_KEYS = tuple(f"{flux}{suffix}" for flux in ("total_flux", "peak_flux")
                          for suffix in ("", "_model_over_true", "_nomodel_over_true"))


def offsets_in_rms(fit: dict | None, rms: float | None) -> dict:
    if not fit or not rms:
        return {"mean": None, "sigma": None}
    mean, sigma = fit.get("mean"), fit.get("sigma")
    return {"mean": mean / rms if mean is not None else None,
            "sigma": sigma / rms if sigma is not None else None}


def fit_in_rms(fit: dict | None, rms: float | None) -> dict | None:
    """An absolute offset fit in units of the image rms (the memo's yardstick)."""
    if not fit or not rms:
        return None
    scaled = {k: (fit[k] / rms if number(fit.get(k)) is not None else None)
              for k in ("mean", "mean_err", "sigma", "sigma_err")}
    return {**scaled, "n": fit.get("n"), "n_core": fit.get("n_core")}


# ---------------------------------------------------------------- against the truth


def _truth_arm(truth_of_arm: dict, sample: str) -> dict:
    n_false = get_in(truth_of_arm, "false_detections", "n")
    n_matched = truth_of_arm.get("n_matched")
    n_false = int(n_false) if number(n_false) is not None else None
    n_matched = int(n_matched) if number(n_matched) is not None else None
    return {
        "n_truth_in_image": truth_of_arm.get("n_truth_in_image"),
        "n_matched": n_matched,
        "flux_ratio": centre_as_fit(truth_of_arm.get(sample)),
        "flux_ratio_sample": sample,
        "flux_ratio_snr_min": get_in(truth_of_arm, sample, "snr_min"),
        "alpha_error": centre_as_fit(truth_of_arm.get("alpha_error")),
        "completeness": {k: get_in(truth_of_arm, "completeness", k) for k in COMPLETENESS_KEYS},
        "completeness_bright": {k: get_in(truth_of_arm, "completeness_bright", k)
                                for k in COMPLETENESS_KEYS},
        "false_detections": {
            "n": n_false,
            "n_components": (n_false + n_matched if n_false is not None
                             and n_matched is not None else None),
            "fraction": get_in(truth_of_arm, "false_detections", "fraction")},
    }


def _with_arm_difference(arms: dict) -> dict:
    return {"arms": arms, "flux_ratio_difference": difference_of_means(
        arms["model"]["flux_ratio"], arms["nomodel"]["flux_ratio"])}


def summarise_truth(truth: dict | None) -> dict | None:
    """compare.json's per-arm truth comparison (a simulated tile), or None."""
    if not isinstance(truth, dict) or not all(isinstance(truth.get(a), dict) for a in ARMS):
        return None
    bright_usable = all((get_in(truth, a, "flux_ratio_bright", "n") or 0) >= TRUTH_MIN_BRIGHT
                        and number(get_in(truth, a, "flux_ratio_bright", "median_err")) is not None
                        for a in ARMS)
    sample = "flux_ratio_bright" if bright_usable else "flux_ratio"
    return _with_arm_difference({arm: _truth_arm(truth[arm], sample) for arm in ARMS})


def _pooled_completeness(items: list[dict], key: str) -> dict:
    n_truth = sum(int(get_in(i, key, "n_truth") or 0) for i in items)
    n_detected = sum(int(get_in(i, key, "n_detected") or 0) for i in items)
    return {"snr_min": get_in(items[0], key, "snr_min"), "n_truth": n_truth,
            "n_detected": n_detected, "fraction": n_detected / n_truth if n_truth else None}


def combine_truth(parts: list[dict | None]) -> dict | None:
    parts = [p for p in parts if p]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    arms = {}
    for arm in ARMS:
        items = [p["arms"][arm] for p in parts]
        n_false = sum(int(get_in(i, "false_detections", "n") or 0) for i in items)
        n_components = sum(int(get_in(i, "false_detections", "n_components") or 0) for i in items)
        arms[arm] = {
            "n_truth_in_image": sum(int(i.get("n_truth_in_image") or 0) for i in items),
            "n_matched": sum(int(i.get("n_matched") or 0) for i in items),
            "flux_ratio": combine_fits([i["flux_ratio"] for i in items]),
            "flux_ratio_sample": "+".join(sorted({i["flux_ratio_sample"] for i in items})),
            "flux_ratio_snr_min": items[0].get("flux_ratio_snr_min"),
            "alpha_error": combine_fits([i["alpha_error"] for i in items]),
            "completeness": _pooled_completeness(items, "completeness"),
            "completeness_bright": _pooled_completeness(items, "completeness_bright"),
            "false_detections": {"n": n_false, "n_components": n_components,
                                 "fraction": n_false / n_components if n_components else None},
        }
    return _with_arm_difference(arms)


# ---------------------------------------------------------------- compare records


def summarise_compare(rec: Record, rms: float | None, rms_source: str | None,
                      paired: dict | None = None) -> dict:
    """The numbers of one compare.json that the report uses. ``paired``: what the report
    measured itself for this field and mode (rms by arm, rms ratio, truth paired)."""
    paired = paired or {}
    data = rec.data
    diffs = data.get("differences") if isinstance(data.get("differences"), dict) else {}
    out: dict = {"tile": rec.tile, "field": rec.field, "mode": rec.mode, "record": str(rec.path),
                 "counts": {k: get_in(data, "counts", k) for k in COUNT_KEYS},
                 "rms_jy": rms, "rms_source": rms_source}
    for key, quantity in FLUX_KEYS:
        absolute = get_in(diffs, quantity, "difference")
        out[key] = {"difference": absolute,
                    "fractional": get_in(diffs, quantity, "fractional_difference"),
                    "in_rms": offsets_in_rms(absolute, rms), "in_rms_fit": fit_in_rms(absolute, rms),
                    "unit": get_in(diffs, quantity, "unit")}
    out["alpha"] = {"difference": get_in(diffs, "Alpha", "difference")} if "Alpha" in diffs else None
    tp = data.get("total_over_peak") if isinstance(data.get("total_over_peak"), dict) else {}
    out["total_over_peak"] = {k: tp.get(k) for k in ("model", "nomodel", "ks_statistic",
                                                     "ks_pvalue")}
    out["outliers"] = get_in(data, "outliers", "n")
    out["truth"] = summarise_truth(data.get("truth"))
    out["rms_by_arm"] = paired.get("rms_by_arm") or {}
    out["rms_ratio"] = paired.get("rms_ratio")
    out["truth_paired"] = paired.get("truth_paired")
    return out


def combine_summaries(parts: list[dict]) -> dict:
    """A tile (its fields) or an overall row (its tiles): the same shape, combined."""
    counts = {k: sum(int(get_in(p, "counts", k) or 0) for p in parts) for k in COUNT_KEYS}
    rms = median_value([p["rms_jy"] for p in parts if p.get("rms_jy")])
    source = "median of the parts' rms" if rms is not None else None
    if len(parts) == 1:
        source = parts[0].get("rms_source")
    out: dict = {"counts": counts, "rms_jy": rms, "rms_source": source, "parts": len(parts)}
    for key, _ in FLUX_KEYS:
        absolute = combine_fits([get_in(p, key, "difference") for p in parts])
        out[key] = {"difference": absolute,
                    "fractional": combine_fits([get_in(p, key, "fractional") for p in parts]),
                    "in_rms": offsets_in_rms(absolute, rms),
                    # each part in its own image's rms, then combined
                    "in_rms_fit": combine_fits([get_in(p, key, "in_rms_fit") for p in parts]),
                    "unit": get_in(parts[0], key, "unit")}
    alphas = [p["alpha"]["difference"] for p in parts if p.get("alpha")]
    out["alpha"] = {"difference": combine_fits(alphas)} if alphas else None
    tp = [p.get("total_over_peak") or {} for p in parts]
    pvalues = [x["ks_pvalue"] for x in tp if number(x.get("ks_pvalue")) is not None]
    out["total_over_peak"] = {"model": combine_centres([x.get("model") for x in tp]),
                              "nomodel": combine_centres([x.get("nomodel") for x in tp]),
                              "ks_statistic": None,
                              "ks_pvalue": min(pvalues) if pvalues else None,
                              "ks_pvalue_rule": "smallest of the parts"}
    out["outliers"] = sum(int(p.get("outliers") or 0) for p in parts)
    out["truth"] = combine_truth([p.get("truth") for p in parts])
    ratios = [p["rms_ratio"] for p in parts if p.get("rms_ratio")]
    out["rms_ratio"] = combine_fits(ratios) if ratios else None
    paired = [p["truth_paired"] for p in parts if p.get("truth_paired")]
    out["truth_paired"] = ({key: combine_fits([p.get(key) for p in paired])
                            for key in PAIRED_TRUTH_KEYS} if paired else None)
    return out


def image_rms_for(compare: Record, by_stage: dict) -> tuple[float | None, str | None]:
    """Image rms for a compare record: image.json (nomodel, model, any arm), catalog.json,
    the truth comparison, then tile.json's expected rms."""
    for stage, key in (("image", "rms_jy"), ("catalog", "image_rms_jy_per_beam")):
        same_image = [r for r in by_stage.get(stage, []) if r.tile == compare.tile
                      and r.field == compare.field and r.mode == compare.mode]
        for arm in ("nomodel", "model", None):
            for r in same_image:
                if r.arm == arm and number(r.data.get(key)):
                    return float(r.data[key]), f"{stage}.json ({arm or 'arm unknown'})"
    for arm in ARMS[::-1]:
        value = number(get_in(compare.data, "truth", arm, "rms_jy_per_beam"))
        if value:
            return value, f"compare.json truth ({arm})"
    for r in by_stage.get("simulate", []):
        if r.tile == compare.tile:
            value = number(get_in(r.data, "expected_image_rms_jy", compare.field or ""))
            if value:
                return value, "tile.json expected_image_rms_jy"
    return None, None


# ---------------------------------------------------------------- the other stages


def summarise_characterize(rec: Record) -> dict:
    data = rec.data
    calibrators = [{k: cal.get(k) for k in ("field", "decision", "max_abs_dev_in_band",
                                             "max_abs_dev_outside_band", "suggested_uvrange")}
                   | {"coverage": get_in(cal, "coverage", "status")}
                   for cal in data.get("calibrators") or [] if isinstance(cal, dict)]
    if not calibrators:
        calibrators = [{"field": f, "decision": d} for f, d in (data.get("decisions") or {}).items()]
    roles = data.get("roles") if isinstance(data.get("roles"), dict) else {}
    return {"record": str(rec.path), "calibrators": calibrators,
            "targets": roles.get("targets"), "targets_reason": get_in(roles, "reasons", "targets"),
            "threshold": get_in(data, "parameters", "threshold"),
            "band_klambda": data.get("band_klambda_scaled") or get_in(data, "parameters",
                                                                      "band_klambda")}


def summarise_build_model(rec: Record) -> dict:
    data = rec.data
    rounds = [r for r in data.get("rounds") or [] if isinstance(r, dict)]
    return {"record": str(rec.path), "field": data.get("field") or get_in(data, "parameters", "field"),
            "chosen_solint": data.get("chosen_solint"),
            "rounds": [{k: r.get(k) for k in ("solint", "accepted", "reason")} for r in rounds],
            "n_rounds": len(rounds), "n_accepted": sum(1 for r in rounds if r.get("accepted")),
            "initial_snr": data.get("initial_snr"), "final_snr": data.get("final_snr"),
            "model_total_flux_jy": data.get("model_total_flux_jy"),
            "n_components": data.get("n_components")}


def summarise_fluxscale(rec: Record) -> dict:
    fluxscale = rec.data.get("fluxscale") if isinstance(rec.data.get("fluxscale"), dict) else {}
    return {"record": str(rec.path), "field": fluxscale.get("field"),
            **{k: fluxscale.get(k) for k in ("fit_flux_jy", "fit_flux_error_jy", "fit_alpha",
                                             "fit_alpha_error", "fit_ref_freq_hz")},
            "model": get_in(rec.data, "parameters", "model"),
            "flux_scale": get_in(rec.data, "parameters", "flux_scale")}


def summarise_simulation(rec: Record) -> dict:
    data = rec.data
    return {"record": str(rec.path), "preset": get_in(data, "parameters", "preset"),
            "seed": get_in(data, "parameters", "seed"), "fields": data.get("fields"),
            "expected_image_rms_jy": data.get("expected_image_rms_jy"),
            "noise_sigma_jy": data.get("noise_sigma_jy")}


def summarise_image(rec: Record) -> dict:
    data = rec.data
    beam = data.get("beam") if isinstance(data.get("beam"), dict) else {}
    return {"record": str(rec.path), "field": rec.field, "mode": rec.mode, "arm": rec.arm,
            "rms_jy": number(data.get("rms_jy")), "peak_jy": number(data.get("peak_jy")),
            "rms_relative_error": rms_relative_error(data),
            "rms_over_thermal": number(data.get("rms_over_thermal")),
            "dynamic_range": number(data.get("dynamic_range")),
            "beam_arcsec": [beam.get("major_arcsec"), beam.get("minor_arcsec"), beam.get("pa_deg")]
            if beam else data.get("beam_arcsec")}
