"""Reading and exporting CASA images: the first plane, the restoring beam, the reference
frequency, the peak, and FITS export with the checks PyBDSF needs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from calmodel import CalmodelError
from calmodel.core.casa import casa_tools, run_task


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


def set_beam(imagename: Path, beam: dict) -> None:
    ia = casa_tools().tools.image()
    ia.open(str(imagename))
    try:
        ia.setrestoringbeam(major=f"{beam['major_arcsec']}arcsec", minor=f"{beam['minor_arcsec']}arcsec",
                            pa=f"{beam['pa_deg']}deg")
    finally:
        ia.close()


def image_frequency_hz(imagename: Path) -> float:
    ia = casa_tools().tools.image()
    ia.open(str(imagename))
    try:
        cs = ia.coordsys()
        freq = float(cs.referencevalue(format="n", type="spectral")["numeric"][0])
        cs.done()
    finally:
        ia.close()
    return freq


def peak(imagename: Path) -> dict:
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
        set_beam(imagename, beam)  # in case an image (e.g. alpha) comes without a beam
    tmp = temporary_name(final)
    tmp.unlink(missing_ok=True)
    run_task("exportfits", f"{imagename.name} -> {final.name}", imagename=str(imagename),
          fitsimage=str(tmp), dropdeg=False, velocity=False, overwrite=True)
    check_fits(tmp, final.name)
    return tmp


def check_fits(path: Path, label: str) -> None:
    from astropy.io import fits

    with fits.open(path) as hdul:
        header = hdul[0].header
    missing = [k for k in ("BMAJ", "BMIN", "BPA") if k not in header]
    if missing:
        raise CalmodelError(f"exported {label} lacks the restoring beam ({', '.join(missing)})")
    axes = [k for k in header if k.startswith("CTYPE") and str(header[k]).upper().startswith("FREQ")]
    if not axes or f"CRVAL{axes[0][5:]}" not in header:
        raise CalmodelError(f"exported {label} lacks a FREQ axis with CRVAL")


def image_like(template: Path, path: Path, pixels) -> Path:
    """A CASA image at ``path`` on the grid of ``template``: ``pixels`` is a number for every
    pixel (0 for a flat spectral index, NaN for one not measured) or an array of the
    template's plane shape (a mask). Replaces anything at ``path``."""
    ia = casa_tools().tools.image()
    ia.open(str(template))
    try:
        csys, shape = ia.coordsys().torecord(), ia.shape()
    finally:
        ia.close()
    values = np.full(shape, float(pixels)) if np.isscalar(pixels) else \
        np.asarray(pixels, dtype=float).reshape(shape)
    if Path(path).exists():
        shutil.rmtree(path)
    ia.fromarray(outfile=str(path), pixels=values, csys=csys, overwrite=True)
    ia.close()
    return Path(path)
