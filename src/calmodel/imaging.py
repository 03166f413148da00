"""Stage `image`: one target field, VLASS Quicklook-like (QL) or Single-Epoch-like (SE).

* **QL** (no self-calibration): Stokes I, ``mfs`` with the Hogbom deconvolver, Briggs
  robust 1, the standard gridder, cleaned to ``nsigma`` x the residual's robust RMS,
  primary-beam corrected.
* **SE**: a phase-only self-calibration on a private split copy of the field
  (shallow mtmfs nterms=2 clean -> MODEL_DATA -> ``gaincal calmode='p' solint='inf'``
  -> ``applycal``), then the final mtmfs nterms=2 image at ``reffreq`` (3 GHz), primary-
  beam corrected, with the spectral index image and its error.

VLASS images on-the-fly mosaics with the ``mosaic`` (QL) / ``awproject``/``mosaic`` (SE)
gridders; we image single pointed fields, so the ``standard`` gridder is the right one.
Cell and image size come from the data (``derive_cell``, ``nice_imsize``); every choice and
number is written to ``image.json``. See docs/imaging.md.

The input measurement set is never written to: QL images it read-only (``savemodel='none'``);
SE works on its own ``split`` copy inside the scratch folder.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field as dc_field
from pathlib import Path

import numpy as np

from calmodel import CalmodelError
from calmodel.casa import casa_log_to, casa_tools, run_task
from calmodel.msio import open_input
from calmodel.records import stage_record, write_json

C_M_S = 299_792_458.0
RAD_TO_ARCSEC = 180.0 / math.pi * 3600.0
MODES = ("ql", "se")

# Per-mode defaults (docs/imaging.md explains each).
PIXELS_PER_FRINGE = {"ql": 2.0, "se": 2.5}  # pixels across lambda_min / B_max
NSIGMA = {"ql": 4.5, "se": 3.0}
MIN_IMSIZE = 64  # pixels: a default image is never smaller (coarse data, small --fov-arcmin)
# SE's final clean goes to 3 sigma inside an automatic mask: unmasked, cleaning that deep on
# a snapshot PSF moves flux from real sources into noise peaks (clean bias, -5..-10% at 3.5-5 mJy
# on the demo tile). Parameters: CASA's suggested values for the VLA in B configuration.
AUTOMASK = {"usemask": "auto-multithresh", "sidelobethreshold": 3.0, "noisethreshold": 5.0,
            "lownoisethreshold": 1.5, "minbeamfrac": 0.3, "negativethreshold": 0.0,
            "growiterations": 75}


@dataclass(frozen=True)
class ImagingSettings:
    mode: str = "ql"
    cell_arcsec: float | None = None  # default: from the data (derive_cell)
    imsize: int | None = None  # default: nice_imsize(fov / cell)
    fov_arcmin: float = 3.0  # side of the square image
    pixels_per_fringe: float | None = None  # default: PIXELS_PER_FRINGE[mode]
    robust: float = 1.0
    nsigma: float | None = None  # default: NSIGMA[mode]
    niter: int = 20000
    reffreq_ghz: float = 3.0  # SE (mtmfs) reference frequency
    selfcal_combine: str = ""  # '' (per spw, per scan, as VLASS-SE) or 'spw'
    selfcal_nsigma: float = 5.0  # depth of the shallow clean that makes the self-cal model
    selfcal_minsnr: float = 3.0
    selfcal_max_flagged: float = 0.5  # skip applying self-cal if more solutions fail
    selfcal_max_rms_increase: float = 0.05  # revert self-cal if it raises the residual RMS more
    automask: bool = True  # SE final clean inside an auto-multithresh mask (AUTOMASK)
    refant: str | None = None  # default: the antenna nearest the array centre
    keep_images: bool = False


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


# --- geometry: cell and image size -------------------------------------------------------

def nice_imsize(n: int) -> int:
    """Smallest 5 * 2^a * 3^b (a >= 1: even) that is >= n: sizes CASA's FFTs like."""
    n = max(int(math.ceil(n)), 10)
    best = None
    p2 = 2
    while 5 * p2 < 2 * n + 10:
        value = 5 * p2
        while value < n:
            value *= 3
        if best is None or value < best:
            best = value
        p2 *= 2
    return int(best)


