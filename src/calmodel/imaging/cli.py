"""`calmodel image`: options from ImagingSettings, the stage, a summary."""

from __future__ import annotations

from pathlib import Path

import click

from calmodel.core.options import setting, settings_from
from calmodel.imaging.settings import ImagingSettings as S


@click.command("image")
@click.option("--ms", "ms", required=True, type=click.Path(path_type=Path),
              help="Calibrated measurement set (or UVFITS file); never modified.")
@click.option("--field", default=None, help="Target field to image (a pointed field; or give --mosaic).")
@click.option("--mosaic", default=None,
              help="Name of a mosaic image of several fields (--fields), imaged jointly (gridder mosaic).")
@click.option("--fields", "mosaic_fields", default=None,
              help="With --mosaic: member fields, comma-separated names or patterns such as 'P*' "
                   "[default: every target field].")
@click.option("--mode", required=True, metavar="ql|se",
              help="ql: Quicklook-like (no self-cal, mtmfs tt0 as VLASS QL); se: Single-Epoch-like (phase self-cal, "
                   "mtmfs nterms=2, spectral index).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: <field>_<mode>.image.tt0.fits (se: .alpha.fits, .alpha.error.fits), "
                   "image.json, casa.log.")
@setting(S, "cell_arcsec", "--cell", type=float,
         help="Cell size in arcsec [default: from the data, lambda_min/B_max / 2 (ql) or / 2.5 (se)].")
@setting(S, "imsize", type=int, help="Image side in pixels [default: from --fov-arcmin].")
@setting(S, "fov_arcmin", help="Side of the square image (rounded up to a 5*2^n*3^m pixel count).")
@setting(S, "robust", help="Briggs robust.")
@setting(S, "nsigma", type=float,
         help="Clean down to this many x the residual's robust RMS [default: ql 4 (VLASS QL), se 3].")
@setting(S, "niter", help="Maximum clean iterations.")
@setting(S, "reffreq_ghz", help="se: reference frequency of the Taylor terms and alpha.")
@setting(S, "min_fractional_bandwidth",
         help="Smallest fractional bandwidth for nterms 2 (else nterms 1; se: NaN alpha images).")
@setting(S, "selfcal_combine", type=click.Choice(["spw,field", "spw", ""]),
         help="se: self-cal gaincal combine (default 'spw,field', as VLASS-SE; '' = per spw).")
@setting(S, "automask", "--automask/--no-automask",
         help="se: clean inside an automatic mask (--no-automask: the whole image).")
@setting(S, "refant", help="se: self-cal reference antenna [default: a central one].")
@setting(S, "keep_images", help="Keep the CASA images in OUT/scratch_<name>/.")
def command(ms: Path, field: str | None, mosaic: str | None, mosaic_fields: str | None, mode: str, out: Path,
            **params) -> None:
    """Image one target field, or a mosaic of several: QL (no self-cal) or SE (phase self-cal,
    spectral index)."""
    if (field is None) == (mosaic is None):
        raise click.UsageError("give exactly one of --field NAME or --mosaic NAME")
    if mosaic_fields is not None and mosaic is None:
        raise click.UsageError("--fields needs --mosaic")
    from calmodel.core.casa import stage_console
    from calmodel.core.outputs import stage_output
    from calmodel.imaging.stage import image

    with stage_output(out, "image.json", inputs=(ms,)), stage_console(out):
        result = image(ms, field or mosaic, out, settings_from(S, params, mode=mode),
                       mosaic_fields=(mosaic_fields or "") if mosaic else None)
    bmaj, bmin, bpa = result.beam_arcsec
    click.echo(f"image: {result.image_tt0} ({result.imsize} px of {result.cell_arcsec:g}\", beam "
               f"{bmaj:.2f}\"x{bmin:.2f}\" pa {bpa:.0f}, rms {result.rms_jy * 1e6:.1f} uJy/beam, "
               f"peak {result.peak_jy * 1e3:.2f} mJy)")
    if result.selfcal is not None:
        sc = result.selfcal
        click.echo(f"selfcal: {'applied' if sc.get('applied') else 'not applied'} ({sc.get('reason')}); "
                   f"phase rms {sc.get('phase_rms_deg', float('nan')):.1f} deg, "
                   f"{sc.get('fraction_flagged', 1.0):.1%} flagged")
