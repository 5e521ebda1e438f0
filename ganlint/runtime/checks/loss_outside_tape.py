from __future__ import annotations

from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.recorder import OptimizerApply
from ganlint.runtime.result import Verdict


class LossOutsideTapeCheck(Check):
    """
    `ganlint profile` watches the flagged `tape.gradient` call: which of its gradients come back
    None, and what the `apply_gradients` that follows does with them. Confirmed when every
    gradient of that call is None (a tape returns None for a target it did not record), with
    Keras's `No gradients provided for any variable` error when the step raised it; dismissed when
    the call returned gradients. A step that raises is evidence too: the verdict is given even when
    no training step completed.
    """

    CODE = "GAN302"
    NEEDS = frozenset({Capture.TAPES, Capture.GRADIENTS})
    JUDGES_FAILED_RUNS = True

    def judge(self, run: Run) -> Verdict:
        line, calls = self.flagged_gradient_calls(run)
        if not calls:
            return self.inconclusive(f"the gradient call at line {line} never ran")
        numbers: dict[str, int | str] = {"gradient_calls": len(calls), "sources": calls[0].sources,
                                          "none_gradients": max(c.none for c in calls)}
        if all(c.sources and c.none == c.sources for c in calls):
            errors = sorted({a.error for a in run.recorder.events_of(OptimizerApply) if a.error})
            why = f"every one of the {calls[0].sources} gradients of the call at line {line} was None"
            if errors:
                numbers["apply_error"] = errors[0]
                why += f"; applying them raised {errors[0]}"
            return self.confirmed(why, numbers)
        return self.dismissed(f"the call at line {line} returned {calls[0].sources - calls[0].none} gradient(s)",
                              numbers)
