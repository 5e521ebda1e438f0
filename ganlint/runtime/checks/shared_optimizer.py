from __future__ import annotations

from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.recorder import OptimizerApply, TrainingCall
from ganlint.runtime.result import Verdict

_NETWORKS = ("generator", "discriminator")
_UNKNOWN_VARIABLE = ("Unknown variable", "originally built with")


class SharedOptimizerCheck(Check):
    """
    `ganlint profile` records every optimizer apply: which optimizer instance, which network's
    variables, and any error. Confirmed under Keras 3 by the error the second network's apply
    raises (`Unknown variable ... This optimizer can only be called for the variables it was
    originally built with`); confirmed under Keras 2 when the one instance updated both networks
    (they share Adam's moments and step count). Dismissed when each network was updated by an
    optimizer of its own; inconclusive when one network never trained at all in the run.
    """

    CODE = "GAN306"
    NEEDS = frozenset({Capture.GRADIENTS, Capture.TRAINING_CALLS})
    JUDGES_FAILED_RUNS = True

    def judge(self, run: Run) -> Verdict:
        name = ((self.subject.get("optimizer") or {}).get("variable") or "").removeprefix("self.")
        applies = run.recorder.events_of(OptimizerApply)
        mine = [a for a in applies if name and a.optimizer.removeprefix("self.") == name] or applies
        errors = [a.error for a in mine if a.error and any(w in a.error for w in _UNKNOWN_VARIABLE)]
        errors += [c.error for c in run.recorder.events_of(TrainingCall)
                   if c.error and any(w in c.error for w in _UNKNOWN_VARIABLE)]
        if errors:
            return self.confirmed(f"the second network's update raised {errors[0]}", {"error": errors[0]})
        by_instance: dict[int, set[str]] = {}
        for apply in mine:
            by_instance.setdefault(apply.optimizer_id, set()).update(r for r in apply.variable_roles if r in _NETWORKS)
        shared = [roles for roles in by_instance.values() if len(roles) > 1]
        if shared:
            return self.confirmed("one optimizer instance updated both networks: they share its moments and "
                                  "step count", {"networks": sorted(shared[0])})
        trained = {r for a in applies for r in a.variable_roles if r in _NETWORKS}
        numbers = {"networks_trained": sorted(trained)}
        if trained != set(_NETWORKS):
            missing = sorted(set(_NETWORKS) - trained)
            return self.inconclusive(f"the {' and '.join(missing)} never trained in this run, so the sharing "
                                     "could not show", numbers)
        return self.dismissed("each network was updated by an optimizer instance of its own", numbers)
