from __future__ import annotations

from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.recorder import median, rounded
from ganlint.runtime.result import Verdict


class GradientPenaltyInterpolationCheck(Check):
    """
    `ganlint profile` recovers the interpolation weight from the images the critic is called on
    inside the penalty's tape: for x = real + alpha (fake - real), alpha = (x - real) / (fake - real),
    element by element. It reports alpha's spread within each sample (0 when alpha is drawn per sample)
    and its range (inside [0, 1] when drawn from U[0, 1]). Confirmed when alpha varies within a sample
    or leaves [0, 1]; dismissed when it is one number per sample, inside [0, 1]. Tags:
    `GAN501/alpha/within_sample_std`, `GAN501/alpha/min`, `GAN501/alpha/max`.
    """

    CODE = "GAN501"
    NEEDS = frozenset({Capture.OUTPUTS})
    PER_SAMPLE_BELOW = 1e-3
    MARGIN = 0.01

    def judge(self, run: Run) -> Verdict:
        spread, low, high = (run.series(f"GAN501/alpha/{s}") for s in ("within_sample_std", "min", "max"))
        tags = ["GAN501/alpha/within_sample_std", "GAN501/alpha/min", "GAN501/alpha/max", "D/out/interpolated"]
        if not spread:
            return self.inconclusive("the critic was never called on interpolated images inside a tape that "
                                     "watches them", {}, tags)
        numbers = {"steps": len(spread), "within_sample_std_median": rounded(median(spread)),
                   "alpha_min": rounded(min(low)), "alpha_max": rounded(max(high))}
        problems = []
        if median(spread) > self.PER_SAMPLE_BELOW:
            problems.append(f"alpha varies within a sample (median spread {median(spread):.3g}): it was drawn per "
                            "element, not per sample")
        if min(low) < -self.MARGIN or max(high) > 1 + self.MARGIN:
            problems.append(f"alpha ranged over [{min(low):.3g}, {max(high):.3g}], outside [0, 1]: the points are not "
                            "between the real and the fake sample")
        if problems:
            return self.confirmed("; ".join(problems), numbers, tags)
        return self.dismissed("alpha is one number per sample, inside [0, 1]", numbers, tags)
