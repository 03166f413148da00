"""Stage `image`: one target field, VLASS Quicklook-like (QL) or Single-Epoch-like (SE).

* **QL** (no self-calibration), as the VLASS QL recipe: Stokes I, ``mtmfs`` (nterms 2 where
  the band allows, point scales) reporting tt0 at ``reffreq`` (3 GHz), Briggs robust 1, no
  mask, cleaned to ``nsigma`` (4) x the residual's robust RMS in minor cycles of at most 500
  iterations (cyclefactor 2), primary-beam corrected (a single pointing needs it; VLASS's
  mosaics do not).
* **SE**: a phase-only self-calibration on a private split copy of the field
  (shallow mtmfs nterms=2 clean -> MODEL_DATA -> ``gaincal calmode='p' solint='inf'``
  -> ``applycal``), then the final mtmfs nterms=2 image at ``reffreq`` (3 GHz), primary-
  beam corrected, with the spectral index image and its error.

A pointed field is imaged alone with the ``standard`` gridder. A **mosaic** (``mosaic_fields``:
several phase centres, e.g. an on-the-fly stripe) is imaged jointly, as VLASS images its
on-the-fly tiles: one image centred on the members, covering their phase centres plus the
primary beam down to pblimit on each side (:mod:`calmodel.imaging.mosaic`), with the gridders of
``MOSAIC_GRIDDER`` (``mosaic`` for QL and SE; docs/imaging.md "Mosaics").
Cell and image size come from the data (``derive_cell``, ``nice_imsize``); every choice and
number is written to ``image.json``. See docs/imaging.md.

The input measurement set is never written to: QL images it read-only (``savemodel='none'``);
SE works on its own ``split`` copy inside the scratch folder.
"""

import os
import resource
import shutil
import time
from dataclasses import dataclass, field as dc_field
from pathlib import Path

import numpy as np

from calmodel import CalmodelError
from calmodel.core.casa import casa_log_to, casa_tools, run_task
from calmodel.core.constants import MODES
from calmodel.core.images import (export_fits, image_beam, image_frequency_hz, image_like, peak, read_plane,
                                   temporary_name)
from calmodel.core.io import write_json
from calmodel.core.ms import check_column_has_data, data_column, field_ids, open_input, spw_info, uv_extent
from calmodel.core.naming import image_name, image_products
from calmodel.core.records import stage_record
from calmodel.core.stats import robust_rms
from calmodel.core.wideband import band_of, taylor_terms
from calmodel.imaging.geometry import derive_cell, nice_imsize
from calmodel.imaging.mosaic import beam_radius_arcsec, mosaic_geometry, mosaic_members
from calmodel.imaging.selfcal import selfcal
from calmodel.imaging.settings import (MOSAIC_CYCLES, MOSAIC_GRIDDER, MOSAIC_PBLIMIT, NSIGMA, PIXELS_PER_FRINGE, QL_CYCLES,
                                       ImagingSettings)

MIN_IMSIZE = 64  # pixels: a default image is never smaller (coarse data, small --fov-arcmin)
# SE's final clean goes to 3 sigma inside an automatic mask: unmasked, cleaning that deep on
# a snapshot PSF moves flux from real sources into noise peaks (clean bias, -5..-10% at 3.5-5 mJy
# on the demo tile). Parameters: CASA's suggested values for the VLA in B configuration.
AUTOMASK = {"usemask": "auto-multithresh", "sidelobethreshold": 3.0, "noisethreshold": 5.0,
            "lownoisethreshold": 1.5, "minbeamfrac": 0.3, "negativethreshold": 0.0,
            "growiterations": 75}




@dataclass
class ImagingResult:
    name: str
    image_tt0: Path
    alpha: Path | None
    alpha_error: Path | None
    record: Path
    rms_jy: float
    peak_jy: float
    beam_arcsec: tuple[float, float, float]
    cell_arcsec: float
    imsize: int
    selfcal: dict | None = dc_field(default=None)



