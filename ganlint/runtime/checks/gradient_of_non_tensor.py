from __future__ import annotations

from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.result import Verdict


class GradientOfNonTensorCheck(Check):
    """
    `ganlint profile` records what the flagged `tape.gradient` call was given as its target and
    what it did with it: TensorFlow raises for a function, a loss object or a model, and returns
    None gradients for a constant. Confirmed with the exception (or the None gradients) it
    produced; dismissed when, at runtime, the target was a tensor after all.
    """

    CODE = "GAN303"
    NEEDS = frozenset({Capture.TAPES})
    JUDGES_FAILED_RUNS = True

    def judge(self, run: Run) -> Verdict:
        line, calls = self.flagged_gradient_calls(run)
        if not calls:
            return self.inconclusive(f"the gradient call at line {line} never ran")
        call = calls[0]
        numbers = {"target": call.target_kind, "sources": call.sources}
        if call.error:
            numbers["error"] = call.error
            return self.confirmed(f"`tape.gradient` was given a {call.target_kind} and raised {call.error}", numbers)
        if call.target_kind != "tensor" or (call.sources and call.none == call.sources):
            numbers["none_gradients"] = call.none
            return self.confirmed(f"`tape.gradient` was given a {call.target_kind}: {call.none} of {call.sources} "
                                  "gradients were None", numbers)
        return self.dismissed("at runtime the target was a tensor and the gradients came back", numbers)
