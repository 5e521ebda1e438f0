from __future__ import annotations

import math

from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.result import Verdict


class NonFiniteCheck(Check):
    """
    Runs on every profile. Confirmed when a loss, a gradient norm or a gradient entry becomes NaN
    or infinite, with the step where each first did; dismissed when every measured value stayed
    finite.
    """

    CODE = "non-finite"
    TITLE = "NaN or Inf in losses or gradients"
    NEEDS = frozenset({Capture.GRADIENTS, Capture.LOSSES})

    def judge(self, run: Run) -> Verdict:
        first: dict[str, int] = {}
        recorder = run.recorder
        for tag in recorder.tags():
            watched = tag.endswith("grad_norm/global") or tag.startswith("losses/") or tag.endswith("_nonfinite")
            if not watched:
                continue
            for step, value in recorder.points(tag):
                bad = value > 0 if tag.endswith("_nonfinite") else not math.isfinite(value)
                if bad:
                    first[tag] = step
                    break
        if first:
            ordered = sorted(first.items(), key=lambda item: item[1])
            return self.confirmed("non-finite values: " + ", ".join(f"{t} from step {s}" for t, s in ordered[:4]),
                                  {"first_non_finite_step": dict(ordered)}, sorted(first))
        return self.dismissed("every measured value was finite")
