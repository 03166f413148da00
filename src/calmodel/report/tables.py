"""Every table of the report, shared by tables.md and report.html."""

from __future__ import annotations

from dataclasses import dataclass

from calmodel.report.formatting import (fmt_centre, fmt_difference, fmt_fit, fmt_fraction,
                                        fmt_in_rms, fmt_number, fmt_plus_minus, fmt_ratio)
from calmodel.report.values import get_in, number
from calmodel.report.vocabulary import ARMS, MEMO_TABLE_OF_MODE, MODE_NAMES, MODES


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""

    def stacked(self) -> set[int]:
        """Columns whose cells the HTML page breaks into lines (mean, then the sigma)."""
        words = ("offset", "/ image rms", "flux ratio", "error measured", "centre")
        return {i for i, h in enumerate(self.header) if any(w in h.lower() for w in words)}


def _mode_row(label: str, fields: str, n: dict, has_alpha: bool, has_truth: bool) -> list[str]:
    counts = n.get("counts") or {}
    tp = n.get("total_over_peak") or {}
    in_rms = (f"{fmt_in_rms(get_in(n, 'total_flux', 'in_rms'))}; "
              f"{fmt_in_rms(get_in(n, 'peak_flux', 'in_rms'))}")
    if n.get("rms_jy"):
        in_rms += f" [rms {n['rms_jy'] * 1e6:.1f} µJy]"
    row = [label, fields,
           f"{counts.get('matched', '–')} ({counts.get('model', '–')} / {counts.get('nomodel', '–')})",
           fmt_fit(get_in(n, "total_flux", "difference"), 1e6),
           fmt_fit(get_in(n, "total_flux", "fractional"), 100.0, "%"),
           fmt_fit(get_in(n, "peak_flux", "difference"), 1e6),
           fmt_fit(get_in(n, "peak_flux", "fractional"), 100.0, "%"),
           in_rms]
    if has_alpha:
        row.append(fmt_fit(get_in(n, "alpha", "difference")))
    row += [f"{fmt_centre(tp.get('model'))}, {fmt_centre(tp.get('nomodel'))}",
            fmt_number(tp.get("ks_pvalue"), ".2g")]
    if has_truth:
        row.append(fmt_difference(get_in(n, "truth", "flux_ratio_difference")))
    row.append(n.get("verdict") or "–")
    return row


def _mode_tables(tiles: dict, overall: dict, mode: str) -> list[Table]:
    """Memo Table 2 (QL) / 3 (SE): a row per tile and the overall row; then a row per field."""
    names = overall["modes"][mode]["tiles"]
    has_alpha = mode == "se" or any(get_in(tiles[t], "modes", mode, "alpha") for t in names)
    has_truth = any(get_in(tiles[t], "modes", mode, "truth") for t in names)
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
    per_tile = Table(
        f"{MODE_NAMES[mode]} images: per tile and overall (as {MEMO_TABLE_OF_MODE[mode]})", header, rows,
        "Offsets are model - nomodel: mean ± error of the Gaussian-core fit, the standard "
        "deviation ± error in parentheses. Total/peak centre: median ± 1.4826 MAD. "
        "KS p: two-sample Kolmogorov-Smirnov test of total/peak of the two arms "
        "(smallest over the fields/tiles combined).")
    field_rows = []
    for t in names:
        for f, s in sorted(tiles[t]["modes"][mode]["fields"].items()):
            field_rows.append(
                [t, f, str(get_in(s, "counts", "matched", default="–")),
                 fmt_fit(get_in(s, "total_flux", "fractional"), 100.0, "%"),
                 fmt_fit(get_in(s, "peak_flux", "fractional"), 100.0, "%")]
                + ([fmt_fit(get_in(s, "alpha", "difference"))] if has_alpha else [])
                + [fmt_number(s["rms_jy"] * 1e6 if s.get("rms_jy") else None, ".1f"),
                   s.get("rms_source") or "–", str(s.get("outliers", "–"))])
    per_field = Table(f"{MODE_NAMES[mode]} images: per field",
                       ["Tile", "Field", "N matched", "Total flux offset (fractional)",
                        "Peak offset (fractional)"] + (["Alpha offset"] if has_alpha else [])
                       + ["Image rms (µJy/beam)", "rms from", "Outliers"], field_rows)
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
    return [Table("Against the simulated truth (per arm)",
                   ["Tile", "Mode", "Field", "Arm", "Matched / truth in image",
                    "Flux ratio measured/true: median ± error (scatter)",
                    "Alpha error measured - true", "Completeness (≥5σ)", "Completeness (bright)",
                    "False detections"], rows,
                   "Flux ratio and alpha error: median, the median's uncertainty and the "
                   "1.4826 MAD scatter; completeness counts the truth components above the S/N "
                   "limit that were detected.")]


