"""GAN202 evidence: the labels that actually reached each loss call."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ganlint.runtime.probes.base import CONFIRMED, DISMISSED, INCONCLUSIVE, Measurement, rounded


class LabelSmoothing:
    """Given per-call-site label statistics (per step: min, max, mean), decide whether the labels
    meant to be smoothed to ``constant`` are still exactly 0.

    Confirmed when no call site ever received labels near ``constant`` while some site received
    labels that were exactly 0 on every step; dismissed when a site received labels with mean
    ``constant`` (the smoothing works).
    """

    TOLERANCE = 1e-3

    def measure(self, sites: Mapping[str, Mapping[str, Sequence[float]]], constant: float | None) -> Measurement:
        if not sites:
            return Measurement(INCONCLUSIVE, "no loss call was observed (functional losses are not intercepted)", {})
        summary = {}
        zero_sites, smoothed_sites = [], []
        for site, stats in sites.items():
            lo = np.asarray(stats.get("min", ()), dtype=np.float64)
            hi = np.asarray(stats.get("max", ()), dtype=np.float64)
            mean = np.asarray(stats.get("mean", ()), dtype=np.float64)
            if not mean.size:
                continue
            summary[site] = {"min": rounded(lo.min()), "max": rounded(hi.max()), "mean": rounded(mean.mean()),
                             "steps": int(mean.size)}
            if np.all(lo == 0.0) and np.all(hi == 0.0):
                zero_sites.append(site)
            if constant is not None and np.all(np.abs(mean - constant) < self.TOLERANCE) \
                    and np.all(np.abs(lo - constant) < self.TOLERANCE):
                smoothed_sites.append(site)
        numbers = {"label_sites": summary, "intended_constant": constant}
        if smoothed_sites:
            return Measurement(DISMISSED, f"labels of {constant} reached {', '.join(smoothed_sites)}", numbers)
        if zero_sites and constant not in (None, 0, 0.0):
            steps = max(summary[s]["steps"] for s in zero_sites)
            return Measurement(CONFIRMED, f"no loss call received labels of {constant}; "
                               f"{', '.join(zero_sites)} received labels that were exactly 0 "
                               f"(min 0, max 0) on all {steps} steps", numbers)
        return Measurement(INCONCLUSIVE, "no call site received either all-zero or smoothed labels", numbers)
