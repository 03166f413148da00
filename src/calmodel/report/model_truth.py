"""The calibrator model against the simulated calibrator (simulated tiles only): how much of
each true component's flux the model holds.

Each model pixel (build_model.json ``components``, negative ones included: they are part of
the model that calibrate uses) goes to its nearest true component, and each true
component's model flux is the sum of its pixels. The ratios, model / truth, are a diagnostic
shown beside the verdict, not a criterion: the model's flux scale is that of its starting
calibration (docs/build-model.md), so the total can be off by the bootstrap's error while
the ratios between components, the model's structure, cannot.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from calmodel.report.scope import component_list, truth_calibrator, unit_vectors


def model_against_truth(simulation, build_model) -> dict | None:
    """Per true component, brightest first: its flux, the model's flux assigned to it and
    their ratio; and the totals. None unless the tile has both a truth and a model."""
    truth = truth_calibrator(simulation)
    # negative pixels too: they are part of the model that calibrate uses
    pixels = component_list(build_model.data.get("components"), positive_only=False) if build_model else []
    if truth is None or not pixels:
        return None
    components = sorted(truth[0], key=lambda c: -c[2])
    true_ra, true_dec, true_flux = (np.array(c) for c in zip(*components))
    ra, dec, flux = (np.array(c) for c in zip(*pixels))
    _, nearest = cKDTree(unit_vectors(true_ra, true_dec)).query(unit_vectors(ra, dec))
    held = np.bincount(nearest, weights=flux, minlength=len(components))
    return {"source": truth[1],
            "components": [{"truth_flux_jy": float(t), "model_flux_jy": float(m), "ratio": float(m / t)}
                           for t, m in zip(true_flux, held)],
            "truth_total_jy": float(true_flux.sum()), "model_total_jy": float(flux.sum()),
            "total_ratio": float(flux.sum() / true_flux.sum())}
