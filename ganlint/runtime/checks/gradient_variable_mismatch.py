from __future__ import annotations

from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.recorder import OptimizerApply
from ganlint.runtime.result import Verdict


class GradientVariableMismatchCheck(Check):
    """
    `ganlint profile` follows every gradient from the `tape.gradient` call that produced it (whose
    variables it was taken for) to the `apply_gradients` that uses it (whose variables it updates).
    Confirmed when the flagged apply updates one network's variables with gradients taken for the
    other's, or updates both networks at once, or raises for the mismatch (shapes that do not fit);
    dismissed when gradients and variables belong to the same network.
    """

    CODE = "GAN304"
    NEEDS = frozenset({Capture.TAPES, Capture.GRADIENTS})
    JUDGES_FAILED_RUNS = True

    def judge(self, run: Run) -> Verdict:
        line = (self.subject.get("apply") or {}).get("line")
        applies = run.at_line(line, run.recorder.events_of(OptimizerApply))
        if not applies:
            return self.inconclusive(f"the optimizer call at line {line} never ran")
        numbers: dict = {}
        for apply in applies:
            numbers = {"variables_of": list(apply.variable_roles), "gradients_for": list(apply.gradient_roles)}
            if apply.error:
                numbers["error"] = apply.error
                return self.confirmed(f"applying the gradients raised {apply.error}", numbers)
            networks = [r for r in apply.variable_roles if r in ("generator", "discriminator")]
            if len(networks) > 1:
                return self.confirmed("one call updates the variables of both networks", numbers)
            if apply.gradient_roles and set(apply.gradient_roles) != set(apply.variable_roles):
                return self.confirmed(f"the {', '.join(apply.variable_roles)}'s variables were updated with "
                                      f"gradients taken for the {', '.join(apply.gradient_roles)}'s", numbers)
        if not numbers.get("gradients_for"):
            return self.inconclusive("the gradients could not be traced to the tape call that made them", numbers)
        return self.dismissed("the gradients were applied to the variables they were taken for", numbers)
