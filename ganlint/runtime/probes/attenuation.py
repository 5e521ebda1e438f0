"""GAN101 evidence: how much of the gradient survives a saturating hidden activation."""

from __future__ import annotations

import numpy as np

from ganlint.runtime.probes.base import CONFIRMED, DISMISSED, INCONCLUSIVE, Measurement, finite, rounded


class GradientAttenuation:
    """Gradient RMS of the hidden layer's kernel over that of the next weighted layer, per step.

    Measured (runtime-notes §4): median 0.08-0.10 for a sigmoid hidden layer, 0.40-0.74 for relu.
    The counterfactual is the same ratio at the same weights and batch with the activation swapped
    to relu: only when swapping raises it is the activation the cause.
    """

    CONFIRM_BELOW = 0.2
    DISMISS_ABOVE = 0.3
    MIN_STEPS = 10
    SWAP_GAIN = 2.0

    def measure(self, ratios, swapped: float | None = None, actual: float | None = None) -> Measurement:
        """``ratios``: per-step ratio from training; ``actual``/``swapped``: the counterfactual pair."""
        values = finite(ratios)
        numbers: dict = {"steps": int(values.size)}
        if values.size < self.MIN_STEPS:
            return Measurement(INCONCLUSIVE, f"only {values.size} step(s) with gradients for both layers "
                               f"(need {self.MIN_STEPS})", numbers)
        median = float(np.median(values))
        numbers["rms_ratio_median"] = rounded(median)
        numbers["rms_ratio_range"] = [rounded(values.min()), rounded(values.max())]
        gain = None
        if actual is not None and swapped is not None and actual > 0:
            gain = swapped / actual
            numbers["rms_ratio_fixed_batch"] = rounded(actual)
            numbers["rms_ratio_fixed_batch_relu"] = rounded(swapped)
            numbers["swap_gain"] = rounded(gain)
        if median < self.CONFIRM_BELOW and (gain is None or gain >= self.SWAP_GAIN):
            why = f"the layer passes on {median:.3g} of the next layer's gradient RMS (median over {values.size} steps)"
            if gain is not None:
                why += f"; with relu at the same weights and batch it would pass {gain:.3g}x more"
            return Measurement(CONFIRMED, why, numbers)
        if median > self.DISMISS_ABOVE:
            return Measurement(DISMISSED, f"gradient RMS ratio {median:.3g} (> {self.DISMISS_ABOVE}): "
                               "no attenuation measured in this run", numbers)
        if gain is not None and gain < 1.25 and median >= self.CONFIRM_BELOW:
            return Measurement(DISMISSED, f"swapping the activation for relu changes the ratio only "
                               f"{gain:.3g}x: the activation is not what attenuates", numbers)
        return Measurement(INCONCLUSIVE, f"gradient RMS ratio {median:.3g} is between "
                           f"{self.CONFIRM_BELOW} and {self.DISMISS_ABOVE}"
                           + (f" or relu would gain only {gain:.3g}x" if gain is not None else ""), numbers)
