"""Calibrator models as CASA component lists: read, write, rescale, make from model
images, and write into MODEL_DATA.

Both calibration arms use this: the "nomodel" arm's model is a 1 Jy point source at
the field centre (what the standard pipeline assumes), the "model" arm's is the
self-calibration model, so the two arms share one code path.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calmodel import CalmodelError
from calmodel.core.casa import casa_tools, run_task
from calmodel.core.images import read_plane
from calmodel.core.io import copy_tree
from calmodel.core.sky import Component


@dataclass(frozen=True)
class ModelComponent:
    ra_deg: float
    dec_deg: float
    flux_jy: float  # Stokes I at ref_freq_hz
    alpha: float
    ref_freq_hz: float
    shape: str  # 'Point' or 'Gaussian'


def _check_readable(path: Path) -> None:
    """A CalmodelError for a truncated or corrupt component list: the componentlist tool
    crashes the process on one (SIGSEGV, issue 13 #12); the table tool raises instead."""
    tb = casa_tools().tools.table()
    try:
        tb.open(str(path))
        try:
            for column in ("Flux", "Reference_Direction", "Spectral_Parameters"):
                tb.getcol(column)
        finally:
            tb.close()
    except RuntimeError as err:  # casacore's IO errors arrive as bare RuntimeError
        first = (str(err).splitlines() or ["unreadable"])[0].strip()
        raise CalmodelError(f"cannot read component list {path}: {first} (truncated or corrupt?)") from err


def read_components(path: Path) -> list[ModelComponent]:
    if Path(path).is_dir():
        _check_readable(Path(path))
    cl = casa_tools().tools.componentlist()
    if not Path(path).is_dir() or not cl.open(str(path)):
        raise CalmodelError(f"not a CASA component list: {path}")
    try:
        out = []
        for i in range(cl.length()):
            comp = cl.getcomponent(i)
            direction = comp["shape"]["direction"]
            spectrum = comp["spectrum"]
            index = spectrum.get("index", [0.0])
            out.append(ModelComponent(
                float(np.degrees(direction["m0"]["value"])) % 360.0,
                float(np.degrees(direction["m1"]["value"])),
                float(np.real(comp["flux"]["value"][0])),
                float(np.atleast_1d(index)[0]) if spectrum["type"].lower().startswith("spectral") else 0.0,
                float(spectrum["frequency"]["m0"]["value"]) * _hz(spectrum["frequency"]["m0"]["unit"]),
                str(comp["shape"]["type"])))
        return out
    finally:
        cl.close()


def _hz(unit: str) -> float:
    return {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9}[unit]


def write_component_list(path: Path, components: list[Component]) -> Path:
    """Write ``components`` (points or Gaussians, spectral index each) as a CASA component list."""
    casa = casa_tools()
    cl, qa = casa.tools.componentlist(), casa.tools.quanta()
    for comp in components:
        shape = {"shape": "point"} if comp.is_point else {
            "shape": "Gaussian", "majoraxis": f"{comp.maj_arcsec}arcsec",
            "minoraxis": f"{comp.min_arcsec}arcsec", "positionangle": f"{comp.pa_deg}deg"}
        cl.addcomponent(dir=f"J2000 {qa.formxxx(f'{comp.ra_deg}deg', 'hms', prec=9)} "
                            f"{qa.formxxx(f'{comp.dec_deg}deg', 'dms', prec=9)}",
                        flux=comp.flux_jy, fluxunit="Jy", freq=f"{comp.ref_freq_hz}Hz",
                        spectrumtype="spectral index", index=comp.alpha, **shape)
    if Path(path).exists():
        shutil.rmtree(path)
    cl.rename(str(path))
    cl.close()
    return Path(path)


def point_model(path: Path, ra_deg: float, dec_deg: float, ref_freq_hz: float) -> Path:
    """The standard pipeline's assumption: 1 Jy, flat spectrum, at the field centre."""
    return write_component_list(path, [Component(ra_deg, dec_deg, 1.0, 0.0, ref_freq_hz=ref_freq_hz)])


def rescaled_copy(src: Path, dst: Path, factor: float, alpha_shift: float,
                  ref_freq_hz: float | None = None) -> Path:
    """Copy of a component list multiplied by ``factor`` (nu / ref_freq_hz)^alpha_shift.

    Each component keeps its own reference frequency nu_k: its flux is multiplied by
    ``factor`` (nu_k / ref_freq_hz)^alpha_shift and its index raised by ``alpha_shift``, which
    is exact at every frequency. ``ref_freq_hz`` None means each component's own nu_k (one
    reference frequency for the scaling law and the model: fluxscale fits at the mean spw
    frequency, 2.952 GHz on the demo, while model components sit at 3 GHz)."""
    if Path(dst).exists():
        shutil.rmtree(dst)
    copy_tree(src, dst)  # writable even if src is not: it is opened for writing below
    cl = casa_tools().tools.componentlist()
    cl.open(str(dst), nomodify=False)
    try:
        for i in range(cl.length()):
            comp = cl.getcomponent(i)
            own_hz = float(casa_tools().tools.quanta().convert(comp["spectrum"]["frequency"]["m0"], "Hz")["value"])
            scale = factor * (own_hz / ref_freq_hz) ** alpha_shift if ref_freq_hz else factor
            flux = np.real(comp["flux"]["value"]) * scale
            cl.setflux(i, value=flux.tolist(), unit="Jy", polarization="Stokes")
            index = float(np.atleast_1d(comp["spectrum"].get("index", [0.0]))[0])
            cl.setspectrum(i, type="spectral index", index=index + alpha_shift)
    finally:
        cl.close()
    return Path(dst)


def total_flux(components: list[ModelComponent]) -> float:
    return float(sum(c.flux_jy for c in components))


def write_model_column(vis: Path, field: str, component_list: Path) -> None:
    """Fill MODEL_DATA of ``field`` from a component list (exact, no gridding).

    Call again after anything that may have overwritten it (setjy on that field).
    """
    run_task("ft", f"model of '{field}' into {vis}", vis=str(vis), field=field,
             complist=str(component_list), incremental=False, usescratch=True)


def images_to_component_list(tt0: Path, tt1: Path, out: Path, threshold: float = 1e-3,
                             normalise: bool = False, reffreq_hz: float | None = None) -> Path:
    """One point component per model pixel with |flux| above ``threshold`` x the peak, of
    either sign, with spectral index tt1/tt0 (clipped to [-3, 3]); optionally scaled to 1 Jy
    in total.

    Positive and negative pixels are treated alike: clean's noise components come in both
    signs and cancel in the sum; keeping only the positive ones biased the model high (the
    coequal double: 1.221 Jy in model.cl for a 1.10 Jy source whose clean model held 1.130).
    """
    ia = casa_tools().tools.image()
    if not Path(tt0).is_dir():
        raise CalmodelError(f"model image not found: {tt0}")
    ia.open(str(tt0))
    model0 = ia.getchunk()[:, :, 0, 0]
    csys = ia.coordsys()
    ref = reffreq_hz or float(csys.referencevalue(format="n")["numeric"][3])
    ia.close()
    model1 = read_plane(str(tt1)) if Path(tt1).is_dir() else np.zeros_like(model0)
    keep = np.abs(model0) > threshold * model0.max()
    if model0.max() <= 0 or not keep.any():
        raise CalmodelError(f"model image {tt0} has no positive pixels")
    scale = 1.0 / model0[keep].sum() if normalise else 1.0
    components = []
    for x, y in zip(*np.nonzero(keep)):
        ra, dec = np.degrees(csys.toworld([float(x), float(y), 0, 0], "n")["numeric"][:2])
        components.append(Component(float(ra) % 360.0, float(dec), float(model0[x, y] * scale),
                                    float(np.clip(model1[x, y] / model0[x, y], -3, 3)), ref_freq_hz=ref))
    csys.done()
    return write_component_list(out, components)
