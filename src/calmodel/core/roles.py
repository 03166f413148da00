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

An MS without intents (e.g. imported from UVFITS) gets only what was named. Recognising
the standard flux calibrators by name (3C286, 3C48, 3C147, 3C138:
:func:`calmodel.core.fluxcal.canonical_name`) belongs in :func:`_calibrator_by_intent`'s
place for such an MS; nothing else needs to change for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from pathlib import Path

from calmodel import CalmodelError
from calmodel.core.ms import field_names, fields_by_intent

FLUX_INTENTS = ("CALIBRATE_FLUX", "CALIBRATE_BANDPASS")
BANDPASS_INTENTS = ("CALIBRATE_BANDPASS", "CALIBRATE_FLUX")
GAIN_INTENTS = ("CALIBRATE_PHASE", "CALIBRATE_AMPLI")
TARGET_INTENT = "OBSERVE_TARGET"


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
