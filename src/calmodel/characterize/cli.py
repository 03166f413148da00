"""`calmodel characterize`: options from CharacterizeSettings, the stage, a summary."""

from __future__ import annotations

from pathlib import Path

import click

from calmodel.characterize.settings import CharacterizeSettings as S
from calmodel.core.options import setting, settings_from


@click.command("characterize")
@click.option("--ms", "ms", required=True, type=click.Path(path_type=Path),
              help="Measurement set folder or UVFITS file (.fits/.uvfits); never modified.")
@setting(S, "field", help="Gain calibrator to characterise (default: CALIBRATE_PHASE/AMPLI intents).")
@setting(S, "bandpass_field", help="Flux/bandpass calibrator for a bandpass first (default: from intents).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: characterize.json, <field>_amp_uvdist.png, casa.log.")
@setting(S, "threshold", help="Fractional deviation that counts (memo: 3%).")
@setting(S, "band_klambda", "--band", help="uv-distance band in klambda where a deviation needs a model.")
@setting(S, "band_scale", type=float,
         help="Multiply the band edges (default: from the data's frequency and array size, core.uvband; "
              "1 keeps the memo's VLASS band).")
@setting(S, "nsigma", help="A bin deviates only if |dev| > nsigma x its uncertainty too.")
@setting(S, "nbins", help="Number of bins across the band (bin width = band width / nbins).")
@setting(S, "binning", type=click.Choice(["linear", "quantile"]), help="Bin edges: linear or equal-count.")
@setting(S, "min_count", help="Visibilities a bin needs to be judged.")
@setting(S, "min_bins", help="Judged bins the band needs, else coverage is insufficient.")
@setting(S, "min_fraction", help="Fraction of visibilities the band needs, else coverage is insufficient.")
@setting(S, "max_samples", help="Samples kept per calibrator; beyond it a uniform random subsample "
                                 "(fixed seed) keeps memory bounded.")
@setting(S, "spw", help="CASA spw/channel selection, e.g. '0:5~57'.")
@setting(S, "refant", help="Reference antenna (default: a central one).")
@setting(S, "keep_work", help="Keep the private calibrated copy.")
def command(ms: Path, out: Path, **params) -> None:
    """Amplitude vs uv-distance of each gain calibrator: point | uvrange | model-needed."""
    from calmodel.characterize.stage import characterize
    from calmodel.core.casa import stage_console
    from calmodel.core.outputs import stage_output

    with stage_output(out, "characterize.json", inputs=(ms,)), stage_console(out):
        result = characterize(ms, out, settings_from(S, params))

    def num(x: float | None) -> str:
        return "-" if x is None else f"{x:+.4f}"

    lo, hi = result.band_klambda
    click.echo(f"band {lo:g}-{hi:g} klambda, refant {result.refant}, "
               f"bandpass field {result.bandpass_field or '-'}")
    for cal in result.calibrators:
        c = cal.curve
        click.echo(f"{cal.field}: {cal.decision}  max|dev| in band {num(cal.max_abs_dev_in_band)}"
                   f"  outside {num(cal.max_abs_dev_outside_band)}  uvrange "
                   f"{cal.suggested_uvrange or '-'}  coverage {cal.coverage['status']}")
        click.echo("   uv_lo   uv_hi  count   median-1    sigma  band  dev")
        for i in range(len(c.count)):
            if c.count[i]:
                click.echo(f"  {c.edges[i]:6.2f}  {c.edges[i + 1]:6.2f} {c.count[i]:6d}  "
                           f"{num(c.median_dev[i]):>9s}  {c.sigma[i]:7.4f}  "
                           f"{'in' if c.in_band[i] else '-':>4s}  {'*' if c.deviates[i] else ''}")
    click.echo(f"wrote {result.record}")
