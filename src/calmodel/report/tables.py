"""Every table of the report, shared by tables.md and report.html."""

from __future__ import annotations

from dataclasses import dataclass

from calmodel.report.formatting import (fmt_centre, fmt_fit, fmt_fraction, fmt_number,
                                        fmt_plus_minus, fmt_ratio)
from calmodel.report.values import get_in, number
from calmodel.report.vocabulary import ARMS, MEMO_TABLE_OF_MODE, MODE_NAMES, MODES


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""


def fmt_rms_pair(rms_by_arm: dict) -> str:
    """'model / nomodel' image rms in µJy/beam."""
    values = [rms_by_arm.get(arm) for arm in ARMS]
    if not any(values):
        return "–"
    return " / ".join(fmt_number(v * 1e6 if v else None, ".1f") for v in values)


def fmt_model_vs_truth(against: dict | None) -> str:
    if not against:
        return "–"
    parts = ", ".join(f"{c['ratio']:.2f}" for c in against["components"])
    return f"components {parts}; total {against['total_ratio']:.2f}"


def fmt_scope(scope: dict | None) -> str:
    if not scope or scope.get("ratio") is None:
        return f"{(scope or {}).get('scope', 'scope-unknown')}"
    ratio = "point" if scope["ratio"] == float("inf") else f"{scope['ratio']:.2f}x"
    separation = (f" at {scope['separation_arcsec']:.1f}\"" if scope.get("separation_arcsec")
                  is not None else "")
    return f"{scope['scope']} (core/next {ratio}{separation}; {scope['source']})"


def _mode_row(label: str, fields: str, n: dict, has_alpha: bool, has_truth: bool) -> list[str]:
    counts = n.get("counts") or {}
    tp = n.get("total_over_peak") or {}
    in_rms = (f"{fmt_fit(get_in(n, 'total_flux', 'in_rms_fit'))}; "
              f"{fmt_fit(get_in(n, 'peak_flux', 'in_rms_fit'))}")
    row = [label, fields,
           f"{counts.get('matched', '–')} ({counts.get('model', '–')} / {counts.get('nomodel', '–')})",
           fmt_fit(get_in(n, "total_flux", "difference"), 1e6),
           fmt_fit(get_in(n, "total_flux", "fractional"), 100.0, "%"),
           fmt_fit(get_in(n, "peak_flux", "difference"), 1e6),
           fmt_fit(get_in(n, "peak_flux", "fractional"), 100.0, "%"),
           in_rms, fmt_fit(n.get("rms_ratio"))]
    if has_alpha:
        row.append(fmt_fit(get_in(n, "alpha", "difference")))
    row += [f"{fmt_centre(tp.get('model'))}, {fmt_centre(tp.get('nomodel'))}",
            fmt_number(tp.get("ks_pvalue"), ".2g")]
    if has_truth:
        row += [fmt_fit(get_in(n, "truth_paired", "total_flux"), 100.0, "%"),
                fmt_fit(get_in(n, "truth_paired", "peak_flux"), 100.0, "%")]
    row.append(n.get("verdict") or "–")
    return row


