"""The one calibrator pre-calibration: models -> phase -> bandpass -> gain phase -> applycal.

Three stages calibrate calibrators before their own work:

* characterize's quick self-calibration (unit models on every calibrator),
* build-model's starting calibration (the flux standard on the flux calibrator, a unit
  model on the calibrator being modelled),
* calibrate's delay and bandpass solves (the flux standard; the gain calibrator's model
  is written by calibrate itself, which then solves its own gains).

The steps they share are here; where they differ on purpose the difference is a
parameter of :class:`BandpassSolve` named after its reason. Every CASA call goes through
:func:`calmodel.core.casa.run_task`; the parameters each caller passes are the ones it
always passed, so the numbers do not depend on which stage runs the routine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from calmodel import CalmodelError
from calmodel.core.casa import run_task
from calmodel.core.fluxcal import setjy_standard
from calmodel.core.naming import safe_name

UNIT_STOKES_I = [1, 0, 0, 0]


@dataclass(frozen=True)
class CalibratorModel:
    """MODEL_DATA for one field: the Perley-Butler 2017 standard, or 1 Jy Stokes I."""

    field: str
    standard: bool = False


def write_models(vis: Path, models: list[CalibratorModel], freq_ghz: float | None = None) -> dict:
    """Write each model into MODEL_DATA, in the order given (an explicit model for every
    calibrator: never rely on the solver's implicit one). Returns the standard's record
    (``setjy_standard``) of the last standard model, or {}."""
    standard: dict = {}
    for model in models:
        if model.standard:
            if freq_ghz is None:
                raise ValueError("a flux-standard model needs the frequency")
            standard = setjy_standard(vis, model.field, freq_ghz)
        else:
            run_task("setjy", f"unit model of '{model.field}'", vis=str(vis), field=model.field,
                     standard="manual", fluxdensity=UNIT_STOKES_I, usescratch=True)
    return standard


@dataclass(frozen=True)
class BandpassSolve:
    """How the bandpass calibrator is solved.

    ``phase_solint``: the phase-only solve that steadies the bandpass solve.
    ``solve_delay``: a full calibration solves residual delays (K) before the bandpass;
        the quick calibrations of characterize and build-model do not need them.
    ``normalise``: a full calibration takes amplitudes from its later gain solves, so its
        bandpass is normalised (solnorm); the quick calibrations keep the bandpass's
        amplitude scale, which carries the flux scale to the calibrator being studied.
    ``minsnr``: passed with ``minblperant=4`` when set (a full calibration states its
        limits); None leaves CASA's defaults, as the quick calibrations always did.
    """

    phase_solint: str = "int"
    solve_delay: bool = False
    normalise: bool = False
    minsnr: float | None = None


QUICK_BANDPASS = BandpassSolve()


def solve_bandpass(vis: Path, tables: Path, field: str, refant: str,
                   how: BandpassSolve = QUICK_BANDPASS) -> list[str]:
    """Phase ('initial_phase.G'), optional delay ('delay.K') and bandpass ('bandpass.B')
    solutions on ``field``, written in ``tables``. Returns the tables later solves pre-apply:
    [delay.K,] bandpass.B."""
    limits = {} if how.minsnr is None else {"minsnr": how.minsnr, "minblperant": 4}
    phase, delay, bandpass = (str(Path(tables) / name) for name in ("initial_phase.G", "delay.K", "bandpass.B"))
    run_task("gaincal", f"bandpass phases on '{field}'", vis=str(vis), caltable=phase, field=field,
             calmode="p", solint=how.phase_solint, refant=refant, **limits)
    steadying = [phase]
    if how.solve_delay:
        run_task("gaincal", f"delays on '{field}'", vis=str(vis), caltable=delay, field=field, gaintype="K",
                 solint="inf", combine="scan", gaintable=[phase], refant=refant, **limits)
        steadying = [delay, phase]
    run_task("bandpass", f"bandpass on '{field}'", vis=str(vis), caltable=bandpass, field=field, solint="inf",
             combine="scan", bandtype="B", refant=refant, solnorm=how.normalise, gaintable=steadying,
             **limits)
    if not Path(bandpass).is_dir():
        raise CalmodelError(f"bandpass found no solutions on '{field}' in {vis} (see casa.log)")
    return [delay, bandpass] if how.solve_delay else [bandpass]


def phase_reference(vis: Path, tables: Path, fields: list[str], refant: str, pre: list[str]) -> None:
    """Per scan, phase-only gains on each field against its model (after ``pre``), applied to
    that field with 'nearest' interpolation: each integration takes its own scan's solution."""
    for name in fields:
        table = str(Path(tables) / f"{safe_name(name)}.phase.G")
        run_task("gaincal", f"scan phases on '{name}'", vis=str(vis), caltable=table, field=name,
                 solint="inf", combine="", calmode="p", refant=refant, gaintable=pre)
        if not Path(table).is_dir():
            raise CalmodelError(f"gaincal found no solutions on '{name}' in {vis} (see casa.log)")
        run_task("applycal", f"scan phases on '{name}'", vis=str(vis), field=name, gaintable=pre + [table],
                 interp=["nearest"] * (len(pre) + 1), calwt=False, flagbackup=False)


def precalibrate(vis: Path, tables: Path, models: list[CalibratorModel], bandpass_field: str | None,
                 gain_fields: list[str], refant: str, freq_ghz: float | None = None) -> dict:
    """Models, then (with a bandpass calibrator) a quick bandpass, then scan phases on each
    gain field, applied to CORRECTED_DATA of ``vis`` (a private copy). Returns the flux
    standard's record, or {}."""
    standard = write_models(vis, models, freq_ghz)
    pre = solve_bandpass(vis, tables, bandpass_field, refant) if bandpass_field else []
    phase_reference(vis, tables, gain_fields, refant, pre)
    return standard
