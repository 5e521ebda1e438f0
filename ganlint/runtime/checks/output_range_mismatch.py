from __future__ import annotations

from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.recorder import median, rounded
from ganlint.runtime.result import Verdict


class OutputRangeMismatchCheck(Check):
    """
    `ganlint profile` trains on the script's own data, as its preprocessing leaves it, and records
    the range of every real batch the discriminator sees and of every batch the generator makes,
    with the share of values below -1, below 0 and above 1. Confirmed when the two can be told
    apart by range or sign alone: most real values lie outside what the generator's output can
    reach (pixels in [0, 255] against a tanh), or the real data never changes sign while the
    generator's outputs do (or the reverse); dismissed when the real data lies in the generator's
    range. Tags: `data/real_min`, `data/real_max`, `G/out_min`, `G/out_max`.
    """

    CODE = "GAN102"
    NEEDS = frozenset({Capture.DATA, Capture.OUTPUTS})
    OUTSIDE = 0.5  # share of real values out of the generator's reach
    SIGN = 0.2  # share of values of a sign the other side never has

    def judge(self, run: Run) -> Verdict:
        real = {s: run.series(f"data/real_{s}") for s in ("min", "max", "below_minus_1", "below_0", "above_1")}
        fake = {s: run.series(f"G/out_{s}") for s in ("min", "max", "below_minus_1", "below_0", "above_1")}
        tags = ["data/real_min", "data/real_max", "G/out_min", "G/out_max"]
        if not real["min"] or not fake["min"]:
            return self.inconclusive("the real batches or the generator's outputs were not seen during the run",
                                     {}, tags)
        low, high = self._reach(fake)
        numbers = {"real_range": [rounded(min(real["min"])), rounded(max(real["max"]))],
                   "generator_range": [rounded(min(fake["min"])), rounded(max(fake["max"]))],
                   "generator_reach": [low, high]}
        outside = 0.0
        if high == 1.0:
            outside += median(real["above_1"])
        if low == -1.0:
            outside += median(real["below_minus_1"])
        elif low == 0.0:
            outside += median(real["below_0"])
        numbers["real_share_out_of_reach"] = rounded(outside)
        if outside > self.OUTSIDE:
            return self.confirmed(f"{outside:.0%} of the real values lie outside [{low:g}, {high:g}], which the "
                                  f"generator's output cannot leave: the discriminator tells them apart by range",
                                  numbers, tags)
        real_negative, fake_negative = median(real["below_0"]), median(fake["below_0"])
        numbers.update({"real_share_negative": rounded(real_negative),
                        "generator_share_negative": rounded(fake_negative)})
        if real_negative == 0.0 and fake_negative > self.SIGN:
            return self.confirmed(f"the real data is never negative while {fake_negative:.0%} of the generator's "
                                  "values are: the sign alone separates them", numbers, tags)
        if fake_negative == 0.0 and real_negative > self.SIGN:
            return self.confirmed(f"{real_negative:.0%} of the real values are negative, which the generator's "
                                  "output never is: the sign alone separates them", numbers, tags)
        return self.dismissed(f"the real data lies in the generator's range [{low:g}, {high:g}]", numbers, tags)

    def _reach(self, fake: dict) -> tuple[float, float]:
        """The interval the generator's output activation maps into (from the finding), else what
        it produced."""
        reach = ((self.subject.get("generator") or {}).get("range"))
        if reach and len(reach) == 2 and None not in reach:
            return float(reach[0]), float(reach[1])
        return float(min(fake["min"])), float(max(fake["max"]))
