"""`calmodel simulate`: a VLASS-like execution block with its truth beside it.

The measurement set is laid out with the CASA simulator (VLA antennas, spectral
windows, fields, scans with intents); the visibilities are then computed
exactly in numpy (see :mod:`calmodel.core.sky`), corrupted with known gains,
bandpasses and thermal noise (:mod:`calmodel.simulate.corruptions`), and written in
row chunks so a large tile never sits in memory. The flux calibrator's
visibilities are the Perley-Butler 2017 model that `setjy` writes, so that a
calibration with the standard recovers the injected flux scale.
"""

from __future__ import annotations

import csv
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calmodel import CalmodelError
from calmodel.core.casa import casa_log_to, casa_tools, casadata_path
from calmodel.core.components import write_component_list
from calmodel.core.fluxcal import setjy_standard
from calmodel.core.io import atomic_dir, atomic_file, write_json
from calmodel.core.primary_beam import RadialBeam, casa_beam, gaussian_beam
from calmodel.core.records import stage_record
from calmodel.core.sky import ARCSEC, Component, direction_cosines, mean_direction, offset_position, visibilities
from calmodel.simulate.config import (ObservationSettings, corruption_settings, load_settings,
                                      observation_settings)
from calmodel.simulate.corruptions import Gains, expected_image_rms, make_gains, noise_sigma

INTENTS = {
    "flux": "CALIBRATE_FLUX#UNSPECIFIED,CALIBRATE_BANDPASS#UNSPECIFIED",
    "gain": "CALIBRATE_PHASE#UNSPECIFIED,CALIBRATE_AMPLI#UNSPECIFIED",
    "target": "OBSERVE_TARGET#UNSPECIFIED",
}
POLARISATIONS = ("RR", "LL")
ROWS_PER_CHUNK = 20_000


@dataclass(frozen=True)
class Field:
    name: str
    role: str  # flux | gain | target
    ra_deg: float
    dec_deg: float


@dataclass(frozen=True)
class Scan:
    field: Field
    start_s: float  # relative to the block's reference time
    stop_s: float
    number: int = 0  # the MS SCAN_NUMBER: an OTF pass is one scan over many fields


@dataclass
class SimulateResult:
    ms: Path
    tile_json: Path
    n_rows: int
    n_visibilities: int
    noise_sigma_jy: float


# --- sky -----------------------------------------------------------------------------

def _angle_deg(casa, text: str) -> float:
    return float(casa.tools.quanta().convert(casa.tools.quanta().quantity(text), "deg")["value"])


def make_fields(settings: dict, casa) -> list[Field]:
    spec = settings["fields"]
    flux = Field(spec["flux_calibrator"]["name"], "flux", _angle_deg(casa, spec["flux_calibrator"]["ra"]),
                 _angle_deg(casa, spec["flux_calibrator"]["dec"]))
    gain = Field(spec["gain_calibrator"]["name"], "gain", _angle_deg(casa, spec["gain_calibrator"]["ra"]),
                 _angle_deg(casa, spec["gain_calibrator"]["dec"]))
    count, sep = int(spec["targets"]["count"]), float(spec["targets"]["separation_deg"])
    if count < 1:
        raise CalmodelError("fields.targets.count must be at least 1")
    layout = spec["targets"]["layout"]
    if layout == "ring":
        offsets = [(sep * 3600 * np.sin(2 * np.pi * i / count), sep * 3600 * np.cos(2 * np.pi * i / count))
                   for i in range(count)]
    elif layout == "stripe":
        offsets = stripe_offsets(spec["targets"], sep * 3600)
    else:
        raise CalmodelError(f"fields.targets.layout must be ring or stripe, not '{layout}'")
    targets = []
    for i, (east, north) in enumerate(offsets):
        ra, dec = offset_position(gain.ra_deg, gain.dec_deg, east, north)
        targets.append(Field(f"{spec['targets']['prefix']}{i + 1:02d}", "target", ra, dec))
    return [flux, gain, *targets]


