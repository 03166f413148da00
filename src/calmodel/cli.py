"""The `calmodel` command line: thin click commands over the stage functions.

Each command parses options, calls one stage function and writes its outputs.
Errors the user can act on (:class:`calmodel.CalmodelError`) become one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator
from dataclasses import asdict
from pathlib import Path

import click

from calmodel import CalmodelError, __version__
from calmodel.report.cli import report_command


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CalmodelError as err:
            click.echo(f"calmodel: error: {err}", err=True)
            sys.exit(2)
        except (RuntimeError, AssertionError, ValueError, OSError) as err:
            # Failures from inside CASA or PyBDSF: one line, the traceback only on request.
            if os.environ.get("CALMODEL_DEBUG"):
                raise
            message = " ".join(str(err).split())[:300] or type(err).__name__
            click.echo(f"calmodel: error: {ctx.invoked_subcommand} failed: {message} "
                       "(the stage's casa.log has details; CALMODEL_DEBUG=1 shows the traceback)", err=True)
            sys.exit(1)


@contextmanager
def _casa_quietly(out: Path) -> Iterator[None]:
    """CASA's own terminal chatter goes to OUT/casa_console.log; calmodel prints the summary.

    The chatter is collected in a temporary file first, so that a stage refusing its input
    leaves no OUT folder behind."""
    from calmodel.casa import console_to

    fd, tmp = tempfile.mkstemp(prefix="calmodel-console-", suffix=".log")
    os.close(fd)
    try:
        with console_to(Path(tmp)):
            yield
    finally:
        if out.is_dir():
            shutil.move(tmp, out / "casa_console.log")
        else:
            os.unlink(tmp)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="calmodel")
def main() -> None:
    """Decide, with numbers, whether a survey must calibrate with a spatial model
    of a resolved gain calibrator (VLASS Memo 19)."""


@main.command("env")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the report as JSON to this file.")
@click.option("--no-nextflow", is_flag=True,
              help="Do not require Nextflow (inside a pipeline task or container).")
def env_command(json_path: Path | None, no_nextflow: bool) -> None:
    """Versions of calmodel, CASA, PyBDSF, astropy, numpy, Nextflow and the measures path."""
    from calmodel.env import collect
    from calmodel.records import write_json

    report = collect(check_nextflow=not no_nextflow)
    for name, version in report.versions.items():
        click.echo(f"{name:10s} {version}")
    click.echo(f"{'measures':10s} {report.measures_path or '-'}")
    if json_path is not None:
        write_json(json_path, {"calmodel_version": __version__, **asdict(report)})
    if report.missing:
        raise CalmodelError("missing: " + "; ".join(report.missing))


@main.command("simulate")
@click.option("--preset", help="Built-in tile preset (point, vlass-like, short-spacing, coequal-double).")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML settings overriding the defaults (may name a `base:` preset).")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed for sky, gains and noise.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: tile.ms, tile.json, truth/.")
@click.option("--overwrite", is_flag=True, help="Replace an existing tile.ms in --out.")
def simulate_command(preset: str | None, config: Path | None, seed: int, out: Path, overwrite: bool) -> None:
    """Simulate a VLASS-like execution block with its truth (sky, calibrator, gains)."""
    from calmodel.simulate import simulate

    with _casa_quietly(out):
        result = simulate(out, seed, preset=preset, config=config, overwrite=overwrite)
    click.echo(f"simulate: {result.ms} ({result.n_rows} rows, {result.n_visibilities} visibilities, "
               f"noise sigma {result.noise_sigma_jy * 1e3:.2f} mJy)")


@main.command("characterize")
@click.option("--ms", "ms", required=True, type=click.Path(path_type=Path),
              help="Measurement set folder or UVFITS file (.fits/.uvfits); never modified.")
@click.option("--field", default=None,
              help="Gain calibrator to characterise (default: CALIBRATE_PHASE/AMPLI intents).")
@click.option("--bandpass-field", default=None,
              help="Flux/bandpass calibrator for a bandpass first (default: from intents).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: characterize.json, <field>_amp_uvdist.png, casa.log.")
@click.option("--threshold", default=0.03, show_default=True, type=float,
              help="Fractional deviation that counts (memo: 3%).")
@click.option("--band", nargs=2, type=float, default=(35.0, 90.0), show_default=True,
              help="uv-distance band in klambda where a deviation needs a model.")
@click.option("--band-scale", default=1.0, show_default=True, type=float,
              help="Multiply the band edges (other configuration or frequency).")
@click.option("--nsigma", default=3.0, show_default=True, type=float,
              help="A bin deviates only if |dev| > nsigma x its uncertainty too.")
@click.option("--nbins", default=11, show_default=True, type=int,
              help="Number of bins across the band (bin width = band width / nbins).")
@click.option("--binning", type=click.Choice(["linear", "quantile"]), default="linear",
              show_default=True)
@click.option("--min-count", default=20, show_default=True, type=int,
              help="Visibilities a bin needs to be judged.")
@click.option("--min-bins", default=2, show_default=True, type=int,
              help="Judged bins the band needs, else coverage is insufficient.")
@click.option("--min-fraction", default=0.05, show_default=True, type=float,
              help="Fraction of visibilities the band needs, else coverage is insufficient.")
@click.option("--spw", default="", help="CASA spw/channel selection, e.g. '0:5~57'.")
@click.option("--refant", default="", help="Reference antenna (default: a central one).")
@click.option("--keep-work", is_flag=True, help="Keep the private calibrated copy.")
def characterize_command(ms: Path, field: str | None, bandpass_field: str | None, out: Path,
                         threshold: float, band: tuple[float, float], band_scale: float,
                         nsigma: float, nbins: int, binning: str, min_count: int,
                         min_bins: int, min_fraction: float, spw: str, refant: str,
                         keep_work: bool) -> None:
    """Amplitude vs uv-distance of each gain calibrator: point | uvrange | model-needed."""
    from calmodel.characterize import characterize

    with _casa_quietly(out):
        result = characterize(ms, out, field=field, threshold=threshold, band_klambda=band,
                              band_scale=band_scale, nsigma=nsigma, nbins=nbins, binning=binning,
                              min_count=min_count, min_bins=min_bins, min_fraction=min_fraction,
                              bandpass_field=bandpass_field, spw=spw, refant=refant,
                              keep_work=keep_work)

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


@main.command("catalog")
@click.option("--image", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Total-intensity FITS image (e.g. <name>.image.tt0.fits).")
@click.option("--alpha", type=click.Path(dir_okay=False, path_type=Path),
              help="Spectral index FITS image; adds Alpha at each component.")
@click.option("--alpha-error", type=click.Path(dir_okay=False, path_type=Path),
              help="Spectral index error FITS image; adds E_Alpha.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: catalog.fits, catalog.csv, catalog.json.")
@click.option("--allow-empty", is_flag=True,
              help="Write an empty catalogue when no source is found (default: error).")
@click.option("--thresh-isl", default=3.0, show_default=True, help="PyBDSF island threshold (sigma).")
@click.option("--thresh-pix", default=5.0, show_default=True, help="PyBDSF peak threshold (sigma).")
@click.option("--rms-box", nargs=2, type=int, default=None,
              help="PyBDSF rms box and step in pixels [default: VLASS (200,50) scaled to the image].")
@click.option("--ncores", default=1, show_default=True, help="Cores PyBDSF may use.")
def catalog_command(image: Path, alpha: Path | None, alpha_error: Path | None, out: Path,
                    allow_empty: bool, thresh_isl: float, thresh_pix: float,
                    rms_box: tuple[int, int] | None, ncores: int) -> None:
    """PyBDSF component (Gaussian) catalogue of one image, with spectral index."""
    from calmodel.catalog import make_catalog

    result = make_catalog(image, out, alpha=alpha, alpha_error=alpha_error, thresh_isl=thresh_isl,
                          thresh_pix=thresh_pix, rms_box=rms_box,
                          allow_empty=allow_empty, ncores=ncores)
    click.echo(f"{result.n_components} components ({result.n_with_alpha} with alpha), "
               f"rms {result.rms_jy_per_beam * 1e6:.1f} uJy/beam -> {result.catalog_fits}")


@main.command("compare")
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
@click.option("--match-radius", default=0.5, show_default=True, help="Match radius (arcsec).")
@click.option("--outlier-sigma", default=5.0, show_default=True,
              help="List pairs whose fractional total flux difference is beyond this many sigma.")
@click.option("--bright-flux", type=float, default=None,
              help="Bright-source threshold (Jy) for outlier distances [default: brightest 5%].")
@click.option("--rms", type=float, default=None,
              help="Image rms (Jy/beam) for completeness [default: from catalog.json].")
@click.option("--truth-field", default=None, help="Use only truth rows with this 'field'.")
def compare_command(model_cat: Path, nomodel_cat: Path, truth: Path | None, out: Path,
                    match_radius: float, outlier_sigma: float, bright_flux: float | None,
                    rms: float | None, truth_field: str | None) -> None:
    """Cross-match the model and nomodel catalogues (memo Section 4.2), optionally the truth."""
    from calmodel.compare import compare

    result = compare(model_cat, nomodel_cat, out, truth=truth, match_radius_arcsec=match_radius,
                     outlier_sigma=outlier_sigma, bright_flux_jy=bright_flux, rms_jy=rms,
                     truth_field=truth_field)
    frac = result.fits["Total_flux"]["fractional_difference"]
    summary = f"{result.n_matched} matched of {result.n_model}/{result.n_nomodel}"
    if frac["mean"] is not None:
        summary += f", Total_flux (model-nomodel)/nomodel {frac['mean']:+.4f} ± {frac['mean_err']:.4f}"
    click.echo(f"{summary} -> {result.record}")


@main.command("calibrate")
@click.option("--ms", "ms", required=True, type=click.Path(path_type=Path),
              help="Input measurement set or UVFITS file (never modified).")
@click.option("--model", required=True,
              help="'none' (point-source assumption) or a component list / model .tt0 image.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: calibrated.ms, caltables/, calibrate.json.")
@click.option("--flux-scale", type=click.Choice(["bootstrap", "model"]), default="bootstrap", show_default=True,
              help="bootstrap: flux calibrator sets the model's scale; model: trust the model's fluxes.")
@click.option("--flux-field", help="Flux/bandpass calibrator (default: by intent).")
@click.option("--gain-field", help="Gain calibrator (default: by intent).")
@click.option("--targets", help="Comma-separated target fields (default: by intent, else all others).")
@click.option("--refant", help="Reference antenna (default: nearest the array centre).")
@click.option("--uvrange", default="", help="uvrange for solves on the gain calibrator, e.g. '>35klambda'.")
@click.option("--statwt/--no-statwt", default=True, show_default=True,
              help="Re-derive weights with statwt (off for simulated tiles, whose weights are exact).")
@click.option("--quack", "quack_s", type=float, help="Seconds flagged at each scan start (default: half an integration = the first dump).")
def calibrate_command(ms: Path, model: str, out: Path, flux_scale: str, flux_field: str | None,
                      gain_field: str | None, targets: str | None, refant: str | None, uvrange: str,
                      quack_s: float | None, statwt: bool) -> None:
    """Calibrate with a point-source assumption (--model none) or with a spatial model."""
    from calmodel.calibrate import CalibrateSettings, calibrate

    settings = CalibrateSettings(
        model=None if model.lower() == "none" else Path(model), flux_scale=flux_scale, flux_field=flux_field,
        gain_field=gain_field, targets=tuple(t for t in (targets or "").split(",") if t), refant=refant,
        uvrange=uvrange, quack_s=quack_s, statwt=statwt)
    with _casa_quietly(out):
        result = calibrate(ms, out, settings)
    fs = result.fluxscale
    click.echo(f"calibrate: {result.calibrated_ms}; {fs['field']}: {fs['fit_flux_jy']:.4f} Jy, "
               f"alpha {fs['fit_alpha']:.3f} at {fs['fit_ref_freq_hz'] / 1e9:.3f} GHz")


@main.command("build-model")
@click.option("--ms", "ms", required=True, type=click.Path(path_type=Path),
              help="The execution block (MS or UVFITS; never modified), or calibrated calibrator data.")
@click.option("--field", required=True, help="The calibrator field.")
@click.option("--bandpass-field", help="Flux/bandpass calibrator (default: by intent; none: use DATA as is).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: model.cl, model.tt0, model.tt1, build_model.json, PNGs.")
@click.option("--refant", default="", help="Reference antenna (default: CASA's choice).")
@click.option("--max-negative-fraction", default=0.10, show_default=True, type=float,
              help="Largest negative/positive clean-model flux for a model to be chosen.")
@click.option("--component-threshold", default=1e-3, show_default=True, type=float,
              help="Model pixels below this fraction of the peak are dropped from model.cl.")
@click.option("--normalise", is_flag=True, help="Scale model.cl to 1 Jy in total (flux bootstrapping).")
@click.option("--no-mask-expansion", is_flag=True, help="Do not rerun with an expanded mask.")
@click.option("--reffreq", "reffreq_ghz", default=3.0, show_default=True, type=float, help="mtmfs reference (GHz).")
def build_model_command(ms: Path, field: str, bandpass_field: str | None, out: Path, refant: str, max_negative_fraction: float,
                        component_threshold: float, normalise: bool, no_mask_expansion: bool,
                        reffreq_ghz: float) -> None:
    """Self-calibrate the calibrator and export its model (memo Section 3.1)."""
    from calmodel.build_model import BuildModelSettings, build_model

    settings = BuildModelSettings(field=field, bandpass_field=bandpass_field, refant=refant, max_negative_fraction=max_negative_fraction,
                                  component_threshold=component_threshold, normalise=normalise,
                                  expand_mask=not no_mask_expansion, reffreq_ghz=reffreq_ghz)
    with _casa_quietly(out):
        result = build_model(ms, out, settings)
    for r in result.rounds:
        click.echo(f"  solint {r.solint:>6s}: S/N {r.pre['snr']:8.1f} -> {r.post['snr']:8.1f}  "
                   f"{'accepted' if r.accepted else 'rejected'} ({r.reason})")
    click.echo(f"build-model: {result.model_cl} from solint {result.chosen_solint}")


# `calmodel report` lives with its stage (calmodel.report.cli); registered here by name.
main.add_command(report_command)


@main.command("image")
@click.option("--ms", "ms", required=True, type=click.Path(path_type=Path),
              help="Calibrated measurement set (or UVFITS file); never modified.")
@click.option("--field", required=True, help="Target field to image.")
@click.option("--mode", required=True, metavar="ql|se",
              help="ql: Quicklook-like (no self-cal, Hogbom); se: Single-Epoch-like (phase self-cal, "
                   "mtmfs nterms=2, spectral index).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: <field>_<mode>.image.tt0.fits (se: .alpha.fits, .alpha.error.fits), "
                   "image.json, casa.log.")
@click.option("--cell", "cell", type=float, default=None,
              help="Cell size in arcsec [default: from the data, lambda_min/B_max / 2 (ql) or / 2.5 (se)].")
@click.option("--imsize", type=int, default=None, help="Image side in pixels [default: from --fov-arcmin].")
@click.option("--fov-arcmin", default=3.0, show_default=True, type=float,
              help="Side of the square image (rounded up to a 5*2^n*3^m pixel count).")
@click.option("--robust", default=1.0, show_default=True, type=float, help="Briggs robust.")
@click.option("--nsigma", type=float, default=None,
              help="Clean down to this many x the residual's robust RMS [default: ql 4.5, se 3].")
@click.option("--niter", default=20000, show_default=True, type=int, help="Maximum clean iterations.")
@click.option("--reffreq-ghz", default=3.0, show_default=True, type=float,
              help="se: reference frequency of the Taylor terms and alpha.")
@click.option("--selfcal-combine", type=click.Choice(["", "spw"]), default="", show_default=True,
              help="se: gaincal combine ('' = per spw and scan, as VLASS-SE; 'spw' for faint fields).")
@click.option("--no-automask", is_flag=True, help="se: clean the whole image instead of an automatic mask.")
@click.option("--refant", default=None, help="se: self-cal reference antenna [default: a central one].")
@click.option("--keep-images", is_flag=True, help="Keep the CASA images in OUT/scratch_<name>/.")
def image_command(ms: Path, field: str, mode: str, out: Path, cell: float | None, imsize: int | None,
                  fov_arcmin: float, robust: float, nsigma: float | None, niter: int, reffreq_ghz: float,
                  selfcal_combine: str, no_automask: bool, refant: str | None, keep_images: bool) -> None:
    """Image one target field: QL (no self-cal) or SE (phase self-cal, spectral index)."""
    from calmodel.imaging import ImagingSettings, image

    settings = ImagingSettings(mode=mode, cell_arcsec=cell, imsize=imsize, fov_arcmin=fov_arcmin,
                               robust=robust, nsigma=nsigma, niter=niter, reffreq_ghz=reffreq_ghz,
                               selfcal_combine=selfcal_combine, automask=not no_automask, refant=refant,
                               keep_images=keep_images)
    with _casa_quietly(out):
        result = image(ms, field, out, settings)
    bmaj, bmin, bpa = result.beam_arcsec
    click.echo(f"image: {result.image_tt0} ({result.imsize} px of {result.cell_arcsec:g}\", beam "
               f"{bmaj:.2f}\"x{bmin:.2f}\" pa {bpa:.0f}, rms {result.rms_jy * 1e6:.1f} uJy/beam, "
               f"peak {result.peak_jy * 1e3:.2f} mJy)")
    if result.selfcal is not None:
        sc = result.selfcal
        click.echo(f"selfcal: {'applied' if sc.get('applied') else 'not applied'} ({sc.get('reason')}); "
                   f"phase rms {sc.get('phase_rms_deg', float('nan')):.1f} deg, "
                   f"{sc.get('fraction_flagged', 1.0):.1%} flagged")


if __name__ == "__main__":
    main()
