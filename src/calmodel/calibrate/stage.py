"""`calmodel calibrate`: the VLA pipeline's calibration order, with or without a calibrator model.

Both arms run this same code. ``model=None`` ("nomodel" arm) uses a 1 Jy point source
at the gain calibrator's centre, as the standard pipeline does; ``model=PATH`` uses a
spatial model (component list, or model.tt0/tt1 images turned into one). The model is
(re)written into MODEL_DATA before every solve against the gain calibrator.

Flux scale (``flux_scale``):
  * ``bootstrap`` (default): the model is normalised to 1 Jy, `fluxscale` measures the
    calibrator's flux density per spw against the flux calibrator, and the model is
    scaled by the fitted S(nu0) (nu/nu0)^alpha before the final solves. The model only
    contributes structure; the flux calibrator sets the scale (the memo's suggestion).
  * ``model``: the model's fluxes are taken as absolute; `fluxscale` is still run and
    reported, and should return ~1 and alpha ~0 for a correct model (the memo's check).

Steps: split out the calibrators -> flagdata (autocorr, shadow, quack, clip zeros) ->
setjy (flux cal, Perley-Butler 2017) -> ft (gain cal model) -> phase-only 'int' on the
flux cal -> delay (K) -> bandpass (B) -> phase 'int' + amplitude 'inf' on both
calibrators -> fluxscale -> rescaled model -> final phase 'int', amplitude 'inf', phase
'inf' -> mstransform of the gain cal and targets with the solutions applied on the fly
(a cal library, as applycal) -> the same flagdata on them -> statwt.

The solves write MODEL_DATA and flags, so they run on a private MS; only the calibrators'
rows go into it, with the input's field and spw IDs (the tables then apply to the input).
The targets are read once, from the input, and written once, calibrated: no copy of the
whole MS and no CORRECTED_DATA pass (the same numbers as applycal + split, to float32
rounding; tests/test_calibrate.py holds it to that).
"""

from __future__ import annotations

import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calmodel import CalmodelError
from calmodel.calibrate.settings import CalibrateSettings
from calmodel.core.casa import casa_log_to, casa_tools, run_task
from calmodel.core.components import (check_readable, images_to_component_list, point_model, read_components,
                                      rescaled_copy, total_flux, write_model_column)
from calmodel.core.io import atomic_dir, copy_tree, write_json
from calmodel.core.callib import Apply, write_cal_library
from calmodel.core.ms import (calibrator_rows, check_column_has_data, field_ids, field_names, field_position,
                              integration_time, open_input, reference_antenna, spw_info)
from calmodel.core.precal import BandpassSolve, CalibratorModel, solve_bandpass, write_models
from calmodel.core.records import stage_record
from calmodel.core.roles import field_roles


@dataclass
class CalibrateResult:
    calibrated_ms: Path
    record: Path
    fluxscale: dict = field(default_factory=dict)


def resolve_roles(ms: Path, settings: CalibrateSettings) -> tuple[str, str, list[str], dict[str, str]]:
    """(flux calibrator, gain calibrator, targets, reason per role): named, else by the rule
    of core.roles (intents, else standard names and the scan pattern)."""
    roles = field_roles(ms, flux=settings.flux_field or None,
                        gain=[settings.gain_field] if settings.gain_field else None,
                        targets=list(settings.targets) or None)
    flux = roles.require("flux_calibrator", "--flux-field")
    gain = roles.require("gain_calibrators", "--gain-field")[0]
    if not roles.targets:
        raise CalmodelError(f"no target fields in {ms}")
    return flux, gain, roles.targets, dict(roles.reasons)


def resolve_fields(ms: Path, settings: CalibrateSettings) -> tuple[str, str, list[str]]:
    """(flux calibrator, gain calibrator, targets): named, else by the rule of core.roles."""
    return resolve_roles(ms, settings)[:3]


# --- the calibration ------------------------------------------------------------------

def _solution_stats(table: Path) -> dict:
    """Fraction flagged, and the scatter of amplitudes and phases per antenna over time."""
    tb = casa_tools().tools.table()
    tb.open(str(table))
    flags = tb.getcol("FLAG")
    param_col = "CPARAM" if "CPARAM" in tb.colnames() else "FPARAM"
    values = tb.getcol(param_col)
    ants = tb.getcol("ANTENNA1")
    tb.close()
    stats = {"fraction_flagged": float(flags.mean()) if flags.size else 1.0, "n_solutions": int(flags.size)}
    if param_col == "CPARAM" and flags.size:
        warnings.simplefilter("ignore", RuntimeWarning)  # all-flagged antennas give NaN, by design
        good = np.where(flags, np.nan, values)
        amp_scatter, phase_scatter = [], []
        for ant in np.unique(ants):
            g = good[..., ants == ant]
            if g.shape[-1] > 1:
                amp_scatter.append(np.nanstd(np.abs(g), axis=-1) / np.nanmedian(np.abs(g)))
                ref = np.nanmean(g, axis=-1, keepdims=True)
                phase_scatter.append(np.nanstd(np.degrees(np.angle(g * np.conj(ref))), axis=-1))
        if amp_scatter:
            stats["amp_scatter_frac"] = float(np.nanmedian(amp_scatter))
            stats["phase_scatter_deg"] = float(np.nanmedian(phase_scatter))
    return stats


