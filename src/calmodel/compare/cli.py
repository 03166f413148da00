"""`calmodel compare`: options from CompareSettings, the stage, a summary."""

from __future__ import annotations

from pathlib import Path

import click

from calmodel.compare.settings import CompareSettings as S
from calmodel.core.options import setting, settings_from


@click.command("compare")
@click.option("--model", "model_cat", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Catalogue of the arm calibrated with the model (catalog.fits or .csv).")
@click.option("--nomodel", "nomodel_cat", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Catalogue of the arm calibrated without a model.")
@click.option("--truth", type=click.Path(dir_okay=False, path_type=Path),
              help="Truth CSV (ra_deg, dec_deg, flux_jy[, alpha, maj_arcsec, min_arcsec, pa_deg, "
                   "field, ref_freq_hz]).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: compare.json, matched.csv, *.png.")
@setting(S, "match_radius_arcsec", "--match-radius", help="Match radius (arcsec).")
@setting(S, "outlier_sigma",
         help="List pairs whose fractional total flux difference is beyond this many sigma.")
@setting(S, "bright_flux_jy", "--bright-flux", type=float,
         help="Bright-source threshold (Jy) for outlier distances [default: brightest 5%].")
@setting(S, "rms_jy", "--rms", type=float,
         help="Image rms (Jy/beam) for completeness [default: from catalog.json].")
@setting(S, "truth_field", help="Use only truth rows with this 'field'.")
@setting(S, "completeness_snr", help="Completeness counts truth components above this S/N.")
@setting(S, "bright_snr", help="S/N above which a truth component counts as bright.")
def command(model_cat: Path, nomodel_cat: Path, truth: Path | None, out: Path, **params) -> None:
    """Cross-match the model and nomodel catalogues (memo Section 4.2), optionally the truth."""
    from calmodel.compare.stage import compare
    from calmodel.core.outputs import stage_output

    with stage_output(out, "compare.json", inputs=(model_cat, nomodel_cat, truth), products=("matched.csv",)):
        result = compare(model_cat, nomodel_cat, out, truth=truth, settings=settings_from(S, params))
    frac = result.fits["Total_flux"]["fractional_difference"]
    summary = f"{result.n_matched} matched of {result.n_model}/{result.n_nomodel}"
    if frac["mean"] is not None:
        summary += f", Total_flux (model-nomodel)/nomodel {frac['mean']:+.4f} ± {frac['mean_err']:.4f}"
    click.echo(f"{summary} -> {result.record}")
