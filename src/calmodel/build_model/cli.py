"""`calmodel build-model`: options from BuildModelSettings, the stage, a summary."""

from __future__ import annotations

from pathlib import Path

import click

from calmodel.build_model.settings import BuildModelSettings as S
from calmodel.core.options import setting, settings_from


@click.command("build-model")
@click.option("--ms", "ms", required=True, type=click.Path(path_type=Path),
              help="The execution block (MS or UVFITS; never modified), or calibrated calibrator data.")
@setting(S, "field", help="The calibrator field (default: the gain calibrator by core.roles, else the only field).")
@setting(S, "bandpass_field", help="Flux/bandpass calibrator (default: by intent; none: use DATA as is).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: model.cl, model.tt0, model.tt1, build_model.json, PNGs.")
@setting(S, "refant", help="Reference antenna (default: CASA's choice).")
@setting(S, "max_negative_fraction", help="Largest negative/positive clean-model flux for a model to be chosen.")
@setting(S, "component_threshold", help="Model pixels whose |flux| is below this fraction of the peak are dropped from model.cl.")
@setting(S, "normalise", help="Scale model.cl to 1 Jy in total (flux bootstrapping).")
@setting(S, "expand_mask", "--mask-expansion/--no-mask-expansion",
         help="Rerun once with an expanded mask if emission lies outside the static mask.")
@setting(S, "reffreq_ghz", "--reffreq", help="mtmfs reference (GHz).")
@setting(S, "min_fractional_bandwidth", help="Smallest fractional bandwidth for nterms 2 (else nterms 1, alpha 0).")
def command(ms: Path, out: Path, **params) -> None:
    """Self-calibrate the calibrator and export its model (memo Section 3.1)."""
    from calmodel.build_model.stage import build_model
    from calmodel.core.casa import stage_console
    from calmodel.core.outputs import stage_output

    with (stage_output(out, "build_model.json", inputs=(ms,), products=("model.cl", "model.tt0", "model.tt1"),
                       scratch=("work",)),
          stage_console(out)):
        result = build_model(ms, out, settings_from(S, params))
    for r in result.rounds:
        click.echo(f"  solint {r.solint:>6s}: S/N {r.pre['snr']:8.1f} -> {r.post['snr']:8.1f}  "
                   f"{'accepted' if r.accepted else 'rejected'} ({r.reason})")
    click.echo(f"build-model: {result.model_cl} from solint {result.chosen_solint}")
