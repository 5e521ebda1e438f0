"""Gradient-series probes: spikes (GAN301), None gradients, discriminator collapse, non-finite values."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ganlint.runtime.probes.base import CONFIRMED, DISMISSED, INCONCLUSIVE, Measurement, rounded


class GradientSpikes:
    """Spike ratio ``g[t] / median(g[t-10:t])`` and max/median of a network's global gradient norm.

    Measured (runtime-notes §8): healthy runs stay at spike <= 1.7 and max/median <= 2.7; runs
    that need clipping reach spike 5-1e14 or max/median > 9. Any non-finite norm confirms.
    """

    WINDOW = 10
    MIN_WINDOW = 5
    CONFIRM_SPIKE = 5.0
    CONFIRM_MAX_MEDIAN = 10.0
    DISMISS_SPIKE = 2.0
    DISMISS_MAX_MEDIAN = 4.0
    MIN_STEPS = 20

    def measure(self, norms: Sequence[float]) -> Measurement:
        g = np.asarray(norms, dtype=np.float64).reshape(-1)
        numbers: dict = {"steps": int(g.size)}
        if g.size and not np.all(np.isfinite(g)):
            first = int(np.argmax(~np.isfinite(g)))
            numbers["first_non_finite_step"] = first
            return Measurement(CONFIRMED, f"the gradient norm became non-finite at step {first}", numbers)
        if g.size < self.MIN_STEPS:
            return Measurement(INCONCLUSIVE, f"only {g.size} step(s) of gradient norms (need {self.MIN_STEPS})",
                               numbers)
        zero = float(np.mean(g == 0.0))
        spikes = []
        for t in range(self.MIN_WINDOW, g.size):  # the window grows to WINDOW over the first steps
            base = np.median(g[max(0, t - self.WINDOW):t])
            if base > 0:
                spikes.append(g[t] / base)
        spike = float(max(spikes)) if spikes else float("nan")
        nonzero = g[g > 0]
        median = float(np.median(nonzero)) if nonzero.size else 0.0
        if zero > 0.5 and not spike > self.CONFIRM_SPIKE:
            numbers["zero_fraction"] = rounded(zero)
            return Measurement(INCONCLUSIVE, f"the gradient norm was exactly 0 on {zero:.0%} of steps: the network "
                               "stopped learning, which hides whether it would explode", numbers)
        max_median = float(g.max() / median) if median > 0 else float("nan")
        if zero:
            numbers["zero_fraction"] = rounded(zero)
        numbers.update({"norm_median": rounded(median), "norm_max": rounded(g.max()),
                        "max_over_median": rounded(max_median), "spike_ratio": rounded(spike)})
        if spike > self.CONFIRM_SPIKE or max_median > self.CONFIRM_MAX_MEDIAN:
            return Measurement(CONFIRMED, f"gradient norm spiked to {spike:.3g}x its recent median "
                               f"(max/median {max_median:.3g}; thresholds {self.CONFIRM_SPIKE} / "
                               f"{self.CONFIRM_MAX_MEDIAN})", numbers)
        if spike < self.DISMISS_SPIKE and max_median < self.DISMISS_MAX_MEDIAN:
            return Measurement(DISMISSED, f"gradient norm stayed steady (spike {spike:.3g}x, max/median "
                               f"{max_median:.3g}) over {g.size} steps", numbers)
        return Measurement(INCONCLUSIVE, f"spike {spike:.3g}x, max/median {max_median:.3g}: between the "
                           "healthy and exploding ranges", numbers)


class NoneGradients:
    """Variables whose gradient was None when it reached the optimizer."""

    def measure(self, none_variables: Mapping[str, Sequence[str]]) -> Measurement:
        missing = {role: sorted(names) for role, names in none_variables.items() if names}
        if missing:
            total = sum(len(v) for v in missing.values())
            listed = "; ".join(f"{role}: {', '.join(names[:4])}{' ...' if len(names) > 4 else ''}"
                               for role, names in missing.items())
            return Measurement(CONFIRMED, f"{total} variable(s) never received a gradient ({listed})",
                               {"none_gradient_variables": missing})
        return Measurement(DISMISSED, "every variable received a gradient", {})


class DiscriminatorCollapse:
    """D's gradient exactly 0 on more than 10% of steps, or its loss falling to 0."""

    ZERO_FRACTION = 0.1
    LOSS_FLOOR = 1e-4

    def measure(self, d_norms: Sequence[float], d_losses: Sequence[float] = ()) -> Measurement:
        g = np.asarray(d_norms, dtype=np.float64).reshape(-1)
        if g.size == 0:
            return Measurement(INCONCLUSIVE, "no discriminator gradients were measured", {})
        zero = float(np.mean(g == 0.0))
        numbers = {"steps": int(g.size), "zero_gradient_fraction": rounded(zero)}
        losses = np.asarray(d_losses, dtype=np.float64).reshape(-1)
        tail = losses[-max(1, losses.size // 4):] if losses.size else losses
        if tail.size:
            numbers["final_loss_median"] = rounded(float(np.median(tail)))
        if zero > self.ZERO_FRACTION:
            return Measurement(CONFIRMED, f"the discriminator's gradient was exactly 0 on {zero:.0%} of steps",
                               numbers)
        if tail.size and np.all(np.abs(tail) < self.LOSS_FLOOR) and g[-1] < 1e-6:
            return Measurement(CONFIRMED, "the discriminator's loss fell to 0 and its gradient vanished", numbers)
        return Measurement(DISMISSED, "the discriminator kept a non-zero gradient", numbers)


class NonFinite:
    """Any NaN or Inf among the measured series (losses, gradient norms, outputs)."""

    def measure(self, series: Mapping[str, Sequence[float]]) -> Measurement:
        bad = {}
        for tag, values in series.items():
            array = np.asarray(values, dtype=np.float64).reshape(-1)
            if array.size and not np.all(np.isfinite(array)):
                bad[tag] = int(np.argmax(~np.isfinite(array)))
        if bad:
            first = sorted(bad.items(), key=lambda item: item[1])
            return Measurement(CONFIRMED, "non-finite values: " + ", ".join(f"{t} from step {s}" for t, s in first[:4]),
                               {"first_non_finite_step": dict(first)}, tags=sorted(bad))
        return Measurement(DISMISSED, "every measured value was finite", {})