def stokes_v_rms(vis: Path, field_sel: str, datacolumn: str, imagename: Path, common: dict) -> float | None:
    """Thermal noise: robust RMS of a dirty Stokes V image (None unless the data have RR and LL;
    linear feeds need cross-hands for V)."""
    tb = casa_tools().tools.table()
    tb.open(str(vis / "POLARIZATION"))
    try:
        corrs = {int(c) for row in range(tb.nrows()) for c in np.ravel(tb.getcell("CORR_TYPE", row))}
    finally:
        tb.close()
    if not {5, 8} <= corrs:  # casacore Stokes enum: RR = 5, LL = 8
        return None
    run_task("tclean", "Stokes V noise image", vis=str(vis), field=field_sel, datacolumn=datacolumn,
          imagename=str(imagename), niter=0, deconvolver="hogbom", pbcor=False, savemodel="none",
          **{**common, "stokes": "V", "specmode": "mfs"})
    return robust_rms(read_plane(Path(f"{imagename}.image")))


def clean_stop(nsigma: float, noise_jy: float | None) -> dict:
    """tclean's stopping threshold: ``nsigma`` x ``noise_jy`` when a noise is given (a mosaic:
    tclean's own nsigma statistic counts the blanked pixels outside pblimit, measured at MAD 0
    over a stripe's residual, and cleaned into the noise), else ``nsigma`` x tclean's estimate."""
    if noise_jy:
        return {"threshold": f"{nsigma * noise_jy:.6g}Jy", "nsigma": 0.0}
    return {"threshold": 0.0, "nsigma": nsigma}



# --- the stage --------------------------------------------------------------------------------

def peak_rss_mb() -> float:
    """Peak resident memory (MB) of this process or any child it waited for (Linux: kB)."""
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024.0