def _mode_tables(tiles: dict, overall: dict, mode: str) -> list[Table]:
    """Memo Table 2 (QL) / 3 (SE): a row per tile and one overall row per scope; then a row
    per field."""
    names = [t for t in tiles if mode in tiles[t]["modes"]]
    has_alpha = mode == "se" or any(get_in(tiles[t], "modes", mode, "alpha") for t in names)
    has_truth = any(get_in(tiles[t], "modes", mode, "truth_paired") for t in names)
    header = (["Tile", "Fields", "N matched (of model / nomodel)", "Total flux offset (µJy)",
               "Total flux offset (fractional)", "Peak offset (µJy/beam)",
               "Peak offset (fractional)", "Total; peak offset / image rms",
               "Image rms ratio model / nomodel"]
              + (["Alpha offset"] if has_alpha else [])
              + ["Total/Peak centre (model, nomodel)", "KS p (total/peak)"]
              + (["Total flux vs truth, model - nomodel (paired)",
                  "Peak vs truth, model - nomodel (paired, point sources)"] if has_truth else [])
              + [f"Verdict ({mode.upper()})"])
    rows = [_mode_row(t, ", ".join(sorted(tiles[t]["modes"][mode]["fields"])),
                      tiles[t]["modes"][mode], has_alpha, has_truth) for t in names]
    for scope, combined in overall.items():
        if mode in combined["modes"]:
            numbers = combined["modes"][mode]
            rows.append(_mode_row(f"Overall, {scope}", f"{len(numbers['tiles'])} tile(s)",
                                  numbers, has_alpha, has_truth))
    per_tile = Table(
        f"{MODE_NAMES[mode]} images: per tile and overall per scope (as {MEMO_TABLE_OF_MODE[mode]})",
        header, rows,
        "Offsets are model - nomodel over the same matched components: mean ± error of the "
        "Gaussian-core fit (the error is the fit's: sigma/sqrt(n)), the standard deviation ± "
        "error in parentheses (the spread of the components, as the memo's parentheses). "
        "Offset / image rms: in units of the nomodel arm's image rms. Image rms ratio: "
        "ratio ± error (independent-noise error, conservative). Vs truth: median of "
        "(model - nomodel) / true ± its error (1.4826 MAD spread). Total/peak centre: median ± "
        "1.4826 MAD. KS p: two-sample Kolmogorov-Smirnov test of total/peak of the two arms "
        "(smallest over the parts), a supplement only. Overall rows never pool scopes.")
    field_rows = []
    for t in names:
        for f, s in sorted(tiles[t]["modes"][mode]["fields"].items()):
            field_rows.append(
                [t, f, str(get_in(s, "counts", "matched", default="–")),
                 fmt_fit(get_in(s, "total_flux", "fractional"), 100.0, "%"),
                 fmt_fit(get_in(s, "peak_flux", "fractional"), 100.0, "%")]
                + ([fmt_fit(get_in(s, "alpha", "difference"))] if has_alpha else [])
                + [fmt_rms_pair(s.get("rms_by_arm") or {}), fmt_fit(s.get("rms_ratio")),
                   fmt_number(s["rms_jy"] * 1e6 if s.get("rms_jy") else None, ".1f"),
                   s.get("rms_source") or "–", str(s.get("outliers", "–"))])
    per_field = Table(f"{MODE_NAMES[mode]} images: per field",
                      ["Tile", "Field", "N matched", "Total flux offset (fractional)",
                       "Peak offset (fractional)"] + (["Alpha offset"] if has_alpha else [])
                      + ["Image rms model / nomodel (µJy/beam)", "Image rms ratio model / nomodel",
                         "Yardstick rms (µJy/beam)", "Yardstick from", "Outliers"], field_rows)
    return [per_tile, per_field]


def _truth_table(tiles: dict) -> list[Table]:
    rows = []
    for t, e in tiles.items():
        for mode in MODES:
            for f, s in sorted(get_in(e, "modes", mode, "fields", default={}).items()):
                for arm in ARMS:
                    a = get_in(s, "truth", "arms", arm)
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
                                 fmt_fraction(a.get("completeness")),
                                 fmt_fraction(a.get("completeness_bright")), false])
    if not rows:
        return []
    return [Table("Against the simulated truth (per arm, compare.json: each arm's own matches)",
                   ["Tile", "Mode", "Field", "Arm", "Matched / truth in image",
                    "Flux ratio measured/true: median ± error (scatter)",
                    "Alpha error measured - true", "Completeness (≥5σ)", "Completeness (bright)",
                    "False detections"], rows,
                   "Flux ratio and alpha error: median, the median's uncertainty and the "
                   "1.4826 MAD scatter, over the components each arm matched, so the two arms' "
                   "samples differ: the paired comparison is in the mode tables. True flux: as "
                   "the image measures it, each spectrum through the image's own Taylor fit "
                   "over its channels (docs/closure.md), per PyBDSF source. Completeness "
                   "counts the truth components above the S/N limit that were detected.")]