def round_cell(cell_arcsec: float) -> float:
    """Round a cell down to two significant digits (0.731 -> 0.73, 1.46 -> 1.4): never coarser
    than computed, so the uv grid still reaches the longest baseline."""
    if not cell_arcsec > 0:
        raise CalmodelError(f"cell size must be positive, not {cell_arcsec}")
    step = 10.0 ** (math.floor(math.log10(cell_arcsec)) - 1)
    return round(math.floor(cell_arcsec / step + 1e-9) * step, 10)


@dataclass(frozen=True)
class UvExtent:
    max_baseline_m: float
    max_freq_hz: float
    n_unflagged_rows: int

    @property
    def lambda_min_m(self) -> float:
        return C_M_S / self.max_freq_hz

    @property
    def finest_fringe_arcsec(self) -> float:
        """lambda_min / B_max: the finest fringe spacing in the data."""
        return self.lambda_min_m / self.max_baseline_m * RAD_TO_ARCSEC


def uv_extent(ms: Path, field_ids: list[int]) -> UvExtent:
    """Longest projected baseline and highest frequency among the field's unflagged rows."""
    tools = casa_tools().tools
    tb = tools.table()
    tb.open(str(ms / "DATA_DESCRIPTION"))
    dd_spw = tb.getcol("SPECTRAL_WINDOW_ID")
    tb.close()
    tb.open(str(ms / "SPECTRAL_WINDOW"))
    spw_max = [float(np.max(tb.getcell("CHAN_FREQ", i))) for i in range(tb.nrows())]
    tb.close()
    tb.open(str(ms))
    try:
        ids = ",".join(str(i) for i in field_ids)
        sel = tb.query(f"FIELD_ID IN [{ids}] && !FLAG_ROW && any(!FLAG)", columns="UVW,DATA_DESC_ID")
        try:
            n = sel.nrows()
            if n == 0:
                return UvExtent(0.0, 0.0, 0)
            uvw = sel.getcol("UVW")
            dds = np.unique(sel.getcol("DATA_DESC_ID"))
        finally:
            sel.close()
    finally:
        tb.close()
    max_baseline = float(np.max(np.hypot(uvw[0], uvw[1])))
    max_freq = max(spw_max[int(dd_spw[d])] for d in dds)
    return UvExtent(max_baseline, max_freq, int(n))


def derive_cell(extent: UvExtent, pixels_per_fringe: float) -> float:
    """Cell (arcsec) = (lambda_min / B_max) / pixels_per_fringe, rounded down.

    2 pixels per finest fringe is Nyquist sampling of the longest baseline at the top of
    the band: the uv grid then holds every visibility."""
    if extent.max_baseline_m <= 0:
        raise CalmodelError("cannot derive a cell size: no baseline longer than 0 m")
    return round_cell(extent.finest_fringe_arcsec / pixels_per_fringe)


# --- small CASA helpers -------------------------------------------------------------------

