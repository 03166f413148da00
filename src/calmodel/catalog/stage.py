"""The `catalog` stage: a PyBDSF component catalogue of one image, with spectral index.

Settings follow the VLASS component catalogues: ``thresh_isl=3``, ``thresh_pix=5`` and
``rms_box=(200, 50)`` pixels.  Our images are far smaller than the 16k x 16k VLASS
images, so the box is scaled: ``box = min(200, n // 4)`` with ``n`` the shorter image
side, and ``step = max(1, box // 4)`` (the VLASS 4:1 box/step ratio).  A 512-pixel image
gets ``(128, 32)``; anything of 800 pixels or more gets the VLASS ``(200, 50)``.  The rms
map is always computed with that box (``rms_map=True``) so the box is really used.

The catalogue is the Gaussian (component) list, ``catalog_type='gaul'``, as VLASS
publishes components, not sources: the memo compares components.  Columns keep PyBDSF's
names; units are::

    Gaus_id Isl_id Source_id                       integers (PyBDSF ids)
    RA DEC                                         deg
    E_RA E_DEC                                     arcsec
    Total_flux E_Total_flux                        Jy
    Peak_flux E_Peak_flux Isl_rms Resid_Isl_rms    Jy/beam
    Xposn Yposn                                    pixel (0-based)
    Maj E_Maj Min E_Min DC_Maj E_DC_Maj ...        arcsec (FWHM; DC_ = deconvolved)
    PA E_PA DC_PA E_DC_PA                          deg east of north
    S_Code                                         S/M/C
    Alpha E_Alpha                                  spectral index at the component
                                                   position (NaN without an alpha image,
                                                   off the image, or blanked there)

``catalog.fits`` carries the units; ``catalog.csv`` has the same columns.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from calmodel import CalmodelError
from calmodel.catalog.settings import CatalogSettings
from calmodel.core.io import write_json, write_table
from calmodel.core.records import stage_record

VLASS_RMS_BOX = (200, 50)
RMS_BOX_RULE = "box = min(200, n // 4), step = max(1, box // 4), n = shorter image side (pixels)"

# (name, PyBDSF gaul FITS column, factor from PyBDSF's unit, unit)
_COLUMNS: list[tuple[str, str, float, str]] = [
    ("Gaus_id", "Gaus_id", 1.0, ""),
    ("Isl_id", "Isl_id", 1.0, ""),
    ("Source_id", "Source_id", 1.0, ""),
    ("RA", "RA", 1.0, "deg"),
    ("E_RA", "E_RA", 3600.0, "arcsec"),
    ("DEC", "DEC", 1.0, "deg"),
    ("E_DEC", "E_DEC", 3600.0, "arcsec"),
    ("Total_flux", "Total_flux", 1.0, "Jy"),
    ("E_Total_flux", "E_Total_flux", 1.0, "Jy"),
    ("Peak_flux", "Peak_flux", 1.0, "Jy/beam"),
    ("E_Peak_flux", "E_Peak_flux", 1.0, "Jy/beam"),
    ("Xposn", "Xposn", 1.0, "pix"),
    ("Yposn", "Yposn", 1.0, "pix"),
    ("Maj", "Maj", 3600.0, "arcsec"),
    ("E_Maj", "E_Maj", 3600.0, "arcsec"),
    ("Min", "Min", 3600.0, "arcsec"),
    ("E_Min", "E_Min", 3600.0, "arcsec"),
    ("PA", "PA", 1.0, "deg"),
    ("E_PA", "E_PA", 1.0, "deg"),
    ("DC_Maj", "DC_Maj", 3600.0, "arcsec"),
    ("E_DC_Maj", "E_DC_Maj", 3600.0, "arcsec"),
    ("DC_Min", "DC_Min", 3600.0, "arcsec"),
    ("E_DC_Min", "E_DC_Min", 3600.0, "arcsec"),
    ("DC_PA", "DC_PA", 1.0, "deg"),
    ("E_DC_PA", "E_DC_PA", 1.0, "deg"),
    ("Isl_rms", "Isl_rms", 1.0, "Jy/beam"),
    ("Resid_Isl_rms", "Resid_Isl_rms", 1.0, "Jy/beam"),
]
_INT_COLUMNS = {"Gaus_id", "Isl_id", "Source_id"}


@dataclass
class CatalogResult:
    catalog_fits: Path
    catalog_csv: Path
    record: Path
    n_components: int
    n_islands: int
    n_with_alpha: int
    rms_jy_per_beam: float
    frequency_hz: float


def rms_box_for(shape: tuple[int, ...]) -> tuple[int, int]:
    """The VLASS (200, 50) rms box scaled to a small image (see the module docstring)."""
    n = int(min(shape[-2:]))
    box = min(VLASS_RMS_BOX[0], n // 4)
    if box < 8:
        raise CalmodelError(f"image of {shape[-1]}x{shape[-2]} pixels is too small for an rms box")
    return box, max(1, box // 4)


def header_frequency(header: fits.Header, path: Path) -> float:
    """Frequency in Hz: CRVAL of the FREQ axis, else RESTFRQ/RESTFREQ."""
    axes = sorted(int(key[5:]) for key in header if key[:5] == "CTYPE" and key[5:].isdigit())
    for axis in axes:
        if str(header[f"CTYPE{axis}"]).upper().startswith("FREQ"):
            if f"CRVAL{axis}" not in header:
                raise CalmodelError(f"{path}: FREQ axis {axis} has no CRVAL{axis} header keyword")
            unit = str(header.get(f"CUNIT{axis}", "Hz")).strip() or "Hz"
            return float((header[f"CRVAL{axis}"] * u.Unit(unit)).to_value(u.Hz))
    for key in ("RESTFRQ", "RESTFREQ"):
        if key in header:
            return float(header[key])
    raise CalmodelError(f"{path}: no frequency in the header: need a FREQ axis (CTYPEn='FREQ' with "
                        "CRVALn) or the RESTFRQ keyword")


def _plane(data: np.ndarray) -> np.ndarray:
    """The first 2-D plane of an image cube (degenerate FREQ/STOKES axes dropped)."""
    while data.ndim > 2:
        data = data[0]
    return data


def _check_image(path: Path) -> tuple[fits.Header, tuple[int, ...], float, float]:
    """Fail early, with one line, on what PyBDSF would crash on or misreport.

    Returns the header, the data shape, the frequency (Hz) and the fraction of pixels that
    are exactly zero (a masked region written as zeros makes PyBDSF's rms fail)."""
    if not path.is_file():
        raise CalmodelError(f"image not found: {path}")
    try:
        with fits.open(path) as hdul:
            header = hdul[0].header.copy()
            data = hdul[0].data
            if data is None or data.ndim < 2:
                raise CalmodelError(f"{path}: the primary HDU holds no image")
            finite = np.isfinite(data)
            n_finite = int(np.count_nonzero(finite))
            n_inf = int(np.count_nonzero(np.isinf(data)))
            n_zero = int(np.count_nonzero(data == 0))
            shape = data.shape
    except OSError as err:
        raise CalmodelError(f"{path}: not a readable FITS image ({err})") from None
    if n_finite == 0:
        raise CalmodelError(f"{path}: every pixel is NaN/blank; PyBDSF needs some unblanked pixels")
    if n_inf:
        raise CalmodelError(f"{path}: {n_inf} pixels are +-Inf; PyBDSF cannot handle Inf "
                            "(blank them as NaN)")
    for key in ("BMAJ", "BMIN", "BPA"):
        if key not in header:
            raise CalmodelError(f"{path}: missing header keyword {key} (the restoring beam)")
    frequency = header_frequency(header, path)
    return header, shape, frequency, n_zero / max(1, int(np.prod(shape)))


@contextlib.contextmanager
def _pybdsf_console(path: Path):
    """Send PyBDSF's prints, warnings and thread tracebacks to ``path``, not the terminal
    (the CLI promises one error line, and PyBDSF prints tracebacks of its worker threads)."""
    with (open(path, "a") as sink, contextlib.redirect_stdout(sink),
          contextlib.redirect_stderr(sink), warnings.catch_warnings()):
        def to_sink(message, category, filename, lineno, file=None, line=None):
            sink.write(warnings.formatwarning(message, category, filename, lineno, line))

        warnings.showwarning = to_sink  # restored by catch_warnings
        try:
            yield
        finally:
            # PyBDSF's console log handlers captured ``sink``; close them before it closes.
            logger = logging.getLogger("PyBDSF")
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
                handler.close()


def _empty_gaul() -> Table:
    return Table({src: np.zeros(0, dtype=int if name in _INT_COLUMNS else float)
                  for name, src, _, _ in _COLUMNS} | {"S_Code": np.zeros(0, dtype="U1")})


def _component_table(gaul: Table) -> Table:
    out = Table()
    for name, src, factor, unit in _COLUMNS:
        values = np.asarray(gaul[src])
        out[name] = values.astype(int) if name in _INT_COLUMNS else values.astype(float) * factor
        if unit:
            out[name].unit = u.Unit(unit)
    out["S_Code"] = np.asarray(gaul["S_Code"]).astype("U1")
    return out


def lookup(image: Path, ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """Values of a 2-D sky image at the given positions (nearest pixel); NaN off the image or
    where blanked."""
    if not image.is_file():
        raise CalmodelError(f"image not found: {image}")
    with fits.open(image) as hdul:
        header, data = hdul[0].header, hdul[0].data
        if data is None or data.ndim < 2:
            raise CalmodelError(f"{image}: the primary HDU holds no image")
        plane = np.asarray(_plane(data), dtype=float)
        wcs = WCS(header).celestial
    if wcs.naxis != 2:
        raise CalmodelError(f"{image}: no celestial WCS (RA/DEC axes) in the header")
    values = np.full(len(ra_deg), np.nan)
    if len(ra_deg) == 0:
        return values
    x, y = wcs.world_to_pixel_values(np.asarray(ra_deg, float), np.asarray(dec_deg, float))
    ix, iy = np.round(x).astype(int), np.round(y).astype(int)
    inside = (ix >= 0) & (iy >= 0) & (ix < plane.shape[1]) & (iy < plane.shape[0])
    values[inside] = plane[iy[inside], ix[inside]]
    values[~np.isfinite(values)] = np.nan
    return values


def _image_band(image: Path) -> dict | None:
    record = Path(image).parent / "image.json"
    if not record.is_file():
        return None
    try:
        return json.loads(record.read_text()).get("band")
    except (json.JSONDecodeError, AttributeError) as err:
        raise CalmodelError(f"{record}: not a valid image record ({err})") from None


def make_catalog(image: Path, out: Path, alpha: Path | None = None, alpha_error: Path | None = None,
                 settings: CatalogSettings = CatalogSettings()) -> CatalogResult:
    """Run PyBDSF on ``image`` and write ``out``/catalog.{fits,csv,json}."""
    started = time.monotonic()
    thresh_isl, thresh_pix, rms_box = settings.thresh_isl, settings.thresh_pix, settings.rms_box
    allow_empty, ncores = settings.allow_empty, settings.ncores
    image, out = Path(image), Path(out)
    if alpha_error is not None and alpha is None:
        raise CalmodelError("--alpha-error needs --alpha (the spectral index image)")
    for extra in (alpha, alpha_error):
        if extra is not None and not Path(extra).is_file():
            raise CalmodelError(f"image not found: {extra}")
    header, shape, frequency, zero_fraction = _check_image(image)
    box = tuple(rms_box) if rms_box is not None else rms_box_for(shape)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".pybdsf.", dir=out))
    log = out / "catalog.pybdsf.log"
    try:
        import bdsf

        with _pybdsf_console(work / "console.txt"):
            try:
                img = bdsf.process_image(
                    str(image), thresh_isl=thresh_isl, thresh_pix=thresh_pix, rms_box=box,
                    rms_map=True, frequency=frequency, quiet=True, outdir=str(work), ncores=ncores)
            except RuntimeError as err:
                hint = ""
                if zero_fraction > 0.01:
                    hint = (f" ({zero_fraction:.0%} of the pixels are exactly 0: blank masked "
                            "regions as NaN)")
                reason = " ".join(str(err).split())
                raise CalmodelError(f"PyBDSF failed on {image}: {reason}{hint}") from None
            rms = float(np.nanmedian(img.rms_arr))
            n_islands = int(getattr(img, "nisl", 0))
            if img.ngaus > 0:
                gaul_path = work / "gaul.fits"
                img.write_catalog(outfile=str(gaul_path), format="fits", catalog_type="gaul",
                                  clobber=True)
                gaul = Table.read(gaul_path)
            else:
                gaul = _empty_gaul()
    finally:
        # Keep PyBDSF's log, with what it printed (thread tracebacks), of a failed run too.
        with open(log, "w") as merged:
            for part in sorted(work.glob("*.pybdsf.log")) + [work / "console.txt"]:
                if part.is_file():
                    merged.write(part.read_text(errors="replace"))
        shutil.rmtree(work, ignore_errors=True)

    if len(gaul) == 0 and not allow_empty:
        raise CalmodelError(f"no sources found in {image} (thresh_pix={thresh_pix}, rms "
                            f"{rms:.3g} Jy/beam); use --allow-empty to write an empty catalogue")
    table = _component_table(gaul)
    for name, path in (("Alpha", alpha), ("E_Alpha", alpha_error)):
        table[name] = (lookup(Path(path), table["RA"], table["DEC"]) if path
                       else np.full(len(table), np.nan))
    table.meta.update({"IMAGE": image.name, "FREQ": frequency, "RMS": rms,
                       "CATTYPE": "gaul", "CREATOR": "calmodel catalog (PyBDSF)"})

    fits_path = write_table(table, out / "catalog.fits", "fits")
    csv_path = write_table(table, out / "catalog.csv", "ascii.csv")
    n_alpha = int(np.count_nonzero(np.isfinite(table["Alpha"])))
    celestial = WCS(header).celestial
    results = {
        "image": str(image),
        "alpha_image": str(alpha) if alpha else None,
        "alpha_error_image": str(alpha_error) if alpha_error else None,
        "pybdsf_version": bdsf.__version__,
        "catalog_type": "gaul",
        "n_components": len(table),
        "n_islands": n_islands,
        "n_with_alpha": n_alpha,
        "image_rms_jy_per_beam": rms,
        "frequency_hz": frequency,
        # What the image's tt0 measures (channels, weights, Taylor terms), so that a truth
        # comparison can predict it: taken from the image.json beside the image, if any.
        "band": _image_band(image),
        "beam_arcsec": [header["BMAJ"] * 3600.0, header["BMIN"] * 3600.0, float(header["BPA"])],
        "image_shape": [int(shape[-2]), int(shape[-1])],
        "image_wcs": dict(celestial.to_header()),
        "products": {"fits": fits_path.name, "csv": csv_path.name, "pybdsf_log": log.name},
    }
    parameters = {"thresh_isl": thresh_isl, "thresh_pix": thresh_pix, "rms_box": list(box),
                  "rms_box_rule": RMS_BOX_RULE if rms_box is None else "given",
                  "rms_map": True, "allow_empty": allow_empty, "ncores": ncores}
    record = write_json(out / "catalog.json", stage_record("catalog", parameters, results, started))
    return CatalogResult(fits_path, csv_path, record, len(table), n_islands, n_alpha, rms,
                         frequency)
