"""The verdict's criterion, declared in one place with the source of every default.

The defaults were chosen from the sources named here before any tile was judged with them;
tests/test_report_criterion.py pins each one to its source. Change them with the command's
options for your own requirement, never to make a known tile come out a particular way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from calmodel import CalmodelError

from calmodel.core.options import bounded

# Outcomes, most severe first. A check, an image mode, a tile and a scope each get one.
SIGNIFICANT = "significant-change"
DETECTED_WITHIN = "detected-within-tolerance"
NOT_DETECTED = "no-detectable-change"
INSUFFICIENT = "insufficient-data"
VERDICTS = (SIGNIFICANT, DETECTED_WITHIN, NOT_DETECTED, INSUFFICIENT)

SOURCES = {
    "nsigma": (
        "Detection: a paired difference counts as detected beyond 3 x its uncertainty, the "
        "usual detection threshold in radio astronomy (two-sided p = 0.0027 for a normal "
        "error); with ~7 checks per image mode the chance that noise alone detects something "
        "is ~2%."),
    "flux_threshold": (
        "Flux tolerance 3% (fractional, model vs nomodel, Total_flux and Peak_flux, and each "
        "arm against the truth): the flux density calibration accuracy that the VLASS Single "
        "Epoch users guide states (3%); the memo's own yardstick for amplitude structure "
        "(Section 2, > 3% deviation) is the same size. An offset within it is inside what every "
        "catalogue user must already allow for."),
    "rms_fraction": (
        "Offset tolerance 1 x image RMS (absolute mean offset / the nomodel arm's image RMS): "
        "memo Section 4.2 judges the offsets against the typical VLASS image RMS (150 uJy) - "
        "'far below', 'still well below the typical RMS noise', 'the standard deviations of the "
        "distributions are less than the RMS noise' - so the RMS itself is the yardstick; a "
        "systematic offset below it moves no component by more than its own noise."),
    "alpha_threshold": (
        "Spectral index tolerance 0.2: memo Section 4.2, 'the expected uncertainty in spectral "
        "index is ~0.2', against which it judged the alpha offsets (0.014 to 0.073 per tile) "
        "to be in line; a systematic shift below one source's alpha uncertainty, as for flux."),
    "rms_ratio_threshold": (
        "Image noise tolerance 5% (model/nomodel image RMS ratio): the self-calibration "
        "heuristics of the memo's prototype (auto_selfcal, memo footnote 1; the CASA pipeline "
        "self-calibration) treat an RMS change beyond 5% as a real change in image quality."),
    "min_components": (
        "At least 10 components in a fit: with fewer, the fitted spread has a relative error "
        "above 1/sqrt(2 x 9) = 24%, the +-3 sigma clipping cannot tell the memo's spurious "
        "outliers from the core, and the error of a mean is no longer close to normal; the "
        "memo's fits used hundreds to thousands of components."),
    "scope_ratio": (
        "Scope: memo Section 5 - its conclusion covers calibrators whose central component "
        "is > 10 x the flux density of any secondary component; a tile whose calibrator's "
        "brightest component is not > 10 x the next is outside it (e.g. co-equal doubles)."),
}


@dataclass(frozen=True)
class Criterion:
    nsigma: float = bounded(3.0, low=0, low_open=True)
    flux_threshold: float = bounded(0.03, low=0)
    rms_fraction: float = bounded(1.0, low=0)
    alpha_threshold: float = bounded(0.2, low=0)
    rms_ratio_threshold: float = bounded(0.05, low=0)
    min_components: int = bounded(10, low=3)
    scope_ratio: float = bounded(10.0, low=1)

    def validate(self) -> None:
        if self.nsigma <= 0:
            raise CalmodelError(f"--nsigma must be positive, not {self.nsigma:g}")
        for name in ("flux_threshold", "rms_fraction", "alpha_threshold", "rms_ratio_threshold"):
            if getattr(self, name) < 0:
                raise CalmodelError(f"--{name.replace('_', '-')} must not be negative")
        if self.min_components < 3:
            raise CalmodelError("--min-components must be at least 3 (a fit needs 3)")

    def parameters(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        return (
            f"Per tile and image mode (QL, SE), each quantity is a paired difference over the "
            f"same matched components (model - nomodel), or the model/nomodel image RMS ratio. "
            f"It is DETECTED when |value| > {self.nsigma:g} x its uncertainty, and PRACTICALLY "
            f"SIGNIFICANT when also beyond its tolerance: fractional Total_flux/Peak_flux offset "
            f"{self.flux_threshold * 100:g}%, offset / image RMS {self.rms_fraction:g}, alpha "
            f"offset {self.alpha_threshold:g}, image RMS ratio {self.rms_ratio_threshold * 100:g}% "
            f"from 1, arm-vs-truth flux difference {self.flux_threshold * 100:g}%. Outcome: "
            f"'{SIGNIFICANT}' if any quantity is detected and beyond its tolerance, else "
            f"'{DETECTED_WITHIN}' if any is detected, else '{NOT_DETECTED}'; "
            f"'{INSUFFICIENT}' for a fit of fewer than {self.min_components} components (such "
            f"a quantity is not judged). A tile takes its most severe mode. Tiles are in scope "
            f"when their gain calibrator's brightest component is > {self.scope_ratio:g} x the "
            f"next (memo Section 5); in-scope, out-of-scope and unknown-scope tiles are combined "
            f"and judged separately, never together.")

    def as_dict(self) -> dict:
        return {"text": self.text(), **self.parameters(), "sources": dict(SOURCES),
                "verdicts": list(VERDICTS)}