@dataclass(frozen=True)
class FluxFit:
    flux_jy: float  # at the reference frequency
    flux_error_jy: float
    alpha: float
    alpha_error: float


def fit_flux(freqs_hz: np.ndarray, fluxd: np.ndarray, errors: np.ndarray, ref_hz: float) -> FluxFit:
    """Weighted fit of log S = log S0 + alpha log(nu/nu0), with 1-sigma errors."""
    ok = fluxd > 0
    if ok.sum() == 0:
        raise CalmodelError("fluxscale returned no positive flux densities for the gain calibrator")
    x, y = np.log(freqs_hz[ok] / ref_hz), np.log(fluxd[ok])
    sigma_log = np.maximum(errors[ok], 1e-9 * fluxd[ok]) / fluxd[ok]
    if ok.sum() == 1 or np.ptp(x) == 0:
        s0 = float(np.exp(np.average(y, weights=sigma_log**-2)))
        return FluxFit(s0, s0 * float(np.sqrt(1.0 / np.sum(sigma_log**-2))), 0.0, float("nan"))
    design = np.vstack([np.ones_like(x), x]).T / sigma_log[:, None]
    coef, *_ = np.linalg.lstsq(design, y / sigma_log, rcond=None)
    cov = np.linalg.inv(design.T @ design)
    s0 = float(np.exp(coef[0]))
    return FluxFit(s0, s0 * float(np.sqrt(cov[0, 0])), float(coef[1]), float(np.sqrt(cov[1, 1])))


