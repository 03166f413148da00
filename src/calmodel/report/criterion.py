"""The verdict's criterion, declared in one place."""

from __future__ import annotations

from dataclasses import dataclass

from calmodel import CalmodelError

from calmodel.report.summaries import TRUTH_MIN_BRIGHT

VERDICTS = ("significant-change", "no-significant-change", "not-evaluated")


@dataclass(frozen=True)
class Criterion:
    nsigma: float = 3.0
    # A survey's absolute flux-scale uncertainty is a few %: an offset between the arms below
    # it is not a scientific change, however precisely thousands of components measure it.
    flux_threshold: float = 0.03  # fractional
    alpha_threshold: float = 0.05
    rms_fraction: float = 0.5  # a flux offset must also exceed this fraction of the image RMS

    def text(self) -> str:
        n, f, a = self.nsigma, self.flux_threshold, self.alpha_threshold
        return (
            f"A tile is 'significant-change' if, in any image mode (QL or SE): "
            f"(1) the mean fractional offset (model - nomodel) / nomodel of the matched "
            f"components' Total_flux or Peak_flux has |mean| > {n:g} x its uncertainty and "
            f"|mean| > {f:g} ({f * 100:g}%) and the mean offset in Jy exceeds "
            f"{self.rms_fraction:g} x the image RMS (where image.json gives it: the memo judged "
            f"offsets against the image noise, so a tiny but precisely measured offset is not "
            f"a scientific change); or "
            f"(2) against the simulated truth, the two arms' median flux ratios "
            f"(measured / true Total_flux) differ by more than {n:g} x their combined "
            f"uncertainty and by more than {f:g}; or "
            f"(3) the mean spectral index offset (model - nomodel) has |mean| > {n:g} x its "
            f"uncertainty and |mean| > {a:g}. "
            f"Otherwise 'no-significant-change'; 'not-evaluated' when no compare.json gives a "
            f"number to test. A tile's offsets combine its fields' compare.json records "
            f"(inverse-variance weighted mean, error scaled up by sqrt(chi2/dof) when the "
            f"fields disagree); the overall verdict applies the same test to all tiles "
            f"combined that way and is also 'significant-change' when any tile is.")

    def as_dict(self) -> dict:
        return {
            "text": self.text(),
            "nsigma": self.nsigma,
            "flux_threshold_fractional": self.flux_threshold,
            "alpha_threshold": self.alpha_threshold,
            "rms_fraction": self.rms_fraction,
            "flux_quantities": ["Total_flux", "Peak_flux"],
            "flux_offset": "Gaussian-core fit of (model - nomodel) / nomodel over matched "
                           "components (compare.json differences.<q>.fractional_difference)",
            "alpha_offset": "Gaussian-core fit of Alpha model - nomodel "
                            "(compare.json differences.Alpha.difference)",
            "truth_flux_ratio": f"median measured/true Total_flux of components with true peak "
                                f"S/N >= the compare bright_snr (flux_ratio_bright) when both "
                                f"arms have >= {TRUTH_MIN_BRIGHT}, else of all matched "
                                f"(flux_ratio); uncertainty = compare's median_err, combined "
                                f"in quadrature for the difference",
            "combination": "inverse-variance weighted mean; error x max(1, sqrt(chi2/dof)); "
                           "sigma = rms of the pooled components about the combined mean",
            "overall": "same test on all tiles combined, or any tile significant-change",
            "verdicts": list(VERDICTS),
        }

    def validate(self) -> None:
        if (self.nsigma <= 0 or self.flux_threshold < 0 or self.alpha_threshold < 0
                or self.rms_fraction < 0):
            raise CalmodelError("--nsigma must be positive and the thresholds not negative")

    def parameters(self) -> dict:
        return {"nsigma": self.nsigma, "flux_threshold": self.flux_threshold,
                "alpha_threshold": self.alpha_threshold, "rms_fraction": self.rms_fraction}
