"""`calmodel build-model`: a calibrator model by self-calibration (memo Section 3.1).

On a private copy of the calibrator's data (already calibrated under the point-source
assumption), loop over solution intervals from the scan length down to one integration:

    image (mtmfs, nterms 2 or 1 by core.wideband, static mask, deeper each round) -> gaincal calmode='ap',
    solnorm=True, per spw and polarisation -> applycal -> image again at the same depth

(each round's first image goes on cleaning the image made last from the same data: the dirty
image in the first round, the previous round's second image later; the second image is a
fresh clean with the first one's PSF, as self-calibration changes neither weights nor flags).

A solint is accepted, in the spirit of auto_selfcal, only if the peak S/N and the
near-field S/N do not drop, the RMS does not grow by more than `max_rms_growth` and the
beam area changes by less than `max_beam_change`; the loop stops at the first rejection,
with the reason recorded. The chosen model is the last accepted solint whose clean
model's negative flux stays below `max_negative_fraction` of its positive flux (the memo
avoided models where tclean had dug into the noise). If emission above the mask
threshold lies outside the static mask at the end, the mask is expanded and the whole
loop rerun once (the memo's procedure; only the dirty image, made without a mask, is kept).

If no solint is accepted, the model is the input calibration's image cleaned to
`nsigma_floor` (not the shallow first round). A narrow band (core.wideband: one frequency or
a fractional bandwidth below `min_fractional_bandwidth`) is imaged with nterms 1; model.tt1
is then written as zeros (alpha 0) and build_model.json says why (`taylor_terms`). Without
--field, the calibrator is the first gain calibrator of core.roles, else the only field.

Outputs: model.tt0, model.tt1 (CASA images), model.cl (one point component per model
pixel whose |flux| is above `component_threshold` x the model peak, negative pixels as
well as positive ones, with spectral index tt1/tt0),
build_model.json and PNG diagnostics.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from calmodel import CalmodelError
from calmodel.build_model.settings import BuildModelSettings
from calmodel.core.casa import casa_log_to, casa_tools, run_task
from calmodel.core.components import images_to_component_list, read_components, total_flux
from calmodel.core.constants import C_LIGHT
from calmodel.core.images import image_beam, image_like, read_plane
from calmodel.core.io import write_json
from calmodel.core.ms import calibrator_rows, field_names, open_input, reference_antenna, spw_info
from calmodel.core.precal import CalibratorModel, precalibrate
from calmodel.core.records import stage_record
from calmodel.core.roles import field_roles
from calmodel.core.stats import robust_rms
from calmodel.core.wideband import TaylorTerms, taylor_terms


@dataclass
class RoundRecord:
    solint: str
    nsigma: float
    pre: dict
    post: dict
    accepted: bool
    reason: str
    negative_fraction: float
    # pixels of the post image that the expansion rule wants and the mask lacks: shows in
    # which round the emission a static mask misses first appears (docs/build-model.md)
    missed_pixels: int = 0


@dataclass
class BuildModelResult:
    model_cl: Path
    chosen_solint: str
    rounds: list[RoundRecord] = field(default_factory=list)
    record: Path | None = None


# --- imaging helpers --------------------------------------------------------------------

def image_geometry(vis: Path, settings: BuildModelSettings) -> tuple[float, int]:
    """Cell (arcsec) and image size (pixels) from the longest baseline and highest frequency."""
    casa = casa_tools()
    tb = casa.tools.table()
    tb.open(str(vis))
    uvw = tb.getcol("UVW")
    tb.close()
    tb.open(str(vis / "SPECTRAL_WINDOW"))
    fmax = float(np.max(tb.getcol("CHAN_FREQ")))
    tb.close()
    max_uv = float(np.max(np.hypot(uvw[0], uvw[1]))) * fmax / C_LIGHT
    beam_arcsec = np.degrees(1.0 / max_uv) * 3600.0
    cell = settings.cell_arcsec or float(np.round(beam_arcsec / 5.0, 3))
    imsize = settings.imsize or int(2 * np.ceil(32 * beam_arcsec / cell / 2))
    return cell, imsize


def image_stats(prefix: str, mask: np.ndarray, cell_arcsec: float) -> dict:
    """Peak, RMS (residual, outside the mask), S/N, near-field S/N, beam, negative model flux."""
    image = read_plane(f"{prefix}.image.tt0")
    residual = read_plane(f"{prefix}.residual.tt0")
    model = read_plane(f"{prefix}.model.tt0")
    rms = robust_rms(residual[~mask])
    peak = float(np.max(image))
    beam = image_beam(Path(f"{prefix}.image.tt0"))
    if beam is None:
        raise CalmodelError(f"{prefix}.image.tt0 has no single restoring beam")
    bmaj, bmin = beam["major_arcsec"], beam["minor_arcsec"]
    # Near field: within 3-8 beams of the peak, outside the mask (where selfcal errors show).
    iy, ix = np.unravel_index(np.argmax(image), image.shape)
    yy, xx = np.indices(image.shape)
    r_beams = np.hypot(yy - iy, xx - ix) * cell_arcsec / bmaj
    near = (r_beams > 3) & (r_beams < 8) & ~mask
    near_rms = robust_rms(residual[near]) if near.sum() > 20 else rms
    positive, negative = float(model[model > 0].sum()), float(-model[model < 0].sum())
    return {"peak_jy": peak, "rms_jy": rms, "snr": peak / rms if rms > 0 else float("inf"),
            "near_field_snr": peak / near_rms if near_rms > 0 else float("inf"),
            "beam_major_arcsec": bmaj, "beam_minor_arcsec": bmin, "beam_area": bmaj * bmin,
            "model_positive_jy": positive, "model_negative_jy": negative}


def source_mask(image: np.ndarray, rms: float, threshold_sigma: float, grow_pixels: int) -> np.ndarray:
    """Pixels above the threshold, grown by ``grow_pixels`` in every direction (a static mask)."""
    mask = image > threshold_sigma * rms
    grown = mask.copy()
    for dy in range(-grow_pixels, grow_pixels + 1):
        for dx in range(-grow_pixels, grow_pixels + 1):
            if dy * dy + dx * dx <= grow_pixels * grow_pixels:
                grown |= np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    return grown


# --- the loop ----------------------------------------------------------------------------

def solints(vis: Path) -> list[str]:
    """'inf' (a scan), then halving in whole integrations, down to 'int'."""
    tb = casa_tools().tools.table()
    tb.open(str(vis))
    interval = float(np.median(tb.getcol("INTERVAL")))
    scans, times = tb.getcol("SCAN_NUMBER"), tb.getcol("TIME")
    tb.close()
    n_dumps = int(min(np.unique(times[scans == s]).size for s in np.unique(scans)))
    out, n = ["inf"], n_dumps // 2
    while n > 1:
        out.append(f"{n * interval:g}s")
        n //= 2
    out.append("int")
    return out


def _accept(pre: dict, post: dict, settings: BuildModelSettings) -> tuple[bool, str]:
    if post["snr"] < pre["snr"]:
        return False, f"S/N dropped ({pre['snr']:.1f} -> {post['snr']:.1f})"
    if post["near_field_snr"] < pre["near_field_snr"]:
        return False, f"near-field S/N dropped ({pre['near_field_snr']:.1f} -> {post['near_field_snr']:.1f})"
    if post["rms_jy"] > pre["rms_jy"] * (1 + settings.max_rms_growth):
        return False, f"RMS grew by more than {settings.max_rms_growth:.0%}"
    if abs(post["beam_area"] / pre["beam_area"] - 1) > settings.max_beam_change:
        return False, f"beam area changed by more than {settings.max_beam_change:.0%}"
    return True, "S/N, near-field S/N, RMS and beam within limits"


def build_model(input_path: Path, out: Path, settings: BuildModelSettings) -> BuildModelResult:
    started = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    casa_log_to(out / "casa.log")
    work = out / "work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    source = open_input(Path(input_path), work)
    field_reason = "named"
    if settings.field is None:
        chosen_field, field_reason = _default_field(source, input_path)
        settings = replace(settings, field=chosen_field)
    if settings.field not in field_names(source):
        raise CalmodelError(f"field '{settings.field}' not in {input_path} (fields: {', '.join(field_names(source))})")
    vis = work / "calibrator.ms"
    start = _starting_calibration(source, work, settings)
    run_task("split", f"calibrator '{settings.field}'", vis=str(start["vis"]), outputvis=str(vis),
             field=settings.field, datacolumn=start["column"], keepflags=False)
    cell, imsize = image_geometry(vis, settings)
    intervals = solints(vis)
    terms = taylor_terms(vis, settings.min_fractional_bandwidth)

    mask_path = work / "mask.im"
    images = work / "images"
    images.mkdir()
    dirty = _dirty_image(vis, images, cell, imsize, settings, terms)
    mask = _static_mask(dirty, settings)
    rounds = _run_loop(vis, work, settings, cell, imsize, intervals, dirty, mask_path, mask, terms)
    earlier_runs: list[list[RoundRecord]] = []
    if settings.expand_mask and rounds[-1].missed_pixels:
        # The memo's rerun of the whole procedure with the final mask, once. The dirty image
        # stays: it images the input calibration without a mask, so it is the same image.
        # (Stopping the first run as soon as a round misses emission was tried and is not
        # cheaper: docs/performance.md, "build-model's rerun".)
        earlier_runs.append(rounds)
        mask = mask | _wanted_mask(_last_prefix(work, rounds), rounds[-1].post["rms_jy"], settings)
        _remove_rounds(images)
        run_task("clearcal", vis=str(vis), addmodel=True)  # back to the input calibration
        rounds = _run_loop(vis, work, settings, cell, imsize, intervals, dirty, mask_path, mask, terms)

    chosen = _choose(rounds, settings)
    prefix = str(work / "images" / f"r{rounds.index(chosen)}_post")
    model_source = f"post-selfcal image of solint {chosen.solint}"
    if not chosen.accepted:
        # No solint improved on the input calibration: the model is that calibration's image,
        # cleaned as deep as the loop would have gone (nsigma_floor), not the shallow first
        # round (which holds only the brightest peak of a resolved source).
        prefix = str(work / "images" / "input_deep")
        run_task("clearcal", vis=str(vis), addmodel=True)
        _tclean(vis, prefix, cell, imsize, settings.nsigma_floor, str(mask_path), settings.reffreq_ghz,
                terms.nterms)
        model_source = f"input calibration (no solint accepted), cleaned to {settings.nsigma_floor} sigma"
    for term in ("tt0", "tt1"):
        target = out / f"model.{term}"
        shutil.rmtree(target, ignore_errors=True)
        if Path(f"{prefix}.model.{term}").is_dir():
            shutil.copytree(f"{prefix}.model.{term}", target)
        else:  # nterms 1: the model's spectral index is 0, written as a zero tt1 (the contract)
            image_like(out / "model.tt0", target, 0.0)
    model_cl = images_to_component_list(out / "model.tt0", out / "model.tt1", out / "model.cl",
                                        settings.component_threshold, settings.normalise)
    _plots(out, rounds, prefix, chosen)
    components = read_components(model_cl)
    first = rounds[0].pre
    best = chosen.post
    record = stage_record("build_model", asdict(settings) | {"input": str(input_path)}, {
        "field": settings.field, "field_reason": field_reason, "model_source": model_source, "taylor_terms": terms.as_record(),
        "model_spectral_index": "tt1/tt0 per pixel" if terms.nterms > 1 else "0 (nterms 1: model.tt1 is zeros)",
        "starting_calibration": start["description"], "cell_arcsec": cell, "imsize": imsize, "solints": intervals,
        "mask_expanded": bool(earlier_runs), "mask_pixels": int(mask.sum()),
        "rounds": [asdict(r) for r in rounds], "chosen_solint": chosen.solint,
        "earlier_runs": [[asdict(r) for r in run] for run in earlier_runs],
        "initial_rms_jy": first["rms_jy"], "final_rms_jy": best["rms_jy"],
        "initial_snr": first["snr"], "final_snr": best["snr"],
        "model_total_flux_jy": total_flux(components), "n_components": len(components),
        # each component, so that the report can judge the memo's scope (core vs secondaries)
        "components": [asdict(c) for c in components],
        "outputs": {"model_cl": "model.cl", "model_tt0": "model.tt0", "model_tt1": "model.tt1"},
    }, started)
    write_json(out / "build_model.json", record)
    shutil.rmtree(work)
    return BuildModelResult(model_cl, chosen.solint, rounds, out / "build_model.json")


def _starting_calibration(source: Path, work: Path, settings: BuildModelSettings) -> dict:
    """Where self-calibration starts.

    Raw data with a flux/bandpass calibrator (a whole execution block): a phase-referenced
    copy: the Perley-Butler 2017 standard on the flux calibrator, bandpass from it (which
    also carries its amplitude scale), then scan-averaged phase-only gains on the calibrator
    against a point source. No amplitude gains are solved against the point-source
    assumption, so the calibrator's amplitudes, and with them its structure, survive;
    starting from fully point-calibrated data instead (as the memo did) works for a
    dominant core but traps self-calibration for a near-equal double.
    Otherwise (already calibrated data, e.g. a split calibrator) the DATA column as is.
    """
    flux = field_roles(source, bandpass=settings.bandpass_field).bandpass_calibrator
    if flux is None:
        return {"vis": source, "column": "data", "description": "input DATA column (no flux calibrator)"}
    vis = calibrator_rows(source, work / "phase_referenced.ms", [flux, settings.field])  # not a whole copy
    refant = settings.refant or reference_antenna(vis, [flux, settings.field])
    freq_ghz = float(np.mean([s.reffreq_hz for s in spw_info(vis)])) / 1e9
    models = [CalibratorModel(flux, standard=True), CalibratorModel(settings.field)]
    precalibrate(vis, work, models, flux, [settings.field], refant, freq_ghz)
    return {"vis": vis, "column": "corrected",
            "description": f"phase-referenced: bandpass and flux scale from {flux}, scan phases on {settings.field}"}


# What an image at a prefix can already hold for the same data (tclean's restart):
#   FRESH: nothing; PSF: the PSF and weights (the data changed, their weights did not:
#   self-calibration applies with calwt=False, applymode='calonly'); ALL: PSF, model and
#   residual, cleaning goes on from them.
FRESH, PSF, ALL = "fresh", "psf", "all"
PSF_PRODUCTS = (".psf", ".sumwt", ".pb", ".weight")


def _tclean(vis: Path, prefix: str, cell: float, imsize: int, nsigma: float, mask: str, reffreq_ghz: float,
            nterms: int, niter: int = 100000, reuse: str = FRESH) -> None:
    """Image ``vis`` to ``nsigma``, reusing what ``reuse`` says is already at ``prefix``."""
    # tclean refuses a mask file when the prefix has its .mask (a copied one: the same mask)
    has_mask = Path(f"{prefix}.mask").exists()
    # mtmfs also for nterms 1, so that every product keeps its .tt0 name
    run_task(
        "tclean", f"image {Path(prefix).name}" + ("" if reuse == FRESH else f" (reusing {reuse})"), vis=str(vis),
        imagename=prefix, datacolumn="corrected", imsize=imsize, cell=f"{cell}arcsec",
        specmode="mfs", deconvolver="mtmfs", nterms=nterms, reffreq=f"{reffreq_ghz}GHz", gridder="standard",
        weighting="briggs", robust=0.5, niter=niter, nsigma=nsigma, cycleniter=500, gain=0.1,
        usemask="user", mask="" if has_mask else mask, savemodel="modelcolumn", pblimit=-0.1,
        calcpsf=reuse == FRESH, calcres=reuse != ALL)


def _copy_images(prefix: str, new_prefix: str, only: tuple[str, ...] | None = None) -> None:
    """The CASA image products of ``prefix`` (``prefix.psf.tt0``, ...), or those whose
    suffix starts with one of ``only``, under ``new_prefix``."""
    source = Path(prefix)
    for product in source.parent.glob(f"{source.name}.*"):
        suffix = product.name[len(source.name):]
        if only is None or suffix.startswith(only):
            shutil.copytree(product, f"{new_prefix}{suffix}")


def _dirty_image(vis: Path, images: Path, cell: float, imsize: int, settings: BuildModelSettings,
                 terms: TaylorTerms) -> str:
    """The input calibration's dirty image (no mask); its prefix is the mask image's template."""
    run_task("clearcal", vis=str(vis), addmodel=True)  # CORRECTED = DATA: start from the input calibration
    dirty = str(images / "dirty")
    _tclean(vis, dirty, cell, imsize, 0.0, "", settings.reffreq_ghz, terms.nterms, niter=0)
    return dirty


def _static_mask(dirty: str, settings: BuildModelSettings) -> np.ndarray:
    """The static mask, from the dirty image of the point-calibrated data."""
    image = read_plane(f"{dirty}.image.tt0")
    rms = robust_rms(image[image < np.percentile(image, 90)])
    mask = source_mask(image, rms, settings.mask_threshold_sigma, 2)
    if not mask.any():
        raise CalmodelError(f"no emission above {settings.mask_threshold_sigma} sigma on '{settings.field}'")
    return mask


def _wanted_mask(prefix: str, rms: float, settings: BuildModelSettings) -> np.ndarray:
    """Where the image at ``prefix`` has emission a mask should hold: above the mask
    threshold and above 2% of the peak, so that the dynamic-range-limited ripples of a
    bright source do not count; grown by 2 pixels like the static mask."""
    image = read_plane(f"{prefix}.image.tt0")
    floor = max(settings.mask_threshold_sigma * rms, 0.02 * float(image.max()))
    return source_mask(image, floor, 1.0, 2)


def _remove_rounds(images: Path) -> None:
    """Every round's images; the dirty image stays."""
    for product in images.glob("r*_*"):
        shutil.rmtree(product)