def stripe_offsets(spec: dict, north_arcsec: float) -> list[tuple[float, float]]:
    """(east, north) arcsec offsets from the gain calibrator of a stripe's phase centres: ``rows``
    rows of ``count`` centres ``spacing_arcmin`` apart along RA, centred ``north_arcsec`` north."""
    count, rows = int(spec["count"]), int(spec["rows"])
    step, row_step = float(spec["spacing_arcmin"]) * 60.0, float(spec["row_spacing_arcmin"]) * 60.0
    if rows < 1 or step <= 0 or (rows > 1 and row_step <= 0):
        raise CalmodelError("fields.targets: stripe needs rows >= 1 and positive spacings")
    return [((i - (count - 1) / 2) * step, north_arcsec + (r - (rows - 1) / 2) * row_step)
            for r in range(rows) for i in range(count)]


def calibrator_components(settings: dict, gain: Field) -> list[Component]:
    spec = settings["calibrator"]
    ref = float(spec["reference_frequency_ghz"]) * 1e9
    comps = []
    for item in spec["components"]:
        ra, dec = offset_position(gain.ra_deg, gain.dec_deg, float(item.get("east_arcsec", 0.0)),
                                  float(item.get("north_arcsec", 0.0)))
        comps.append(Component(ra, dec, float(item["flux_jy"]), float(item.get("alpha", 0.0)),
                               float(item.get("maj_arcsec", 0.0)), float(item.get("min_arcsec", 0.0)),
                               float(item.get("pa_deg", 0.0)), ref, gain.name))
    if not comps:
        raise CalmodelError("calibrator.components is empty")
    return comps


def _source(spec: dict, rng: np.random.Generator, flux: float, ra: float, dec: float, field: str,
            ref: float) -> Component:
    alpha = rng.normal(spec["alpha_mean"], spec["alpha_scatter"])
    maj = mn = pa = 0.0
    if rng.uniform() < spec["resolved_fraction"]:
        maj = rng.uniform(*spec["size_arcsec"])
        mn = maj * rng.uniform(0.4, 1.0)
        pa = rng.uniform(0, 180)
    return Component(ra, dec, float(flux), float(alpha), maj, mn, pa, ref, field)


def _draw_flux(spec: dict, rng: np.random.Generator) -> float:
    smin, smax = float(spec["flux_min_mjy"]) * 1e-3, float(spec["flux_max_mjy"]) * 1e-3
    g = float(spec["count_slope"]) + 1.0  # integral of S^slope
    return (smin**g + rng.uniform() * (smax**g - smin**g)) ** (1.0 / g)


def target_sky(settings: dict, targets: list[Field], rng: np.random.Generator) -> list[Component]:
    """Power-law source counts within a radius of each target centre (a stripe: over the whole
    stripe), fixed by the seed."""
    spec = settings["sky"]
    if settings["fields"]["targets"]["layout"] == "stripe":
        return stripe_sky(spec, targets, rng)
    ref = float(spec["reference_frequency_ghz"]) * 1e9
    radius = float(spec["radius_arcmin"]) * 60.0
    sources = []
    for index, target in enumerate(targets):
        placed: list[tuple[float, float]] = []
        for _ in range(int(spec["sources_per_field"])):
            flux = _draw_flux(spec, rng)
            for _attempt in range(1000):  # keep sources apart so catalogues cross-match cleanly
                r = radius * np.sqrt(rng.uniform())
                theta = rng.uniform(0, 2 * np.pi)
                east, north = r * np.sin(theta), r * np.cos(theta)
                if all(np.hypot(east - e, north - n) >= spec["min_separation_arcsec"] for e, n in placed):
                    break
            placed.append((east, north))
            ra, dec = offset_position(target.ra_deg, target.dec_deg, east, north)
            sources.append(_source(spec, rng, flux, ra, dec, target.name, ref))
        if index == 0 and spec["bright_source_jy"] > 0:
            ra, dec = offset_position(target.ra_deg, target.dec_deg, 0.6 * radius, -0.3 * radius)
            sources.append(Component(ra, dec, float(spec["bright_source_jy"]), -0.7, 0, 0, 0, ref,
                                     target.name))
    return sources


