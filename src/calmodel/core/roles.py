"""Which field plays which part: one rule for characterize, build-model and calibrate.

A role is taken from what the user named, else from the scan intents; each choice
carries the reason it was made, so that a record can say why a field was used.

    flux calibrator      named, else the first CALIBRATE_FLUX field, else the first
                         CALIBRATE_BANDPASS field (a field observed for the bandpass
                         only is still the flux calibrator of a block without one)
    bandpass calibrator  named, else the first CALIBRATE_BANDPASS field, else the first
                         CALIBRATE_FLUX field
    gain calibrators     named, else the CALIBRATE_PHASE/CALIBRATE_AMPLI fields (field
                         order) that are neither flux nor bandpass calibrators by intent
                         nor the chosen bandpass calibrator
    targets              named, else the OBSERVE_TARGET fields, else every other field

An MS without intents (e.g. imported from UVFITS, as archival VLA data often are):

    flux calibrator      named, else the first field whose name is one of the standard flux
                         calibrators setjy knows (3C286, 3C48, 3C147, 3C138 with their
                         J2000/B1950 names, :func:`calmodel.core.fluxcal.canonical_name`),
                         else the first field whose phase centre (in J2000) lies within
                         ``POSITION_TOLERANCE_ARCMIN`` (1') of one of their J2000 positions
                         (:func:`calmodel.core.fluxcal.calibrator_at`)
    bandpass calibrator  named, else the flux calibrator
    gain calibrators     named, else every other field that is observed in at least
                         ``MIN_GAIN_SCANS`` scans which bracket a scan of another (non-flux)
                         field whose median scan is longer: the phase-referencing pattern
                         cal-target-cal, with the calibrator's scans the short ones
    targets              named, else every field that is neither of the above

A calibrator-only observation: an MS without intents whose only field is not a standard flux
calibrator (3C273XC1.fits) has that field as its gain calibrator and no targets; the
workflow then characterises it and builds its model, and calibrates and images nothing.

The rule uses only the field and scan tables, so it is the same for any archival block; a calibrator
observed once (no bracketing) is not taken as a gain calibrator.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from pathlib import Path

import numpy as np

from calmodel import CalmodelError
from calmodel.core.fluxcal import POSITION_TOLERANCE_ARCMIN, calibrator_at, canonical_name
from calmodel.core.ms import Scan, field_names, field_positions_j2000, fields_by_intent, scans

FLUX_INTENTS = ("CALIBRATE_FLUX", "CALIBRATE_BANDPASS")
BANDPASS_INTENTS = ("CALIBRATE_BANDPASS", "CALIBRATE_FLUX")
GAIN_INTENTS = ("CALIBRATE_PHASE", "CALIBRATE_AMPLI")
TARGET_INTENT = "OBSERVE_TARGET"
# Without intents, a gain calibrator must bracket another field's scan: two scans at least.
MIN_GAIN_SCANS = 2


@dataclass(frozen=True)
class FieldRoles:
    """The fields of one MS by role, and why each was chosen (role -> reason)."""

    ms: Path
    fields: list[str]
    has_intents: bool
    flux_calibrator: str | None
    bandpass_calibrator: str | None
    gain_calibrators: list[str]
    targets: list[str]
    reasons: dict[str, str] = dc_field(default_factory=dict)

    def require(self, role: str, option: str) -> str | list[str]:
        """The field(s) of ``role`` ('flux_calibrator', 'gain_calibrators', ...), or a
        CalmodelError that names the option that would supply them."""
        value = getattr(self, role)
        if value:
            return value
        label = role.replace("_", " ")
        raise CalmodelError(f"no {label} in {self.ms} ({self.reasons[role]}); name it with {option} "
                            f"(fields: {', '.join(self.fields)})")


def _with_intent(intents: dict[str, list[str]], names: list[str], wanted: tuple[str, ...]) -> list[str]:
    """Fields observed with any intent whose name contains one of ``wanted``, in the order
    of ``wanted`` and then of the intents (the first field is the preferred one)."""
    found: list[str] = []
    for substring in wanted:
        for intent, fields in intents.items():
            if substring in intent:
                found.extend(f for f in fields if f not in found)
    return found


def _check_named(named: str | None, names: list[str], ms: Path, role: str) -> None:
    if named is not None and named not in names:
        raise CalmodelError(f"{role} field '{named}' not in {ms} (fields: {', '.join(names)})")


def _calibrator_by_intent(intents: dict[str, list[str]], names: list[str], wanted: tuple[str, ...],
                          named: str | None) -> tuple[str | None, str]:
    """(field, reason) for a flux or bandpass calibrator."""
    if named is not None:
        return named, "named"
    found = _with_intent(intents, names, wanted)
    if found:
        return found[0], f"first field with intent {' or '.join(wanted)}"
    return None, f"no field with intent {' or '.join(wanted)}" if intents else "the MS has no scan intents"


def _flux_by_name_or_position(ms: Path, names: list[str], named: str | None) -> tuple[str | None, str]:
    """(field, reason) for the flux calibrator of an MS without scan intents: by name first,
    then by position."""
    if named is not None:
        return named, "named"
    for name in names:
        source = canonical_name(name)
        if source is not None:
            return name, f"no scan intents; the name '{name}' is the standard flux calibrator {source}"
    positions = field_positions_j2000(ms)
    for name in names:
        match = calibrator_at(*positions[name])
        if match is not None:
            source, separation = match
            ra, dec = positions[name]
            return name, (f"no scan intents; the phase centre of '{name}' (J2000 {ra:.5f} {dec:+.5f} deg) is "
                          f"{separation * 60:.1f} arcsec from the standard flux calibrator {source} "
                          f"(tolerance {POSITION_TOLERANCE_ARCMIN:g} arcmin)")
    return None, ("no scan intents, and no field named as, or within "
                  f"{POSITION_TOLERANCE_ARCMIN:g} arcmin of, a standard flux calibrator (3C286, 3C48, 3C147, 3C138)")


def _median_scan(scan_list: list[Scan], field: str) -> float:
    return float(np.median([s.duration_s for s in scan_list if s.field == field]))


def _interleaved_calibrators(scan_list: list[Scan], candidates: list[str]) -> tuple[list[str], str]:
    """Fields among ``candidates`` observed in short scans that bracket a longer-scanned field."""
    found: list[str] = []
    why: list[str] = []
    for name in candidates:
        own = [s for s in scan_list if s.field == name]
        if len(own) < MIN_GAIN_SCANS:
            continue
        first, last = own[0].start_s, own[-1].start_s
        mine = _median_scan(scan_list, name)
        bracketed = sorted({s.field for s in scan_list if first < s.start_s < last
                            and s.field != name and s.field in candidates})
        longer = [f for f in bracketed if _median_scan(scan_list, f) > mine]
        if longer:
            found.append(name)
            why.append(f"'{name}': {len(own)} scans (median {mine:.0f} s) bracketing the longer scans of "
                       + ", ".join(f"'{f}' (median {_median_scan(scan_list, f):.0f} s)" for f in longer))
    if found:
        return found, "no scan intents; short scans interleaved with a longer-scanned field: " + "; ".join(why)
    return [], ("no scan intents, and no field other than the flux calibrator is observed in "
                f">= {MIN_GAIN_SCANS} short scans bracketing a longer-scanned field")


def field_roles(ms: Path, flux: str | None = None, bandpass: str | None = None,
                gain: list[str] | None = None, targets: list[str] | None = None) -> FieldRoles:
    """The fields of ``ms`` by role (see the module docstring); named fields are checked."""
    ms = Path(ms)
    names = field_names(ms)
    intents = fields_by_intent(ms)
    for role, named in [("flux", flux), ("bandpass", bandpass)] + [("gain", g) for g in gain or []] \
            + [("target", t) for t in targets or []]:
        _check_named(named, names, ms, role)
    reasons: dict[str, str] = {}
    if not intents:
        return _roles_without_intents(ms, names, flux, bandpass, gain, targets)
    flux_cal, reasons["flux_calibrator"] = _calibrator_by_intent(intents, names, FLUX_INTENTS, flux)
    bp_cal, reasons["bandpass_calibrator"] = _calibrator_by_intent(intents, names, BANDPASS_INTENTS,
                                                                    bandpass)
    if gain:
        gaincals, reasons["gain_calibrators"] = list(gain), "named"
    else:
        by_intent = _with_intent(intents, names, GAIN_INTENTS)
        flux_or_bandpass = _with_intent(intents, names, BANDPASS_INTENTS)
        gaincals = [f for f in names if f in by_intent and f not in flux_or_bandpass and f != bp_cal]
        reasons["gain_calibrators"] = (
            f"fields with intent {' or '.join(GAIN_INTENTS)}, not flux/bandpass calibrators" if gaincals
            else f"no field with intent {' or '.join(GAIN_INTENTS)} that is not a flux/bandpass "
                 "calibrator" if intents else "the MS has no scan intents")
    if targets:
        target_fields, reasons["targets"] = list(targets), "named"
    else:
        target_fields = _with_intent(intents, names, (TARGET_INTENT,))
        reasons["targets"] = f"fields with intent {TARGET_INTENT}"
        if not target_fields:
            used = {flux_cal, *gaincals[:1]}
            target_fields = [n for n in names if n not in used]
            reasons["targets"] = "every field that is not the flux or the (first) gain calibrator"
    return FieldRoles(ms, names, bool(intents), flux_cal, bp_cal, gaincals, target_fields, reasons)


def _roles_without_intents(ms: Path, names: list[str], flux: str | None, bandpass: str | None,
                           gain: list[str] | None, targets: list[str] | None) -> FieldRoles:
    """The roles of an MS without scan intents (see the module docstring)."""
    reasons: dict[str, str] = {}
    flux_cal, reasons["flux_calibrator"] = _flux_by_name_or_position(ms, names, flux)
    if bandpass is not None:
        bp_cal, reasons["bandpass_calibrator"] = bandpass, "named"
    else:
        bp_cal = flux_cal
        reasons["bandpass_calibrator"] = ("no scan intents; the flux calibrator" if flux_cal
                                          else "no scan intents and no flux calibrator")
    if gain:
        gaincals, reasons["gain_calibrators"] = list(gain), "named"
    elif len(names) == 1 and flux_cal is None:
        gaincals = list(names)
        reasons["gain_calibrators"] = (f"no scan intents; '{names[0]}' is the only field of the MS and not a "
                                       "standard flux calibrator: a calibrator-only observation")
    else:
        candidates = [n for n in names if n not in (flux_cal, bp_cal)]
        gaincals, reasons["gain_calibrators"] = _interleaved_calibrators(scans(ms), candidates)
    if targets:
        target_fields, reasons["targets"] = list(targets), "named"
    else:
        target_fields = [n for n in names if n not in {flux_cal, bp_cal, *gaincals}]
        reasons["targets"] = ("no scan intents; every field that is not a flux, bandpass or gain calibrator"
                              + ("" if target_fields else ": none (a calibrator-only observation)"))
    return FieldRoles(ms, names, False, flux_cal, bp_cal, gaincals, target_fields, reasons)
