from __future__ import annotations

from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.recorder import OptimizerApply
from ganlint.runtime.result import Verdict


class NoneGradientCheck(Check):
    """
    Runs on every profile. The optimizer hook lists the variables whose gradient was None when it
    reached `apply_gradients`: Keras 3 only warns when some are None, so a network (or part of
    one) silently never trains. Confirmed when any variable of the generator or discriminator got
    no gradient; dismissed when every one did.
    """

    CODE = "none-gradient"
    TITLE = "variables that never receive a gradient"
    NEEDS = frozenset({Capture.GRADIENTS})

    def judge(self, run: Run) -> Verdict:
        missing: dict[str, list[str]] = {}
        for event in run.recorder.events_of(OptimizerApply):
            for tag in event.none_variables:
                role = "generator" if tag.startswith("G/") else "discriminator"
                if tag not in missing.setdefault(role, []):
                    missing[role].append(tag)
        if missing:
            total = sum(len(v) for v in missing.values())
            listed = "; ".join(f"{role}: {', '.join(sorted(tags)[:4])}{' ...' if len(tags) > 4 else ''}"
                               for role, tags in missing.items())
            return self.confirmed(f"{total} variable(s) never received a gradient ({listed})",
                                  {"none_gradient_variables": {r: sorted(t) for r, t in missing.items()}})
        if not run.recorder.events_of(OptimizerApply):
            return self.inconclusive("no optimizer applied gradients during the run")
        return self.dismissed("every variable received a gradient")