def _run_loop(vis, work, settings, cell, imsize, intervals, dirty: str, mask_path, mask,
              terms: TaylorTerms) -> list[RoundRecord]:
    """The self-calibration rounds, from the input calibration in CORRECTED, inside ``mask``."""
    images = work / "images"
    mask_file = str(image_like(Path(f"{dirty}.image.tt0"), mask_path, mask))
    n = len(intervals)
    depths = np.geomspace(settings.nsigma_start, settings.nsigma_floor, n).tolist()
    rounds: list[RoundRecord] = []
    for i, (solint, nsigma) in enumerate(zip(intervals, depths)):
        pre_prefix, post_prefix = str(images / f"r{i}_pre"), str(images / f"r{i}_post")
        # After round i-1's applycal the data are those its post image was made of: round i's
        # starting image is that clean taken deeper, not a fresh clean (one PSF and the major
        # cycles down to the previous depth saved per round; docs/performance.md).
        # (the first round continues the dirty image, whose residual is the data as they are,
        # and gets the static mask: the dirty image was made without one)
        if rounds:
            _copy_images(str(images / f"r{i - 1}_post"), pre_prefix)
        else:
            _copy_images(dirty, pre_prefix, only=(*PSF_PRODUCTS, ".residual", ".model"))
        _tclean(vis, pre_prefix, cell, imsize, nsigma, mask_file, settings.reffreq_ghz, terms.nterms,
                reuse=ALL)
        pre = image_stats(pre_prefix, mask, cell)
        table = str(work / f"selfcal_{i}.G")
        run_task("gaincal", f"self-calibration, solint {solint}", vis=str(vis),
                 caltable=table, solint=solint, calmode="ap", solnorm=True, combine="",
                 gaintype="G", refant=settings.refant, minsnr=settings.minsnr, minblperant=4)
        run_task("applycal", f"self-calibration, solint {solint}", vis=str(vis),
                 gaintable=[table], interp=["linear"], calwt=False, flagbackup=False,
                 applymode="calonly")
        # a fresh clean of the self-calibrated data, with the PSF they share with pre's
        _copy_images(pre_prefix, post_prefix, only=PSF_PRODUCTS)
        _tclean(vis, post_prefix, cell, imsize, nsigma, mask_file, settings.reffreq_ghz, terms.nterms,
                reuse=PSF)
        post = image_stats(post_prefix, mask, cell)
        accepted, reason = _accept(pre, post, settings)
        negative = post["model_negative_jy"] / max(post["model_positive_jy"], 1e-30)
        missed = int(np.sum(_wanted_mask(post_prefix, post["rms_jy"], settings) & ~mask))
        rounds.append(RoundRecord(solint, nsigma, pre, post, accepted, reason, negative, missed))
        if not accepted:
            break
    if not rounds[0].accepted:
        # Even the first solint made things worse: keep the input calibration's model.
        rounds[0].reason += "; model taken from the input calibration"
    return rounds