def calibrate(input_path: Path, out: Path, settings: CalibrateSettings) -> CalibrateResult:
    started = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    casa_log_to(out / "casa.log")
    if settings.flux_scale not in ("bootstrap", "model"):
        raise CalmodelError(f"--flux-scale must be 'bootstrap' or 'model', not '{settings.flux_scale}'")
    if settings.flux_scale == "model" and settings.model is None:
        # A 1 Jy point assumed as absolute would set every flux to the calibrator's 1 Jy guess.
        raise CalmodelError("--flux-scale model needs a calibrator model (--model PATH); with "
                            "--model none use --flux-scale bootstrap")
    if settings.model is not None and not Path(settings.model).exists():
        raise CalmodelError(f"model not found: {settings.model}")

    scratch = out / "scratch"
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir()
    source = open_input(Path(input_path), scratch)  # read, never written
    flux, gain, targets, role_reasons = resolve_roles(source, settings)
    both = f"{flux},{gain}"
    vis = calibrator_rows(source, scratch / "calibrators.ms", [flux, gain])
    for calibrator in (flux, gain):  # CASA would only say "Error in Calibrater::fluxscale."
        check_column_has_data(vis, "data", field_ids(vis, calibrator, input_path), calibrator, input_path)
    refant = settings.refant or reference_antenna(vis, [flux, gain])
    spws = spw_info(vis)
    ref_hz = float(np.mean([s.reffreq_hz for s in spws]))
    steps: list[dict] = []

    def step(name: str, **info) -> None:
        steps.append({"step": name, "t_s": round(time.monotonic() - started, 2), **info})

    quack = settings.quack_s if settings.quack_s is not None else 0.5 * integration_time(vis)
    step("flagdata", quack_s=quack, fraction_flagged=basic_flags(vis, quack))

    # Models: the flux calibrator's standard, the gain calibrator's (point or spatial).
    fluxcal = write_models(vis, [CalibratorModel(flux, standard=True)], ref_hz / 1e9)
    caltables = out / "caltables"
    if caltables.exists():
        shutil.rmtree(caltables)
    caltables.mkdir()
    gain_position = field_position(vis, gain)
    given = _as_component_list(settings.model, scratch) if settings.model else None
    raw_model = given or point_model(scratch / "point.cl", *gain_position, ref_hz)
    components = read_components(raw_model)
    if settings.flux_scale == "bootstrap":
        solve_model = rescaled_copy(raw_model, scratch / "normalised.cl", 1.0 / total_flux(components), 0.0)
    else:
        solve_model = raw_model
    write_model_column(vis, gain, solve_model)
    step("models", fluxcal=fluxcal, model=str(settings.model) if settings.model else "point",
         n_components=len(components), model_total_flux_jy=total_flux(components))

    def table(name: str) -> str:
        return str(caltables / name)

    common = dict(vis=str(vis), refant=refant, minsnr=settings.minsnr, minblperant=4)
    # The full calibration's bandpass: delays first, normalised (amplitudes come later). A
    # delay is a phase slope across a spw's channels, which a one-channel spw does not have:
    # gaincal K there flagged 74-91% of the OTF demo tile's solutions, and applycal its data.
    narrowest = min(len(spw.chan_freqs_hz) for spw in spws)
    solve_delay = narrowest >= 2
    prior = solve_bandpass(vis, caltables, flux, refant, BandpassSolve(
        phase_solint=settings.short_solint, solve_delay=solve_delay, normalise=True, minsnr=settings.minsnr))
    step("delay_bandpass", delay="solved" if solve_delay else "not solved: a spw has one channel")

    def phases_then_amplitudes(what: str, phases: str, amplitudes: str) -> None:
        """Short-solint phases on both calibrators, then long-solint amplitudes on top."""
        run_task("gaincal", f"{what} short phases", caltable=table(phases), field=both, calmode="p",
                 solint=settings.short_solint, uvrange=settings.uvrange, gaintable=prior, **common)
        run_task("gaincal", f"{what} long amplitudes", caltable=table(amplitudes), field=both, calmode="ap",
                 solint=settings.long_solint, uvrange=settings.uvrange,
                 gaintable=prior + [table(phases)], **common)

    phases_then_amplitudes("first", "phase_short.G", "amp_long.G")
    result = run_task("fluxscale", f"'{gain}' against '{flux}'", vis=str(vis), caltable=table("amp_long.G"),
                      fluxtable=table("fluxscale.G"), reference=flux, transfer=gain, fitorder=1)
    fluxscale = _fluxscale_summary(result, vis, gain, ref_hz)
    step("fluxscale", **fluxscale)

    # The gain calibrator's model on its bootstrapped scale, then the final solutions.
    if settings.flux_scale == "bootstrap":
        final_model = rescaled_copy(solve_model, scratch / "final.cl", fluxscale["fit_flux_jy"],
                                    fluxscale["fit_alpha"], fluxscale["fit_ref_freq_hz"])
    else:
        final_model = solve_model
    write_model_column(vis, gain, final_model)
    phases_then_amplitudes("final", "final_phase_short.G", "final_amp.G")
    run_task("gaincal", "final scan phases", caltable=table("final_phase_scan.G"),
             field=both, calmode="p", solint=settings.long_solint,
             uvrange=settings.uvrange, gaintable=prior + [table("final_amp.G")], **common)
    step("final_gains", final_model_total_flux_jy=total_flux(read_components(final_model)))

    # Targets get scan-averaged phases interpolated in time; the gain calibrator its own.
    on_targets = ",".join(targets)
    library = write_cal_library(out / "apply.callib", [
        *(Apply(t, on_targets) for t in prior),
        Apply(table("final_amp.G"), on_targets, fldmap=gain),
        Apply(table("final_phase_scan.G"), on_targets, fldmap=gain),
        *(Apply(t, gain) for t in prior),
        Apply(table("final_phase_short.G"), gain, tinterp="nearest"),
        Apply(table("final_amp.G"), gain, tinterp="nearest"),
    ], n_spw=len(spws))

    calibrated = out / "calibrated.ms"
    with atomic_dir(calibrated) as tmp:
        tmp.rmdir()
        run_task("mstransform", "calibrated gain calibrator and targets", vis=str(source), outputvis=str(tmp),
                 field=f"{gain},{on_targets}", datacolumn="corrected", docallib=True, callib=str(library),
                 keepflags=True)
        # The same basic flags as the calibrators had; none depends on the calibration.
        step("apply", cal_library=library.name, fraction_flagged=basic_flags(tmp, quack))
        if settings.statwt:
            # Per-integration weights from the scatter across an spw, as the VLA pipeline.
            # Simulated tiles carry exact weights already; there statwt only adds noise to
            # them (few channels) or, with long time bins, mistakes the sky's fringes for
            # noise and reweights the spws (biasing wideband fluxes): use --no-statwt.
            run_task("statwt", vis=str(tmp), datacolumn="data")
    step("statwt", statwt=settings.statwt)
    copy_tree(final_model, out / "gain_calibrator_model.cl", dirs_exist_ok=True)

    solutions = {p.name: _solution_stats(p) for p in sorted(caltables.iterdir())}
    shutil.rmtree(scratch)
    record = stage_record("calibrate", {
        "input": str(input_path), "model": str(settings.model) if settings.model else None,
        "flux_scale": settings.flux_scale, "refant": refant, "uvrange": settings.uvrange,
        "short_solint": settings.short_solint, "long_solint": settings.long_solint, "minsnr": settings.minsnr,
        "statwt": settings.statwt,
    }, {
        "arm": "model" if settings.model else "nomodel",
        "fields": {"flux_calibrator": flux, "gain_calibrator": gain, "targets": targets},
        "field_reasons": role_reasons,
        "fluxscale": fluxscale,
        "solutions": solutions,
        "steps": steps,
        "outputs": {"calibrated_ms": "calibrated.ms", "caltables": "caltables", "cal_library": "apply.callib",
                    "gain_calibrator_model": "gain_calibrator_model.cl"},
    }, started)
    write_json(out / "calibrate.json", record)
    return CalibrateResult(calibrated, out / "calibrate.json", fluxscale)


