"""`calmodel calibrate`: options from CalibrateSettings, the stage, a summary."""

from __future__ import annotations

from pathlib import Path

import click

from calmodel.calibrate.settings import CalibrateSettings as S
from calmodel.core.options import setting, settings_from


@click.command("calibrate")
@click.option("--ms", "ms", required=True, type=click.Path(path_type=Path),
              help="Input measurement set or UVFITS file (never modified).")
@click.option("--model", required=True,
              help="'none' (point-source assumption) or a component list / model .tt0 image.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: calibrated.ms, caltables/, calibrate.json.")
@setting(S, "flux_scale", type=click.Choice(["bootstrap", "model"]),
         help="bootstrap: flux calibrator sets the model's scale; model: trust the model's fluxes.")
@setting(S, "flux_field", help="Flux/bandpass calibrator (default: by intent).")
@setting(S, "gain_field", help="Gain calibrator (default: by intent).")
@click.option("--targets", help="Comma-separated target fields (default: by intent, else all others).")
@setting(S, "refant", help="Reference antenna (default: nearest the array centre).")
@setting(S, "uvrange", help="uvrange for solves on the gain calibrator, e.g. '>35klambda'.")
@setting(S, "statwt", "--statwt/--no-statwt",
         help="Re-derive weights with statwt (off for simulated tiles, whose weights are exact).")
@setting(S, "quack_s", "--quack", type=float,
         help="Seconds flagged at each scan start (default: half an integration = the first dump).")
def command(ms: Path, model: str, out: Path, targets: str | None, **params) -> None:
    """Calibrate with a point-source assumption (--model none) or with a spatial model."""
    from calmodel.calibrate.stage import calibrate
    from calmodel.core.casa import stage_console
    from calmodel.core.outputs import stage_output

    settings = settings_from(S, params, model=None if model.lower() == "none" else Path(model),
                             targets=tuple(t for t in (targets or "").split(",") if t))
    with (stage_output(out, "calibrate.json", inputs=(ms, settings.model),
                       products=("calibrated.ms", "caltables", "apply.callib", "gain_calibrator_model.cl"), scratch=("scratch",)),
          stage_console(out)):
        result = calibrate(ms, out, settings)
    fs = result.fluxscale
    click.echo(f"calibrate: {result.calibrated_ms}; {fs['field']}: {fs['fit_flux_jy']:.4f} Jy, "
               f"alpha {fs['fit_alpha']:.3f} at {fs['fit_ref_freq_hz'] / 1e9:.3f} GHz")