def _fluxscale_table(tiles: dict) -> list[Table]:
    rows = []
    for t, e in tiles.items():
        for arm in sorted(k for k in e["fluxscale"] if k != "model_over_nomodel"):
            f = e["fluxscale"][arm]
            freq = number(f.get("fit_ref_freq_hz"))
            rows.append([t, arm, str(f.get("field") or "–"),
                         fmt_plus_minus(f.get("fit_flux_jy"), f.get("fit_flux_error_jy"), ".4f"),
                         fmt_plus_minus(f.get("fit_alpha"), f.get("fit_alpha_error"), ".3f"),
                         fmt_number(freq / 1e9 if freq else None, ".3f")])
        ratio = e["fluxscale"].get("model_over_nomodel")
        if ratio:
            rows.append([t, "model / nomodel", "",
                         fmt_plus_minus(ratio["flux_ratio"], ratio.get("flux_ratio_error"), ".4f"), "", ""])
    if not rows:
        return []
    return [Table("Gain calibrator fluxscale (calibrate.json)",
                   ["Tile", "Arm", "Gain calibrator", "Fitted flux (Jy)", "Fitted alpha",
                    "Ref. freq (GHz)"], rows,
                   "With a spatial model (bootstrap) the model arm's fitted flux is relative to "
                   "the model and should be ~1 with alpha ~0.")]


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
             fmt_number(b.get("model_total_flux_jy"), ".4f"), fmt_number(b.get("n_components"), "g")]
            for t, e in tiles.items() if (b := e["build_model"])]
    if rows:
        out.append(Table("Calibrator model (build_model.json)",
                          ["Tile", "Calibrator", "Chosen solint", "Rounds accepted", "S/N",
                           "Model flux (Jy)", "Components"], rows))
    rows = []
    for t, e in tiles.items():
        for im in sorted(e["images"], key=lambda i: (str(i["mode"]), str(i["field"]), str(i["arm"]))):
            beam = im.get("beam_arcsec") or []
            rows.append([t, str(im.get("field") or "–"), (im.get("mode") or "–").upper(),
                         str(im.get("arm") or "–"),
                         fmt_number(im["rms_jy"] * 1e6 if im.get("rms_jy") else None, ".1f"),
                         fmt_number(im.get("peak_jy"), ".4g"), fmt_number(im.get("dynamic_range"), ".0f"),
                         " × ".join(fmt_number(b, ".2f") for b in beam[:2]) if beam else "–"])
    if rows:
        out.append(Table("Images (image.json)", ["Tile", "Field", "Mode", "Arm", "rms (µJy/beam)",
                                                  "Peak (Jy/beam)", "Dynamic range",
                                                  "Beam (arcsec)"], rows))
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


def tables(content: dict) -> list[Table]:
    """Every table of the report, in order; shared by tables.md and report.html."""
    tiles, overall = content["tiles"], content["overall"]
    out = [Table("Verdict", ["Tile", "Verdict", "Reasons"],
                  [[t, e["verdict"], "; ".join(e["reasons"])] for t, e in tiles.items()]
                  + [["Overall", overall["verdict"], "; ".join(overall["reasons"])]])]
    for mode in MODES:
        if mode in overall["modes"]:
            out += _mode_tables(tiles, overall, mode)
    return out + _truth_table(tiles) + _fluxscale_table(tiles) + _stage_tables(tiles)