def basic_flags(vis: Path, quack_s: float) -> float:
    """The pipeline's basic flags (autocorrelations, shadowing, scan starts, zeros) on
    ``vis``, in one pass (flagdata's list mode; none depends on another's flags); returns
    the fraction of its data flagged."""
    commands = ["mode='manual' autocorr=True", "mode='shadow'", "mode='clip' clipzeros=True"]
    if quack_s > 0:
        commands.append(f"mode='quack' quackinterval={float(quack_s)!r} quackmode='beg'")
    run_task("flagdata", "basic flags", vis=str(vis), mode="list", inpfile=commands, flagbackup=False)
    summary = run_task("flagdata", "summary", vis=str(vis), mode="summary")
    return summary["flagged"] / max(summary["total"], 1)


def _as_component_list(model: Path, scratch: Path) -> Path:
    """A component list for ``model``: itself, or one made from tt0/tt1 model images."""
    model = Path(model)
    if (model / "table.dat").is_file() and "componentlist" in (model / "table.info").read_text(errors="replace").lower():
        # Opening a casacore table writes its lock file: read a copy, never the input
        # (a writable one: a read-only component list aborts CASA with "double free").
        copy = copy_tree(model, scratch / "given_model.cl", symlinks=False)
        check_readable(copy, shown=model)  # the error names the user's file, not the copy
        return copy
    tt0 = model if model.name.endswith(".tt0") else model.with_name(model.name + ".tt0")
    if not tt0.exists():
        raise CalmodelError(f"model must be a component list or a model .tt0 image: {model}")
    return images_to_component_list(tt0, tt0.with_name(tt0.name[:-4] + ".tt1"), scratch / "from_images.cl")


def _fluxscale_summary(result: dict, vis: Path, gain: str, ref_hz: float) -> dict:
    if not result:
        raise CalmodelError(f"fluxscale failed for gain calibrator '{gain}'; see casa.log")
    fid = str(field_names(vis).index(gain))
    if fid not in result:
        raise CalmodelError(f"fluxscale found no solutions for gain calibrator '{gain}'")
    entry = result[fid]
    freqs = np.asarray(result["freq"], dtype=float)
    per_spw = []
    for spw in sorted((k for k in entry if k.isdigit()), key=int):
        fluxd = float(entry[spw]["fluxd"][0])
        if fluxd > 0:
            per_spw.append({"spw": int(spw), "freq_hz": float(freqs[int(spw)]), "flux_jy": fluxd,
                            "error_jy": float(entry[spw]["fluxdErr"][0])})
    fit = fit_flux(np.array([p["freq_hz"] for p in per_spw]), np.array([p["flux_jy"] for p in per_spw]),
                   np.array([p["error_jy"] for p in per_spw]), ref_hz)
    return {
        "field": gain, "per_spw": per_spw, "fit_ref_freq_hz": ref_hz,
        "fit_flux_jy": fit.flux_jy, "fit_flux_error_jy": fit.flux_error_jy,
        "fit_alpha": fit.alpha, "fit_alpha_error": fit.alpha_error,
        "casa_fit_flux_jy": float(entry.get("fitFluxd", np.nan)),
        "casa_fit_flux_error_jy": float(entry.get("fitFluxdErr", np.nan)),
        "casa_fit_ref_freq_hz": float(entry.get("fitRefFreq", np.nan)),
        "casa_spidx": [float(v) for v in np.atleast_1d(entry.get("spidx", []))],
        "casa_spidx_error": [float(v) for v in np.atleast_1d(entry.get("spidxerr", []))],
    }