def image(ms_path: Path, field: str, out: Path, settings: ImagingSettings,
          mosaic_fields: str | None = None) -> ImagingResult:
    """Image ``field`` (a pointed field), or with ``mosaic_fields`` (a --fields selection, ''
    for every target field) the mosaic of those fields, named ``field``."""
    started = time.monotonic()
    is_mosaic = mosaic_fields is not None
    mode = str(settings.mode).lower()
    if mode not in MODES:
        raise CalmodelError(f"--mode must be one of {', '.join(MODES)}, not '{settings.mode}'")
    if settings.selfcal_combine not in ("spw,field", "spw", ""):
        raise CalmodelError(f"self-cal combine must be 'spw,field', 'spw' or '', not "
                            f"'{settings.selfcal_combine}'")
    if settings.fov_arcmin <= 0:
        raise CalmodelError(f"--fov-arcmin must be positive, not {settings.fov_arcmin}")
    if settings.imsize is not None and settings.imsize < 16:
        raise CalmodelError(f"--imsize must be at least 16 pixels, not {settings.imsize}")
    if settings.cell_arcsec is not None and settings.cell_arcsec <= 0:
        raise CalmodelError(f"--cell must be positive, not {settings.cell_arcsec}")
    out = Path(out)
    name = image_name(field, mode)
    ms_path = Path(ms_path)
    if not ms_path.exists():
        raise CalmodelError(f"measurement set not found: {ms_path}")
    out.mkdir(parents=True, exist_ok=True)
    casa_log_to(out / "casa.log")

    scratch = out / f"scratch_{name}"
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir()
    timings: dict[str, float] = {}
    exports: dict[Path, Path] = {}  # final FITS name -> CASA image

    def lap(step: str, since: float) -> float:
        now = time.monotonic()
        timings[step] = round(now - since, 2)
        return now

    try:
        vis = open_input(ms_path, scratch)  # the MS itself, or an import of a UVFITS file
        if is_mosaic:
            members = mosaic_members(vis, mosaic_fields)
            ids = sorted(i for member in members for i in field_ids(vis, member, ms_path))
        else:
            members, ids = [field], field_ids(vis, field, ms_path)
        extent = uv_extent(vis, ids)
        if extent.n_unflagged_rows == 0:
            raise CalmodelError(f"no unflagged data for field '{field}' in {ms_path}")
        ppf = settings.pixels_per_fringe or PIXELS_PER_FRINGE[mode]
        cell_from_data = derive_cell(extent, ppf)
        cell = float(settings.cell_arcsec or cell_from_data)
        imsize = int(settings.imsize or nice_imsize(max(settings.fov_arcmin * 60.0 / cell, MIN_IMSIZE)))
        imsize_xy = [imsize, imsize]
        gridding: dict = {"gridder": "standard"}
        geometry = None
        if is_mosaic:
            lowest_hz = min(float(np.min(spw.chan_freqs_hz)) for spw in spw_info(vis))
            beam_radius = beam_radius_arcsec(vis, members[0], MOSAIC_PBLIMIT, lowest_hz)
            geometry = mosaic_geometry(vis, members, cell, max(settings.fov_arcmin * 60.0 / 2.0, beam_radius),
                                       MIN_IMSIZE)
            imsize_xy = ([settings.imsize, settings.imsize] if settings.imsize else list(geometry.imsize))
            gridding = {**MOSAIC_GRIDDER[mode], "phasecenter": geometry.phasecenter, "pblimit": MOSAIC_PBLIMIT}
        nsigma = float(settings.nsigma if settings.nsigma is not None else NSIGMA[mode])
        datacolumn = data_column(vis)
        check_column_has_data(vis, datacolumn, ids, field, ms_path)
        field_sel = ",".join(str(i) for i in ids)
        common = dict(imsize=imsize_xy, cell=f"{cell}arcsec", specmode="mfs", stokes="I",
                      weighting="briggs", robust=settings.robust, interactive=False, parallel=False)
        common.update(gridding)
        t = time.monotonic()

        selfcal_record = None
        if mode == "ql":
            # VLASS QL: mtmfs (nterms 2 where the band allows) reporting tt0 at reffreq, point
            # scales, no mask, no self-calibration; its alpha is not a product (as in VLASS).
            base = scratch / name
            terms = taylor_terms(vis, settings.min_fractional_bandwidth)
            cycles = {**QL_CYCLES, **MOSAIC_CYCLES["ql"]} if is_mosaic else QL_CYCLES
            if is_mosaic:  # the thermal noise first: it sets the mosaic's stopping threshold
                thermal = stokes_v_rms(vis, field_sel, datacolumn, scratch / f"{name}_stokesV", common)
                t = lap("stokes_v", t)
            stop = clean_stop(nsigma, thermal if is_mosaic else None)
            run_task("tclean", f"QL image of field '{field}'", vis=str(vis), field=field_sel,
                  datacolumn=datacolumn, imagename=str(base), deconvolver="mtmfs", nterms=terms.nterms,
                  reffreq=f"{settings.reffreq_ghz}GHz", niter=settings.niter, pbcor=True, savemodel="none",
                  **stop, **cycles, **common)
            t = lap("tclean", t)
            restored, pbcor, residual = (Path(f"{base}.image.tt0"), Path(f"{base}.image.tt0.pbcor"),
                                         Path(f"{base}.residual.tt0"))
            deconv = {"deconvolver": "mtmfs", "nterms": terms.nterms, "taylor_terms": terms.as_record(),
                      "reffreq_hz": settings.reffreq_ghz * 1e9, "mask": "none (whole image)", **cycles,
                      "stop": stop}
            band_vis, band_ids = vis, ids
            imaged_vis, imaged_column, imaged_field = vis, datacolumn, field_sel
        else:
            copy = scratch / f"{name}.ms"
            run_task("split", f"private copy of field '{field}'", vis=str(vis), outputvis=str(copy),
                  field=field_sel, datacolumn=datacolumn, keepflags=True)
            t = lap("split", t)
            terms = taylor_terms(copy, settings.min_fractional_bandwidth)
            cycles = MOSAIC_CYCLES["se"] if is_mosaic else {}
            mt = dict(deconvolver="mtmfs", nterms=terms.nterms, reffreq=f"{settings.reffreq_ghz}GHz", **cycles,
                      **common)
            noise = None
            if is_mosaic:  # the thermal noise before self-cal sets the mosaic's thresholds (clean_stop)
                noise = stokes_v_rms(copy, "", "data", scratch / f"{name}_stokesV_data", common)
                t = lap("stokes_v_data", t)
            selfcal_record, final_column, t = selfcal(copy, field, scratch, name, mt, settings, timings, t,
                                                      clean_stop(settings.selfcal_nsigma, noise))
            base = scratch / name
            mask = AUTOMASK if settings.automask else {"usemask": "user", "mask": ""}
            stop = clean_stop(nsigma, noise)
            run_task("tclean", f"SE image of field '{field}'", vis=str(copy), datacolumn=final_column,
                  imagename=str(base), niter=settings.niter, pbcor=True, savemodel="none", **stop, **mask, **mt)
            t = lap("tclean_final", t)
            restored, pbcor, residual = (Path(f"{base}.image.tt0"), Path(f"{base}.image.tt0.pbcor"),
                                         Path(f"{base}.residual.tt0"))
            if terms.nterms < 2:  # no spectral index from this band: NaN alpha images (not measured)
                for suffix in ("alpha", "alpha.error"):
                    image_like(Path(f"{base}.image.tt0"), Path(f"{base}.{suffix}"), np.nan)
            deconv = {"deconvolver": "mtmfs", "nterms": terms.nterms, "taylor_terms": terms.as_record(),
                      "reffreq_hz": settings.reffreq_ghz * 1e9,
                      "mask": mask if settings.automask else "none (whole image)", **cycles, "stop": stop}
            imaged_vis, imaged_column, imaged_field = copy, final_column, ""
            band_vis = copy
            band_ids = sorted(i for member in members for i in field_ids(copy, member, ms_path))

        for product in (pbcor, residual):
            if not product.exists():
                raise CalmodelError(f"tclean wrote no {product.name}; see casa.log")
        beam = image_beam(restored)
        if beam is None:
            raise CalmodelError(f"tclean left no restoring beam on {restored.name}; see casa.log")
        rms = robust_rms(read_plane(residual))
        band = band_of(band_vis, band_ids, deconv["nterms"], settings.reffreq_ghz * 1e9)
        brightest = peak(pbcor)
        freq_hz = image_frequency_hz(pbcor)

        products = image_products(name, mode)
        tt0_fits = out / products["image_tt0"]
        exports[tt0_fits] = pbcor
        alpha_fits = alpha_err_fits = None
        if mode == "se":
            alpha_fits, alpha_err_fits = out / products["alpha"], out / products["alpha_error"]
            exports.update({alpha_fits: Path(f"{base}.alpha"), alpha_err_fits: Path(f"{base}.alpha.error")})
        for final, casa_image in exports.items():
            if not casa_image.exists():
                raise CalmodelError(f"tclean wrote no {casa_image.name}; see casa.log")
            export_fits(casa_image, final, beam)
        t = lap("export", t)
        if not (is_mosaic and mode == "ql"):  # a QL mosaic measured it before its clean
            thermal = stokes_v_rms(imaged_vis, imaged_field, imaged_column, scratch / f"{name}_stokesV", common)
            t = lap("stokes_v", t)
        # image.json marks a finished run: drop an old one before its products are replaced.
        (out / "image.json").unlink(missing_ok=True)
        for final in exports:  # all products of the run appear together
            os.replace(temporary_name(final), final)
    except BaseException:
        for final in exports:
            temporary_name(final).unlink(missing_ok=True)
        if not settings.keep_images:
            shutil.rmtree(scratch, ignore_errors=True)
        raise

    for leftover in scratch.glob("*.ms"):
        shutil.rmtree(leftover, ignore_errors=True)  # the private copy is never kept
    if not settings.keep_images:
        shutil.rmtree(scratch, ignore_errors=True)

    results = {
        "name": name,
        "field": field,
        "mode": mode,
        "products": products,
        "image_tt0_pb_corrected": True,
        "image_tt0_from": pbcor.name,
        "pb_correction": (("tclean pbcor=True (VLA primary beam model of the standard gridder); "
                           + ("each Taylor term divided by pb.tt0, so alpha is not corrected for the "
                              "primary beam's spectral index" if mode == "se" else "")).rstrip("; ")
                          if not is_mosaic else
                          "tclean pbcor=True: divided by the mosaic's weighted sum of the members' VLA "
                          "primary beams (pb.tt0), blanked below pblimit; "
                          + "specmode mvc: each channel gridded with its own beam before the Taylor fit "
                            "(the mosaic gridder's wideband primary-beam handling; it has no conjbeams for mfs)"),
        "reference_frequency_hz": freq_hz,
        "beam": beam,
        "cell_arcsec": cell,
        "cell_from_data_arcsec": cell_from_data,
        "cell_derivation": {
            "max_baseline_m": extent.max_baseline_m, "max_freq_hz": extent.max_freq_hz,
            "lambda_min_m": extent.lambda_min_m, "finest_fringe_arcsec": extent.finest_fringe_arcsec,
            "pixels_per_fringe": ppf, "rounding": "down to two significant digits",
        },
        "imsize": imsize_xy,
        "fov_arcmin": imsize_xy[0] * cell / 60.0,
        "fov_arcmin_xy": [n * cell / 60.0 for n in imsize_xy],
        "pixels_per_beam": beam["minor_arcsec"] / cell,
        "gridder": gridding["gridder"],
        "gridding": gridding,
        "mosaic": ({**geometry.as_record(), "margin_from": "the primary beam's radius at pblimit at the lowest "
                    "frequency (CASA's beam model), at least fov_arcmin/2"} if geometry else None),
        "fields_imaged": members,
        "weighting": {"weighting": "briggs", "robust": settings.robust},
        "input_datacolumn": datacolumn,
        "clean": {**deconv, "niter": settings.niter, "nsigma": nsigma, "datacolumn": imaged_column},
        "band": band.as_record(),
        "band_note": ("the channels imaged and their natural weights; tt0 is the weighted fit of "
                      "nterms Taylor terms at reffreq over them (core.wideband.measured_flux)"),
        "rms_jy": rms,
        "rms_estimator": "1.4826 x MAD of the final residual image (tt0), not primary-beam corrected",
        "rms_thermal_jy": thermal,
        "rms_thermal_estimator": ("1.4826 x MAD of a dirty Stokes V image of the same data, cell and "
                                  "weighting (no sources: the thermal noise); null without RR/LL"),
        "rms_over_thermal": rms / thermal if thermal else None,
        "peak_jy": brightest["peak_jy"],
        "peak_position_deg": [brightest["ra_deg"], brightest["dec_deg"]],
        "dynamic_range": brightest["peak_jy"] / rms if rms > 0 else None,
        "n_unflagged_rows": extent.n_unflagged_rows,
        "selfcal": selfcal_record,
        "timings_s": timings,
        "resources": {"elapsed_s": round(time.monotonic() - started, 2), "peak_rss_mb": round(peak_rss_mb(), 1),
                      "n_fields": len(members), "n_unflagged_rows": extent.n_unflagged_rows,
                      "image_pixels": int(imsize_xy[0]) * int(imsize_xy[1]),
                      "note": "wall time of the stage; peak resident memory of its process (CASA runs "
                              "in it) since it started, imports included"},
    }
    parameters = {
        "ms": str(ms_path), "field": field, "mosaic_fields": mosaic_fields, "mode": mode,
        "cell_arcsec": settings.cell_arcsec,
        "imsize": settings.imsize, "fov_arcmin": settings.fov_arcmin,
        "pixels_per_fringe": settings.pixels_per_fringe, "robust": settings.robust,
        "nsigma": settings.nsigma, "niter": settings.niter, "reffreq_ghz": settings.reffreq_ghz,
        "selfcal_combine": settings.selfcal_combine, "selfcal_nsigma": settings.selfcal_nsigma,
        "selfcal_minsnr": settings.selfcal_minsnr, "automask": settings.automask, "refant": settings.refant,
        "keep_images": settings.keep_images,
    }
    record = write_json(out / "image.json", stage_record("image", parameters, results, started))
    return ImagingResult(name=name, image_tt0=tt0_fits, alpha=alpha_fits, alpha_error=alpha_err_fits,
                         record=record, rms_jy=rms, peak_jy=brightest["peak_jy"],
                         beam_arcsec=(beam["major_arcsec"], beam["minor_arcsec"], beam["pa_deg"]),
                         cell_arcsec=cell, imsize=int(imsize_xy[0]), selfcal=selfcal_record)