def safe_name(field: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", field)


def _field_ids(ms: Path, field: str, label: Path) -> list[int]:
    md = casa_tools().tools.msmetadata()
    if not md.open(str(ms)):
        raise CalmodelError(f"cannot open measurement set: {ms}")
    try:
        names = [str(n) for n in md.fieldnames()]
    finally:
        md.close()
    ids = [i for i, n in enumerate(names) if n == field]
    if not ids:
        raise CalmodelError(f"field '{field}' not in {label} (fields: {', '.join(names) or 'none'})")
    return ids


def _data_column(ms: Path) -> str:
    tb = casa_tools().tools.table()
    tb.open(str(ms))
    try:
        columns = tb.colnames()
    finally:
        tb.close()
    return "corrected" if "CORRECTED_DATA" in columns else "data"


def robust_rms(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation of the finite values (Gaussian-equivalent)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


def read_plane(imagename: Path) -> np.ndarray:
    """The image's first plane as float, NaN where masked."""
    ia = casa_tools().tools.image()
    if not ia.open(str(imagename)):
        raise CalmodelError(f"cannot open image {imagename}")
    try:
        data = np.asarray(ia.getchunk(), dtype=float)
        mask = np.asarray(ia.getchunk(getmask=True), dtype=bool)  # all True without a mask
    finally:
        ia.close()
    data = np.where(mask, data, np.nan)
    while data.ndim > 2:
        data = data[..., 0]
    return data


def image_beam(imagename: Path) -> dict | None:
    ia = casa_tools().tools.image()
    ia.open(str(imagename))
    try:
        beam = ia.restoringbeam()
    finally:
        ia.close()
    if not beam or "major" not in beam:
        return None
    qa = casa_tools().tools.quanta()
    return {"major_arcsec": float(qa.convert(beam["major"], "arcsec")["value"]),
            "minor_arcsec": float(qa.convert(beam["minor"], "arcsec")["value"]),
            "pa_deg": float(qa.convert(beam["positionangle"], "deg")["value"])}


def _set_beam(imagename: Path, beam: dict) -> None:
    ia = casa_tools().tools.image()
    ia.open(str(imagename))
    try:
        ia.setrestoringbeam(major=f"{beam['major_arcsec']}arcsec", minor=f"{beam['minor_arcsec']}arcsec",
                            pa=f"{beam['pa_deg']}deg")
    finally:
        ia.close()


def _image_frequency_hz(imagename: Path) -> float:
    ia = casa_tools().tools.image()
    ia.open(str(imagename))
    try:
        cs = ia.coordsys()
        freq = float(cs.referencevalue(format="n", type="spectral")["numeric"][0])
        cs.done()
    finally:
        ia.close()
    return freq


def _peak(imagename: Path) -> dict:
    """Peak value and its sky position (degrees) of the first plane."""
    data = read_plane(imagename)
    if not np.isfinite(data).any():
        raise CalmodelError(f"image {imagename.name} has no unmasked pixels")
    ix, iy = np.unravel_index(np.nanargmax(data), data.shape)
    ia = casa_tools().tools.image()
    ia.open(str(imagename))
    try:
        shape = ia.shape()
        pixel = [float(ix), float(iy)] + [0.0] * (len(shape) - 2)
        world = ia.toworld(pixel, "n")["numeric"]
    finally:
        ia.close()
    return {"peak_jy": float(data[ix, iy]), "pixel": [int(ix), int(iy)],
            "ra_deg": float(np.degrees(world[0]) % 360.0), "dec_deg": float(np.degrees(world[1]))}


def temporary_name(final: Path) -> Path:
    return final.with_name(f".{final.name}.{os.getpid()}.tmp.fits")


def export_fits(imagename: Path, final: Path, beam: dict | None) -> Path:
    """exportfits to ``temporary_name(final)`` and check what PyBDSF needs (restoring beam,
    FREQ axis). The caller renames it to ``final`` once every product of the run is there."""
    if beam is not None and image_beam(imagename) is None:
        _set_beam(imagename, beam)  # in case an image (e.g. alpha) comes without a beam
    tmp = temporary_name(final)
    tmp.unlink(missing_ok=True)
    run_task("exportfits", f"{imagename.name} -> {final.name}", imagename=str(imagename),
          fitsimage=str(tmp), dropdeg=False, velocity=False, overwrite=True)
    _check_fits(tmp, final.name)
    return tmp


def _check_fits(path: Path, label: str) -> None:
    from astropy.io import fits

    with fits.open(path) as hdul:
        header = hdul[0].header
    missing = [k for k in ("BMAJ", "BMIN", "BPA") if k not in header]
    if missing:
        raise CalmodelError(f"exported {label} lacks the restoring beam ({', '.join(missing)})")
    axes = [k for k in header if k.startswith("CTYPE") and str(header[k]).upper().startswith("FREQ")]
    if not axes or f"CRVAL{axes[0][5:]}" not in header:
        raise CalmodelError(f"exported {label} lacks a FREQ axis with CRVAL")


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
          **{**common, "stokes": "V"})
    return robust_rms(read_plane(Path(f"{imagename}.image")))


# --- self-calibration -----------------------------------------------------------------------

def central_antenna(ms: Path) -> str:
    """The antenna with data nearest the array's centre: a stable reference."""
    tb = casa_tools().tools.table()
    tb.open(str(ms))
    try:
        used = np.union1d(np.unique(tb.getcol("ANTENNA1")), np.unique(tb.getcol("ANTENNA2")))
    finally:
        tb.close()
    tb.open(str(ms / "ANTENNA"))
    try:
        names, positions = tb.getcol("NAME"), tb.getcol("POSITION").T
    finally:
        tb.close()
    centre = np.median(positions[used], axis=0)
    return str(names[used[np.argmin(np.linalg.norm(positions[used] - centre, axis=1))]])


def gain_statistics(caltable: Path, refant: str, ms: Path) -> dict:
    """Fraction of flagged solutions and the phase spread (degrees) of the unflagged ones,
    excluding the reference antenna (whose phases are zero by construction)."""
    tb = casa_tools().tools.table()
    tb.open(str(ms / "ANTENNA"))
    try:
        names = [str(n) for n in tb.getcol("NAME")]
    finally:
        tb.close()
    tb.open(str(caltable))
    try:
        if tb.nrows() == 0:
            return {"n_solutions": 0, "fraction_flagged": 1.0}
        gains = tb.getcol("CPARAM")  # (npol, nchan, nrow)
        flags = tb.getcol("FLAG")
        ants = tb.getcol("ANTENNA1")
    finally:
        tb.close()
    stats: dict = {"n_solutions": int(flags.size), "fraction_flagged": float(flags.mean())}
    keep = ants != (names.index(refant) if refant in names else -1)
    phases = np.degrees(np.angle(gains[..., keep]))
    good = ~flags[..., keep]
    if good.any():
        stats["phase_rms_deg"] = float(np.sqrt(np.mean(phases[good] ** 2)))
        stats["phase_max_abs_deg"] = float(np.max(np.abs(phases[good])))
        per_ant = []
        for ant in np.unique(ants[keep]):
            sel = ants[keep] == ant
            p, g = phases[..., sel], good[..., sel]
            if g.sum() > 1:
                per_ant.append(float(np.std(p[g])))
        if per_ant:
            stats["phase_scatter_deg"] = float(np.median(per_ant))
    return stats


# --- the stage --------------------------------------------------------------------------------

def image(ms_path: Path, field: str, out: Path, settings: ImagingSettings) -> ImagingResult:
    started = time.monotonic()
    mode = str(settings.mode).lower()
    if mode not in MODES:
        raise CalmodelError(f"--mode must be one of {', '.join(MODES)}, not '{settings.mode}'")
    if settings.selfcal_combine not in ("", "spw"):
        raise CalmodelError(f"self-cal combine must be '' or 'spw', not '{settings.selfcal_combine}'")
    if settings.fov_arcmin <= 0:
        raise CalmodelError(f"--fov-arcmin must be positive, not {settings.fov_arcmin}")
    if settings.imsize is not None and settings.imsize < 16:
        raise CalmodelError(f"--imsize must be at least 16 pixels, not {settings.imsize}")
    if settings.cell_arcsec is not None and settings.cell_arcsec <= 0:
        raise CalmodelError(f"--cell must be positive, not {settings.cell_arcsec}")
    out = Path(out)
    name = f"{safe_name(field)}_{mode}"
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
        ids = _field_ids(vis, field, ms_path)
        extent = uv_extent(vis, ids)
        if extent.n_unflagged_rows == 0:
            raise CalmodelError(f"no unflagged data for field '{field}' in {ms_path}")
        ppf = settings.pixels_per_fringe or PIXELS_PER_FRINGE[mode]
        cell_from_data = derive_cell(extent, ppf)
        cell = float(settings.cell_arcsec or cell_from_data)
        imsize = int(settings.imsize or nice_imsize(max(settings.fov_arcmin * 60.0 / cell, MIN_IMSIZE)))
        nsigma = float(settings.nsigma if settings.nsigma is not None else NSIGMA[mode])
        datacolumn = _data_column(vis)
        field_sel = ",".join(str(i) for i in ids)
        common = dict(imsize=[imsize, imsize], cell=f"{cell}arcsec", specmode="mfs", stokes="I",
                      gridder="standard", weighting="briggs", robust=settings.robust,
                      interactive=False, parallel=False)
        t = time.monotonic()

        selfcal = None
        if mode == "ql":
            base = scratch / name
            run_task("tclean", f"QL image of field '{field}'", vis=str(vis), field=field_sel,
                  datacolumn=datacolumn, imagename=str(base), deconvolver="hogbom", niter=settings.niter,
                  threshold=0.0, nsigma=nsigma, pbcor=True, savemodel="none", **common)
            t = lap("tclean", t)
            restored, pbcor, residual = (Path(f"{base}.image"), Path(f"{base}.image.pbcor"),
                                         Path(f"{base}.residual"))
            deconv = {"deconvolver": "hogbom", "nterms": 1, "reffreq_hz": None, "mask": "none (whole image)"}
            imaged_vis, imaged_column, imaged_field = vis, datacolumn, field_sel
        else:
            copy = scratch / f"{name}.ms"
            run_task("split", f"private copy of field '{field}'", vis=str(vis), outputvis=str(copy),
                  field=field_sel, datacolumn=datacolumn, keepflags=True)
            t = lap("split", t)
            mt = dict(deconvolver="mtmfs", nterms=2, reffreq=f"{settings.reffreq_ghz}GHz", **common)
            selfcal, final_column, t = _selfcal(copy, field, scratch, name, mt, settings, timings, t)
            base = scratch / name
            mask = AUTOMASK if settings.automask else {"usemask": "user", "mask": ""}
            run_task("tclean", f"SE image of field '{field}'", vis=str(copy), datacolumn=final_column,
                  imagename=str(base), niter=settings.niter, threshold=0.0, nsigma=nsigma, pbcor=True,
                  savemodel="none", **mask, **mt)
            t = lap("tclean_final", t)
            restored, pbcor, residual = (Path(f"{base}.image.tt0"), Path(f"{base}.image.tt0.pbcor"),
                                         Path(f"{base}.residual.tt0"))
            deconv = {"deconvolver": "mtmfs", "nterms": 2, "reffreq_hz": settings.reffreq_ghz * 1e9,
                      "mask": mask if settings.automask else "none (whole image)"}
            imaged_vis, imaged_column, imaged_field = copy, final_column, ""

        for product in (pbcor, residual):
            if not product.exists():
                raise CalmodelError(f"tclean wrote no {product.name}; see casa.log")
        beam = image_beam(restored)
        if beam is None:
            raise CalmodelError(f"tclean left no restoring beam on {restored.name}; see casa.log")
        rms = robust_rms(read_plane(residual))
        peak = _peak(pbcor)
        freq_hz = _image_frequency_hz(pbcor)

        tt0_fits = out / f"{name}.image.tt0.fits"
        exports[tt0_fits] = pbcor
        alpha_fits = alpha_err_fits = None
        if mode == "se":
            alpha_fits, alpha_err_fits = out / f"{name}.alpha.fits", out / f"{name}.alpha.error.fits"
            exports.update({alpha_fits: Path(f"{base}.alpha"), alpha_err_fits: Path(f"{base}.alpha.error")})
        for final, casa_image in exports.items():
            if not casa_image.exists():
                raise CalmodelError(f"tclean wrote no {casa_image.name}; see casa.log")
            export_fits(casa_image, final, beam)
        t = lap("export", t)
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

    products = {"image_tt0": tt0_fits.name}
    if alpha_fits is not None:
        products.update(alpha=alpha_fits.name, alpha_error=alpha_err_fits.name)
    results = {
        "name": name,
        "field": field,
        "mode": mode,
        "products": products,
        "image_tt0_pb_corrected": True,
        "image_tt0_from": pbcor.name,
        "pb_correction": ("tclean pbcor=True (VLA primary beam model of the standard gridder); "
                          + ("each Taylor term divided by pb.tt0, so alpha is not corrected for the "
                             "primary beam's spectral index" if mode == "se" else "")).rstrip("; "),
        "reference_frequency_hz": freq_hz,
        "beam": beam,
        "cell_arcsec": cell,
        "cell_from_data_arcsec": cell_from_data,
        "cell_derivation": {
            "max_baseline_m": extent.max_baseline_m, "max_freq_hz": extent.max_freq_hz,
            "lambda_min_m": extent.lambda_min_m, "finest_fringe_arcsec": extent.finest_fringe_arcsec,
            "pixels_per_fringe": ppf, "rounding": "down to two significant digits",
        },
        "imsize": [imsize, imsize],
        "fov_arcmin": imsize * cell / 60.0,
        "pixels_per_beam": beam["minor_arcsec"] / cell,
        "gridder": "standard",
        "weighting": {"weighting": "briggs", "robust": settings.robust},
        "input_datacolumn": datacolumn,
        "clean": {**deconv, "niter": settings.niter, "nsigma": nsigma, "datacolumn": imaged_column},
        "rms_jy": rms,
        "rms_estimator": "1.4826 x MAD of the final residual image (tt0), not primary-beam corrected",
        "rms_thermal_jy": thermal,
        "rms_thermal_estimator": ("1.4826 x MAD of a dirty Stokes V image of the same data, cell and "
                                  "weighting (no sources: the thermal noise); null without RR/LL"),
        "rms_over_thermal": rms / thermal if thermal else None,
        "peak_jy": peak["peak_jy"],
        "peak_position_deg": [peak["ra_deg"], peak["dec_deg"]],
        "dynamic_range": peak["peak_jy"] / rms if rms > 0 else None,
        "n_unflagged_rows": extent.n_unflagged_rows,
        "selfcal": selfcal,
        "timings_s": timings,
    }
    parameters = {
        "ms": str(ms_path), "field": field, "mode": mode, "cell_arcsec": settings.cell_arcsec,
        "imsize": settings.imsize, "fov_arcmin": settings.fov_arcmin,
        "pixels_per_fringe": settings.pixels_per_fringe, "robust": settings.robust,
        "nsigma": settings.nsigma, "niter": settings.niter, "reffreq_ghz": settings.reffreq_ghz,
        "selfcal_combine": settings.selfcal_combine, "selfcal_nsigma": settings.selfcal_nsigma,
        "selfcal_minsnr": settings.selfcal_minsnr, "automask": settings.automask, "refant": settings.refant,
        "keep_images": settings.keep_images,
    }
    record = write_json(out / "image.json", stage_record("image", parameters, results, started))
    return ImagingResult(name=name, image_tt0=tt0_fits, alpha=alpha_fits, alpha_error=alpha_err_fits,
                         record=record, rms_jy=rms, peak_jy=peak["peak_jy"],
                         beam_arcsec=(beam["major_arcsec"], beam["minor_arcsec"], beam["pa_deg"]),
                         cell_arcsec=cell, imsize=imsize, selfcal=selfcal)


def _selfcal(copy: Path, field: str, scratch: Path, name: str, mt: dict, settings: ImagingSettings,
             timings: dict, t: float) -> tuple[dict, str, float]:
    """Phase-only self-calibration of the private copy. Returns its record, the data column
    the final image should use ('corrected' if applied, else 'data') and the clock."""

    def lap(step: str) -> float:
        now = time.monotonic()
        timings[step] = round(now - t, 2)
        return now

    refant = settings.refant or central_antenna(copy)
    model = scratch / f"{name}_selfcal_model"
    run_task("tclean", f"self-cal model of field '{field}'", vis=str(copy), datacolumn="data",
          imagename=str(model), niter=settings.niter, threshold=0.0, nsigma=settings.selfcal_nsigma,
          pbcor=False, savemodel="modelcolumn", **mt)
    rms_before = robust_rms(read_plane(Path(f"{model}.residual.tt0")))
    t = lap("tclean_selfcal_model")

    caltable = scratch / f"{name}.selfcal.G"
    run_task("gaincal", f"phase self-cal of field '{field}'", vis=str(copy), caltable=str(caltable),
          calmode="p", solint="inf", combine=settings.selfcal_combine, gaintype="G", refant=refant,
          minsnr=settings.selfcal_minsnr, minblperant=4)
    record = {"calmode": "p", "solint": "inf", "combine": settings.selfcal_combine, "gaintype": "G",
              "refant": refant, "minsnr": settings.selfcal_minsnr, "interp": "linear",
              "applymode": "calonly", "model_nsigma": settings.selfcal_nsigma,
              "rms_before_jy": rms_before}
    if not caltable.exists():
        record.update(applied=False, reason="gaincal wrote no solutions")
        return record, "data", lap("gaincal")
    record.update(gain_statistics(caltable, refant, copy))
    t = lap("gaincal")
    if record["fraction_flagged"] > settings.selfcal_max_flagged:
        record.update(applied=False, reason=f"{record['fraction_flagged']:.0%} of solutions flagged "
                                            f"(> {settings.selfcal_max_flagged:.0%})")
        return record, "data", t

    spwmap = []
    if "spw" in settings.selfcal_combine:
        tb = casa_tools().tools.table()
        tb.open(str(copy / "SPECTRAL_WINDOW"))
        nspw = tb.nrows()
        tb.close()
        spwmap = [[0] * nspw]
    run_task("applycal", f"self-cal of field '{field}'", vis=str(copy), gaintable=[str(caltable)],
          interp=["linear"], spwmap=spwmap, calwt=False, applymode="calonly", flagbackup=False)
    t = lap("applycal")

    # The same model against the self-calibrated data: before/after differ only by the gains.
    # (A restart on the model's images: its PSF and model are re-used, only the residual is new.)
    run_task("tclean", f"self-cal check of field '{field}'", vis=str(copy), datacolumn="corrected",
          imagename=str(model), niter=0, calcpsf=False, calcres=True, restart=True, pbcor=False,
          savemodel="none", **mt)
    rms_after = robust_rms(read_plane(Path(f"{model}.residual.tt0")))
    t = lap("tclean_selfcal_check")
    record["rms_after_jy"] = rms_after
    record["rms_ratio_after_before"] = rms_after / rms_before if rms_before > 0 else None
    if rms_after > rms_before * (1.0 + settings.selfcal_max_rms_increase):
        record.update(applied=False, reason=f"residual RMS grew by {rms_after / rms_before - 1:.1%} "
                                            f"(> {settings.selfcal_max_rms_increase:.0%})")
        return record, "data", t
    record.update(applied=True, reason="residual RMS did not grow")
    return record, "corrected", t