def stripe_sky(spec: dict, targets: list[Field], rng: np.random.Generator) -> list[Component]:
    """``sources_per_field`` x (number of phase centres) sources spread uniformly over the
    stripe: the rectangle of the phase centres widened by ``radius_arcmin`` on every side, so
    that most lie between phase centres. Each source's ``field`` is its nearest phase centre."""
    ref = float(spec["reference_frequency_ghz"]) * 1e9
    radius = float(spec["radius_arcmin"]) * 60.0
    ra0, dec0 = mean_direction([t.ra_deg for t in targets], [t.dec_deg for t in targets])
    l, m, _ = direction_cosines(np.array([t.ra_deg for t in targets]), np.array([t.dec_deg for t in targets]),
                                ra0, dec0)
    east, north = l / ARCSEC, m / ARCSEC
    lo_e, hi_e = east.min() - radius, east.max() + radius
    lo_n, hi_n = north.min() - radius, north.max() + radius
    placed: list[tuple[float, float]] = []
    sources = []
    for _ in range(int(spec["sources_per_field"]) * len(targets)):
        flux = _draw_flux(spec, rng)
        for _attempt in range(1000):
            e, n = rng.uniform(lo_e, hi_e), rng.uniform(lo_n, hi_n)
            if all(np.hypot(e - pe, n - pn) >= spec["min_separation_arcsec"] for pe, pn in placed):
                break
        placed.append((e, n))
        nearest = targets[int(np.argmin(np.hypot(east - e, north - n)))].name
        ra, dec = offset_position(ra0, dec0, e, n)
        sources.append(_source(spec, rng, flux, ra, dec, nearest, ref))
    if spec["bright_source_jy"] > 0:
        ra, dec = offset_position(ra0, dec0, 0.3 * (hi_e - lo_e) / 2, 0.0)
        sources.append(Component(ra, dec, float(spec["bright_source_jy"]), -0.7, 0, 0, 0, ref,
                                 targets[int(np.argmin(np.hypot(east - 0.3 * (hi_e - lo_e) / 2, north)))].name))
    return sources


# --- schedule and MS layout ----------------------------------------------------------------

def make_schedule(obs: ObservationSettings, fields: list[Field]) -> list[Scan]:
    """Flux calibrator, then ``cycles`` x (gain calibrator, targets), then the gain calibrator.
    Pointed targets get a scan of ``target_scan_s`` each, ``gap_s`` apart; with
    ``integrations_per_field`` > 0 a target pass is one OTF-like scan that dwells that many
    integrations on each phase centre in turn, with no gap between them."""
    flux, gain, targets = fields[0], fields[1], fields[2:]
    otf = obs.integrations_per_field > 0
    dwell = obs.integrations_per_field * obs.integration_s
    scans, clock, number = [], 0.0, 0

    def add(entries: list[tuple[Field, float]]) -> None:
        nonlocal clock, number
        number += 1
        for field, length in entries:
            scans.append(Scan(field, clock, clock + length, number))
            clock += length
        clock += obs.gap_s

    add([(flux, obs.flux_scan_s)])
    for _ in range(obs.cycles):
        add([(gain, obs.gain_scan_s)])
        if otf:
            add([(t, dwell) for t in targets])
        else:
            for t in targets:
                add([(t, obs.target_scan_s)])
    add([(gain, obs.gain_scan_s)])
    return scans


