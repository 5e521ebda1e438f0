from __future__ import annotations

from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.result import Verdict


class NonPersistentTapeReusedCheck(Check):
    """
    `ganlint profile` records the flagged second `gradient` call on the tape. Confirmed with the
    `RuntimeError` TensorFlow raises (`A non-persistent GradientTape can only be used to compute
    one set of gradients`); dismissed when the call returned gradients (the tape was persistent at
    runtime after all).
    """

    CODE = "GAN305"
    NEEDS = frozenset({Capture.TAPES})
    JUDGES_FAILED_RUNS = True

    def judge(self, run: Run) -> Verdict:
        line, calls = self.flagged_gradient_calls(run)
        if not calls:
            return self.inconclusive(f"the gradient call at line {line} never ran")
        failed = [c for c in calls if c.error]
        if failed:
            return self.confirmed(f"the second `gradient` call raised {failed[0].error}",
                                  {"error": failed[0].error, "persistent": failed[0].persistent})
        return self.dismissed("the call returned its gradients", {"persistent": calls[0].persistent})