def _fluxscale_table(tiles: dict) -> list[Table]:
    rows = []
    for t, e in tiles.items():
        for arm in sorted(k for k in e["fluxscale"] if k != "model_over_nomodel"):
            f = e["fluxscale"][arm]
            freq = number(f.get("fit_ref_freq_hz"))
            rows.append([t, arm, str(f.get("flux_scale") or "–"), str(f.get("field") or "–"),
                         fmt_plus_minus(f.get("fit_flux_jy"), f.get("fit_flux_error_jy"), ".4f"),
                         fmt_plus_minus(f.get("fit_alpha"), f.get("fit_alpha_error"), ".3f"),
                         fmt_number(freq / 1e9 if freq else None, ".3f")])
        ratio = e["fluxscale"].get("model_over_nomodel")
        if ratio:
            rows.append([t, "model / nomodel", "", "",
                         fmt_plus_minus(ratio["flux_ratio"], ratio.get("flux_ratio_error"), ".4f"), "", ""])
    if not rows:
        return []
    return [Table("Gain calibrator fluxscale (calibrate.json)",
                  ["Tile", "Arm", "Flux scale", "Gain calibrator", "Fitted flux (Jy)",
                   "Fitted alpha", "Ref. freq (GHz)"], rows,
                  "Flux scale 'bootstrap' (the default): the model is normalised to 1 Jy and "
                  "contributes structure only; fluxscale measures the gain calibrator's flux "
                  "density against the flux calibrator, so both arms show it in Jy and "
                  "model / nomodel says how much the model moved the bootstrapped scale. "
                  "Flux scale 'model' (calibrate --flux-scale model): the model's own fluxes "
                  "are taken as absolute and the model arm's fitted flux is relative to them: "
                  "~1 with alpha ~0 for a correct model (memo Section 3.2).")]


def _stage_tables(tiles: dict) -> list[Table]:
    """characterize, build_model, image and tile records, one small table each."""
    out = []
    rows = [[t, str(c.get("field")), str(c.get("decision")),
             fmt_number(c.get("max_abs_dev_in_band"), ".4f"), fmt_number(c.get("max_abs_dev_outside_band"), ".4f"),
             str(c.get("suggested_uvrange") or "–"), str(c.get("coverage") or "–")]
            for t, e in tiles.items() for c in get_in(e, "characterize", "calibrators", default=[])]
    if rows:
        out.append(Table("Gain calibrator structure (characterize.json)",
                          ["Tile", "Calibrator", "Decision", "max |dev| in band",
                           "max |dev| outside band", "Suggested uvrange", "Coverage"], rows))
    rows = [[t, str(b.get("field") or "–"), str(b.get("chosen_solint") or "–"),
             f"{b['n_accepted']} / {b['n_rounds']}",
             f"{fmt_number(b.get('initial_snr'), '.0f')} → {fmt_number(b.get('final_snr'), '.0f')}",
             fmt_number(b.get("model_total_flux_jy"), ".4f"), fmt_number(b.get("n_components"), "g"),
             fmt_model_vs_truth(e.get("model_vs_truth"))]
            for t, e in tiles.items() if (b := e["build_model"])]
    if rows:
        out.append(Table("Calibrator model (build_model.json)",
                          ["Tile", "Calibrator", "Chosen solint", "Rounds accepted", "S/N",
                           "Model flux (Jy)", "Components", "Model / truth (simulated tiles)"], rows,
                          "Model / truth: the model's flux near each true component (each model pixel "
                          "counted for its nearest), over the component's true flux, brightest first; "
                          "then the totals. The total carries the starting calibration's flux scale; "
                          "unequal ratios between components mean a wrong structure."))
    rows = []
    for t, e in tiles.items():
        for im in sorted(e["images"], key=lambda i: (str(i["mode"]), str(i["field"]), str(i["arm"]))):
            beam = im.get("beam_arcsec") or []
            rms, rel = im.get("rms_jy"), im.get("rms_relative_error")
            rows.append([t, str(im.get("field") or "–"), (im.get("mode") or "–").upper(),
                         im.get("arm") or "unknown (not in manifest, meta.json, record or path)",
                         fmt_plus_minus(rms * 1e6 if rms else None,
                                        rms * 1e6 * rel if rms and rel else None, ".1f"),
                         fmt_number(im.get("rms_over_thermal"), ".2f"),
                         fmt_number(im.get("peak_jy"), ".4g"), fmt_number(im.get("dynamic_range"), ".0f"),
                         " × ".join(fmt_number(b, ".2f") for b in beam[:2]) if beam else "–"])
    if rows:
        out.append(Table("Images, both arms measured alike (image.json)",
                         ["Tile", "Field", "Mode", "Arm", "rms (µJy/beam)", "rms / thermal",
                          "Peak (Jy/beam)", "Dynamic range", "Beam (arcsec)"], rows,
                         "rms: 1.4826 MAD of the residual image ± 1.166/sqrt(beams in the image); "
                         "thermal: a Stokes V image of the same data."))
    rows = []
    for t, e in tiles.items():
        if (sim := e["simulation"]):
            rms = sim.get("expected_image_rms_jy") or {}
            rows.append([t, str(sim.get("preset") or "–"),
                         "–" if sim.get("seed") is None else str(sim["seed"]),
                         ", ".join(f"{k} {v * 1e6:.1f}" for k, v in rms.items() if number(v)) or "–"])
    if rows:
        out.append(Table("Simulated tiles (tile.json)",
                          ["Tile", "Preset", "Seed", "Expected image rms (µJy)"], rows))
    return out