def _default_field(source: Path, label: Path) -> tuple[str, str]:
    """(field, reason) when none is named: the first gain calibrator of core.roles, else the
    only field of the MS (a split or single-source calibrator observation)."""
    roles = field_roles(source)
    if roles.gain_calibrators:
        return roles.gain_calibrators[0], f"first gain calibrator ({roles.reasons['gain_calibrators']})"
    if len(roles.fields) == 1:
        return roles.fields[0], "the only field of the MS"
    raise CalmodelError(f"no gain calibrator found in {label} ({roles.reasons['gain_calibrators']}); "
                        f"name it with --field (fields: {', '.join(roles.fields)})")


def _last_prefix(work: Path, rounds: list[RoundRecord]) -> str:
    return str(work / "images" / f"r{len(rounds) - 1}_post")


def _choose(rounds: list[RoundRecord], settings: BuildModelSettings) -> RoundRecord:
    accepted = [r for r in rounds if r.accepted]
    clean = [r for r in accepted if r.negative_fraction <= settings.max_negative_fraction]
    return (clean or accepted or rounds[:1])[-1]


def _plots(out: Path, rounds: list[RoundRecord], chosen_prefix: str, chosen: RoundRecord) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r.solint for r in rounds]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].plot(labels, [r.pre["snr"] for r in rounds], "o-", label="before")
    axes[0].plot(labels, [r.post["snr"] for r in rounds], "s-", label="after")
    axes[0].set_ylabel("peak S/N")
    axes[1].plot(labels, [r.post["rms_jy"] * 1e3 for r in rounds], "s-")
    axes[1].set_ylabel("RMS after (mJy/beam)")
    axes[2].plot(labels, [r.negative_fraction for r in rounds], "s-")
    axes[2].set_ylabel("negative / positive model flux")
    for ax in axes:
        ax.set_xlabel("solint")
        ax.axvline(labels.index(chosen.solint), color="0.6", ls="--")
    axes[0].legend()
    fig.suptitle("Self-calibration rounds (dashed: chosen model)")
    fig.tight_layout()
    fig.savefig(out / "selfcal_rounds.png", dpi=90)
    plt.close(fig)
    image = read_plane(f"{chosen_prefix}.image.tt0")
    iy, ix = np.unravel_index(np.argmax(image), image.shape)
    half = min(40, image.shape[0] // 2)
    crop = image[max(iy - half, 0):iy + half, max(ix - half, 0):ix + half]
    fig, ax = plt.subplots(figsize=(5, 4.5))
    vmax = crop.max()
    # asinh stretch: the faint companions and any artefacts are visible beside the core
    shown = ax.imshow(np.arcsinh(crop.T / (1e-3 * vmax)), origin="lower", cmap="inferno")
    fig.colorbar(shown, ax=ax, label="asinh(I / 0.1% of peak)")
    ax.set_title(f"Calibrator after selfcal ({chosen.solint})")
    fig.tight_layout()
    fig.savefig(out / "calibrator_image.png", dpi=90)
    plt.close(fig)
