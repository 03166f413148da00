"""SE imaging's phase-only self-calibration of the private copy of one field."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from calmodel.core.casa import casa_tools, run_task
from calmodel.core.images import read_plane
from calmodel.core.ms import reference_antenna
from calmodel.core.stats import robust_rms
from calmodel.imaging.settings import ImagingSettings


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


def selfcal(copy: Path, field: str, scratch: Path, name: str, mt: dict, settings: ImagingSettings,
            timings: dict, t: float, stop: dict) -> tuple[dict, str, float]:
    """Phase-only self-calibration of the private copy; its model clean stops on ``stop``
    (tclean's threshold and nsigma). Returns its record, the data column the final image
    should use ('corrected' if applied, else 'data') and the clock."""

    def lap(step: str) -> float:
        now = time.monotonic()
        timings[step] = round(now - t, 2)
        return now

    # Any antenna present counts (every row alike): imaging's rule since before the merge.
    refant = settings.refant or reference_antenna(copy, min_rows_fraction=0.0, unflagged_only=False)
    model = scratch / f"{name}_selfcal_model"
    run_task("tclean", f"self-cal model of field '{field}'", vis=str(copy), datacolumn="data",
          imagename=str(model), niter=settings.niter, pbcor=False, savemodel="modelcolumn", **stop, **mt)
    rms_before = robust_rms(read_plane(Path(f"{model}.residual.tt0")))
    t = lap("tclean_selfcal_model")

    caltable = scratch / f"{name}.selfcal.G"
    run_task("gaincal", f"phase self-cal of field '{field}'", vis=str(copy), caltable=str(caltable),
          calmode="p", solint="inf", combine=settings.selfcal_combine, gaintype="G", refant=refant,
          minsnr=settings.selfcal_minsnr, minblperant=4)
    record = {"calmode": "p", "solint": "inf", "combine": settings.selfcal_combine, "gaintype": "G",
              "refant": refant, "minsnr": settings.selfcal_minsnr, "interp": "nearest",
              "applymode": "calonly", "model_nsigma": settings.selfcal_nsigma, "model_stop": stop,
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
          interp=["nearest"], spwmap=spwmap, calwt=False, applymode="calonly", flagbackup=False)
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