def _pm(row: dict, column: str, scale: float = 1.0, digits: str = ".2f") -> str:
    value, error = row.get(column), row.get(f"{column}_err")
    return fmt_plus_minus(value * scale if value is not None else None,
                          error * scale if error is not None else None, digits)


def _sweep_tables(sweep: dict | None) -> list[Table]:
    """The sweep's map as tables: every grid point, and the 3% rule scored."""
    if not sweep:
        return []
    rows = []
    for r in sweep["points"]:
        deviation = r["max_dev_in_band"]
        rows.append([r["tile"], f"{r['flux_ratio']:g}", f"{r['separation_beams']:g} ({r['separation_arcsec']:.1f}\")",
                     r["decision"] + (f" ({100 * deviation:.1f}%)" if deviation is not None else ""),
                     _pm(r, "ql_flux_offset_rms"), _pm(r, "ql_rms_ratio", digits=".3f"),
                     _pm(r, "se_flux_offset_rms"), _pm(r, "se_flux_offset_frac", 100.0, ".1f"),
                     _pm(r, "se_rms_ratio", digits=".3f"), _pm(r, "se_alpha_offset", digits=".3f"),
                     " / ".join(fmt_number(r.get(f"se_{arm}_over_true"), ".3f") for arm in ARMS),
                     r["verdict"] or "–"])
    out = [Table("Sweep: every grid point (memo Tables 2/3 numbers per calibrator structure)",
                 ["Tile", "Secondary / primary", "Separation, beams (arcsec)", "3% rule (max in-band deviation)",
                  "QL flux offset / RMS", "QL RMS ratio", "SE flux offset / RMS", "SE flux offset (%)",
                  "SE RMS ratio", "SE alpha offset", "SE model / nomodel vs truth", "Verdict"], rows,
                 "Offsets are model - nomodel over the matched components (total flux); RMS ratio: image RMS "
                 "model / nomodel; vs truth: median measured / true total flux of each arm.")]
    confusion = sweep["confusion"]
    outcomes = ("change", "no-change", "insufficient")
    out.append(Table("Sweep: the 3% rule against the outcome",
                     ["characterize decision", *outcomes],
                     [[d, *(str(c[o]) for o in outcomes)] for d, c in confusion["counts"].items()],
                     f"Scored points: {confusion['n_scored']}; correct {confusion['correct']}; false alarms "
                     f"(model-needed, no change): {', '.join(confusion['false_alarms']) or 'none'}; misses "
                     f"(point or uvrange, change): {', '.join(confusion['misses']) or 'none'}."))
    best = sweep.get("best_threshold")
    if best:
        high = "∞" if best["threshold_high"] == float("inf") else f"{100 * best['threshold_high']:.1f}%"
        rule = sweep.get("rule_threshold")
        out.append(Table("Sweep: the in-band threshold that separates the outcomes best",
                         ["Rule's threshold", "Best threshold (flag above)", "Misclassified", "Scored"],
                         [[f"{100 * rule:.1f}%" if rule is not None else "–",
                           f"{100 * best['threshold_low']:.1f}% to {high}", str(best["errors"]),
                           str(best["n_scored"])]],
                         "Any threshold in the range misclassifies the same points on this grid; the "
                         "deviation is characterize's largest binned amplitude deviation in the band."))
    return out


def tables(content: dict) -> list[Table]:
    """Every table of the report, in order; shared by tables.md and report.html."""
    tiles, overall = content["tiles"], content["overall"]
    out = [Table("Verdict", ["Tile", "Scope", "Verdict", "Reasons"],
                 [[t, fmt_scope(e["scope"]), e["verdict"], " · ".join(e["reasons"])]
                  for t, e in tiles.items()]
                 + [[f"Overall, {scope}", f"{len(o['tiles'])} tile(s)", o["verdict"],
                     " · ".join(o["reasons"])] for scope, o in overall.items()])]
    for mode in MODES:
        if any(mode in e["modes"] for e in tiles.values()):
            out += _mode_tables(tiles, overall, mode)
    # a sweep's map right after the verdict: it is what a sweep is run for
    return (out[:1] + _sweep_tables(content.get("sweep")) + out[1:] + _truth_table(tiles)
            + _fluxscale_table(tiles) + _stage_tables(tiles))