def _transit_start(casa, obs: ObservationSettings, gain: Field, block_s: float):
    """UTC epoch that centres the block on the gain calibrator's transit at the VLA."""
    me, qa = casa.tools.measures(), casa.tools.quanta()
    vla = me.observatory("VLA")
    midnight = me.epoch("UTC", f"{obs.date.replace('-', '/')}/00:00:00")
    me.doframe(vla)
    me.doframe(midnight)
    lst_days = me.measure(midnight, "LAST")["m0"]["value"] % 1.0
    wait_sidereal = (gain.ra_deg / 360.0 - lst_days) % 1.0
    start_mjd = midnight["m0"]["value"] + wait_sidereal * 0.9972695663 - block_s / 2 / 86400.0
    return me.epoch("UTC", qa.quantity(start_mjd, "d"))


def read_antenna_config(name: str):
    path = casadata_path() / "alma" / "simmos" / name
    if not path.is_file():
        raise CalmodelError(f"array configuration '{name}' not found in casadata ({path})")
    rows = [line.split() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    xyz = np.array([[float(r[0]), float(r[1]), float(r[2])] for r in rows])
    return xyz, [float(r[3]) for r in rows], [r[4] for r in rows]


def layout_ms(ms: Path, obs: ObservationSettings, scans: list[Scan], casa) -> None:
    """Create the empty MS: antennas, spws, fields, scans with intents, UVW."""
    sm, me, qa = casa.tools.simulator(), casa.tools.measures(), casa.tools.quanta()
    xyz, diam, names = read_antenna_config(obs.array_config)
    sm.open(str(ms))
    sm.setconfig(telescopename="VLA", x=xyz[:, 0].tolist(), y=xyz[:, 1].tolist(), z=xyz[:, 2].tolist(),
                 dishdiameter=diam, mount=["alt-az"], antname=names, padname=names,
                 coordsystem="global", referencelocation=me.observatory("VLA"))
    chan_width = obs.spw_width_mhz / obs.channels_per_spw
    for i, centre in enumerate(obs.spw_centres_ghz):
        first = centre * 1e3 - obs.spw_width_mhz / 2 + chan_width / 2
        sm.setspwindow(spwname=f"spw{i}", freq=f"{first}MHz", deltafreq=f"{chan_width}MHz",
                       freqresolution=f"{chan_width}MHz", nchannels=obs.channels_per_spw,
                       refcode="TOPO", stokes=" ".join(POLARISATIONS))
    sm.setfeed(mode="perfect R L")
    seen = []
    for scan in scans:
        if scan.field.name not in seen:
            seen.append(scan.field.name)
            sm.setfield(sourcename=scan.field.name,
                        sourcedirection=me.direction("J2000", qa.quantity(scan.field.ra_deg, "deg"),
                                                     qa.quantity(scan.field.dec_deg, "deg")))
    sm.setlimits(shadowlimit=0.001, elevationlimit=f"{obs.elevation_limit_deg}deg")
    sm.setauto(autocorrwt=0.0)
    block_s = scans[-1].stop_s
    sm.settimes(integrationtime=f"{obs.integration_s}s", usehourangle=False,
                referencetime=_transit_start(casa, obs, scans[1].field, block_s))
    for scan in scans:
        for i in range(len(obs.spw_centres_ghz)):
            sm.observe(sourcename=scan.field.name, spwname=f"spw{i}", starttime=f"{scan.start_s}s",
                       stoptime=f"{scan.stop_s}s", state_obs_mode=INTENTS[scan.field.role])
    sm.close()
    # The simulator opens a new scan for every observe() call, i.e. per spw and field; a real
    # VLA scan holds all spws (and an OTF scan many phase centres), and solint='inf' and
    # scan-based selections depend on that.
    tb = casa.tools.table()
    tb.open(str(ms), nomodify=False)
    nspw = len(obs.spw_centres_ghz)
    numbers = np.array([scan.number for scan in scans])
    tb.putcol("SCAN_NUMBER", numbers[(tb.getcol("SCAN_NUMBER") - 1) // nspw].astype(np.int32))
    tb.close()


# --- filling the visibilities ----------------------------------------------------------

def _ms_metadata(ms: Path, casa):
    tb = casa.tools.table()
    tb.open(str(ms / "SPECTRAL_WINDOW"))
    chan_freq = tb.getcol("CHAN_FREQ").T  # (nspw, nchan)
    tb.close()
    tb.open(str(ms / "DATA_DESCRIPTION"))
    ddid_spw = tb.getcol("SPECTRAL_WINDOW_ID")
    tb.close()
    tb.open(str(ms / "ANTENNA"))
    antennas = list(tb.getcol("NAME"))
    tb.close()
    tb.open(str(ms / "FIELD"))
    field_names = list(tb.getcol("NAME"))
    phase_dir = np.degrees(tb.getcol("PHASE_DIR")[:, 0, :])  # (2, nfield)
    tb.close()
    return chan_freq, ddid_spw, antennas, field_names, phase_dir


def primary_beam_model(ms: Path, settings: dict, target_id: int,
                       farthest_arcsec: float = 0.0) -> RadialBeam | None:
    """The beam that attenuates the targets' sky: CASA's own (what `tclean` corrects for), a
    Gaussian, or none (``primary_beam.model``)."""
    spec = settings["primary_beam"]
    if spec["model"] == "none":
        return None
    if spec["model"] == "gaussian":
        return gaussian_beam(float(spec["fwhm_arcmin_at_1ghz"]))
    if spec["model"] != "casa":
        raise CalmodelError(f"primary_beam.model must be casa, gaussian or none, not '{spec['model']}'")
    # Sampled out to twice the sky radius, 1.2 x the farthest source from a phase centre that
    # sees it (a stripe) and at least 20' at spw 0 (beyond the first null of a 25 m dish at
    # 2-4 GHz); the profile scales as radius x frequency.
    radius = max(1200.0, 2.0 * float(settings["sky"]["radius_arcmin"]) * 60.0, 1.2 * farthest_arcsec)
    return casa_beam(ms, target_id, 0, radius)


def fill_visibilities(ms: Path, fields: list[Field], calibrator: list[Component], sky: list[Component],
                      settings: dict, obs: ObservationSettings, seeds: np.random.SeedSequence,
                      casa) -> tuple[Gains, dict]:
    """Compute, corrupt and write DATA (plus SIGMA/WEIGHT) chunk by chunk."""
    chan_freq, ddid_spw, antennas, field_names, phase_dir = _ms_metadata(ms, casa)
    flux_field = fields[0]
    fluxcal_info = setjy_standard(ms, flux_field.name, float(np.mean(obs.spw_centres_ghz)))
    farthest = 0.0
    if settings["fields"]["targets"]["layout"] == "stripe" and sky:
        for target in fields[2:]:
            l, m, _ = direction_cosines(np.array([c.ra_deg for c in sky]), np.array([c.dec_deg for c in sky]),
                                        target.ra_deg, target.dec_deg)
            farthest = max(farthest, float(np.max(np.hypot(l, m))) / ARCSEC)
    beam = primary_beam_model(ms, settings, field_names.index(fields[2].name), farthest)
    components = {f.name: [] for f in fields}
    components[fields[1].name] = calibrator
    if settings["fields"]["targets"]["layout"] == "stripe":
        for target in fields[2:]:  # every phase centre sees the whole stripe through its beam
            components[target.name] = list(sky)
    else:
        for comp in sky:
            components[comp.field].append(comp)

    gain_rng, noise_rng = (np.random.default_rng(s) for s in seeds.spawn(2))
    sigma = noise_sigma(settings["noise"]["sefd_jy"], settings["noise"]["efficiency"],
                        obs.spw_width_mhz * 1e6 / obs.channels_per_spw, obs.integration_s)
    tb = casa.tools.table()
    tb.open(str(ms), nomodify=False)
    times = np.unique(tb.getcol("TIME"))
    gains = make_gains(gain_rng, corruption_settings(settings), times, len(antennas), chan_freq)
    nrow = tb.nrows()
    samples_per_field = {name: 0 for name in field_names}
    for start in range(0, nrow, ROWS_PER_CHUNK):
        n = min(ROWS_PER_CHUNK, nrow - start)
        cols = {c: tb.getcol(c, start, n) for c in ("TIME", "ANTENNA1", "ANTENNA2", "FIELD_ID",
                                                    "DATA_DESC_ID", "UVW")}
        model = tb.getcol("MODEL_DATA", start, n)  # setjy's flux calibrator model
        data = np.zeros(model.shape, dtype=np.complex64)  # (npol, nchan, nrow)
        tidx = np.searchsorted(times, cols["TIME"])
        for fid in np.unique(cols["FIELD_ID"]):
            for ddid in np.unique(cols["DATA_DESC_ID"]):
                rows = np.flatnonzero((cols["FIELD_ID"] == fid) & (cols["DATA_DESC_ID"] == ddid))
                if rows.size == 0:
                    continue
                name, spw = field_names[fid], int(ddid_spw[ddid])
                if name == flux_field.name:
                    true = model[0][:, rows].astype(complex)  # Stokes I model, same in RR and LL
                else:
                    true = visibilities(components[name], cols["UVW"][:, rows], chan_freq[spw],
                                        phase_dir[0, fid], phase_dir[1, fid],
                                        beam if name != fields[1].name else None)
                a1, a2 = cols["ANTENNA1"][rows], cols["ANTENNA2"][rows]
                t = tidx[rows]
                for p in range(len(POLARISATIONS)):
                    j1 = gains.gain[t, a1, spw, p][None, :] * gains.bandpass[a1, spw, :, p].T
                    j2 = gains.gain[t, a2, spw, p][None, :] * gains.bandpass[a2, spw, :, p].T
                    data[p][:, rows] = j1 * true * np.conj(j2)
                samples_per_field[name] += rows.size * chan_freq.shape[1]
        if settings["noise"]["enabled"]:
            data += (noise_rng.normal(0.0, sigma, data.shape)
                     + 1j * noise_rng.normal(0.0, sigma, data.shape)).astype(np.complex64)
        if not np.all(np.isfinite(data)):
            raise CalmodelError("simulation produced non-finite visibilities; check the settings")
        tb.putcol("DATA", data, start, n)
        tb.putcol("SIGMA", np.full((data.shape[0], n), sigma, dtype=np.float32), start, n)
        tb.putcol("WEIGHT", np.full((data.shape[0], n), 1.0 / sigma**2, dtype=np.float32), start, n)
    # The truth lives in truth/, not in the MS; setjy's empty CORRECTED_DATA goes too: an
    # uncalibrated tile has none (an all-zero one was imaged as if calibrated, issue 13 #6).
    tb.removecols([c for c in ("MODEL_DATA", "CORRECTED_DATA") if c in tb.colnames()])
    tb.close()
    noise = {"sigma_jy": sigma, "samples_per_field": samples_per_field,
             "expected_image_rms_jy": {name: expected_image_rms(sigma, n_)
                                       for name, n_ in samples_per_field.items()}}
    return gains, {"fluxcal": fluxcal_info, "noise": noise, "antennas": antennas, "primary_beam": beam,
                   "chan_freq_hz": chan_freq, "nrow": nrow}


# --- truth ----------------------------------------------------------------------------

def write_truth(truth: Path, calibrator: list[Component], sky: list[Component], gains: Gains,
                meta: dict, gain_field: Field, casa) -> None:
    truth.mkdir(parents=True, exist_ok=True)
    columns = ["field", "ra_deg", "dec_deg", "flux_jy", "alpha", "maj_arcsec", "min_arcsec", "pa_deg",
               "ref_freq_hz"]
    with atomic_file(truth / "sky.csv") as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for comp in sky:
            writer.writerow({k: comp.as_row()[k] for k in columns})
    write_json(truth / "calibrator.json", {
        "field": gain_field.name, "ra_deg": gain_field.ra_deg, "dec_deg": gain_field.dec_deg,
        "components": [c.as_row() for c in calibrator],
        "total_flux_jy": sum(c.flux_jy for c in calibrator),
    })
    write_component_list(truth / "calibrator.cl", calibrator)
    if meta["primary_beam"] is not None:
        write_json(truth / "primary_beam.json", meta["primary_beam"].as_record())
    np.savez_compressed(truth / "gains.npz", time_mjd_s=gains.times, gain=gains.gain, bandpass=gains.bandpass,
                        antenna=np.array(meta["antennas"]), polarisation=np.array(POLARISATIONS),
                        chan_freq_hz=meta["chan_freq_hz"])


# --- the stage --------------------------------------------------------------------------

def simulate(out: Path, seed: int, preset: str | None = None, config: Path | None = None,
             overwrite: bool = False) -> SimulateResult:
    started = time.monotonic()
    if preset is None and config is None:
        raise CalmodelError("give --preset NAME or --config FILE")
    settings = load_settings(preset, config)
    obs = observation_settings(settings)
    out = Path(out)
    ms = out / "tile.ms"
    if ms.exists() and not overwrite:
        raise CalmodelError(f"{ms} exists; choose another --out or pass --overwrite")
    out.mkdir(parents=True, exist_ok=True)
    casa_log_to(out / "casa.log")
    casa = casa_tools()

    seeds = np.random.SeedSequence(seed)
    sky_seed, corruption_seed = seeds.spawn(2)
    fields = make_fields(settings, casa)
    calibrator = calibrator_components(settings, fields[1])
    sky = target_sky(settings, fields[2:], np.random.default_rng(sky_seed))
    scans = make_schedule(obs, fields)

    with atomic_dir(ms) as tmp_ms:
        shutil.rmtree(tmp_ms)  # the simulator creates the MS folder itself
        layout_ms(tmp_ms, obs, scans, casa)
        gains, meta = fill_visibilities(tmp_ms, fields, calibrator, sky, settings, obs,
                                        corruption_seed, casa)
    write_truth(out / "truth", calibrator, sky, gains, meta, fields[1], casa)

    n_vis = meta["nrow"] * meta["chan_freq_hz"].shape[1] * len(POLARISATIONS)
    record = stage_record("simulate", {"preset": preset, "config": config, "seed": seed}, {
        "tile": out.name,
        "ms": "tile.ms",
        "fields": {"flux_calibrator": fields[0].name, "gain_calibrator": fields[1].name,
                   "targets": [f.name for f in fields[2:]]},
        "field_positions_deg": {f.name: [f.ra_deg, f.dec_deg] for f in fields},
        "intents": {f.name: INTENTS[f.role] for f in fields},
        "scans": [{"field": s.field.name, "start_s": s.start_s, "stop_s": s.stop_s, "scan": s.number}
                  for s in scans],
        "target_layout": settings["fields"]["targets"]["layout"],
        "spws": [{"id": i, "centre_ghz": c, "chan_freq_hz": meta["chan_freq_hz"][i]}
                 for i, c in enumerate(obs.spw_centres_ghz)],
        "polarisations": list(POLARISATIONS),
        "integration_s": obs.integration_s,
        "n_rows": meta["nrow"],
        "n_visibilities": n_vis,
        "noise_sigma_jy": meta["noise"]["sigma_jy"],
        "expected_image_rms_jy": {f.name: meta["noise"]["expected_image_rms_jy"][f.name] for f in fields},
        "flux_calibrator_model": meta["fluxcal"],
        "truth": {"sky": "truth/sky.csv", "calibrator": "truth/calibrator.json",
                  "calibrator_cl": "truth/calibrator.cl", "gains": "truth/gains.npz",
                  "primary_beam": "truth/primary_beam.json" if meta["primary_beam"] else None},
        "settings": settings,
    }, started)
    write_json(out / "tile.json", record)
    return SimulateResult(ms, out / "tile.json", meta["nrow"], n_vis, meta["noise"]["sigma_jy"])
