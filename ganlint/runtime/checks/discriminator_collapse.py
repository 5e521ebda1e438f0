from __future__ import annotations

from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.recorder import LossSite, median, rounded
from ganlint.runtime.result import Verdict


class DiscriminatorCollapseCheck(Check):
    """
    Runs on every profile. A discriminator whose gradient is exactly 0 on more than 10% of steps
    has saturated: it no longer learns, and the generator gets no signal through it. Confirmed
    then; dismissed while its gradient stays non-zero. Tags: `D/grad_norm/global`, `D/out/real`,
    `D/out/fake`, the losses by call site.
    """

    CODE = "discriminator-collapse"
    TITLE = "the discriminator's gradient collapses to exactly 0"
    NEEDS = frozenset({Capture.GRADIENTS, Capture.LOSSES, Capture.OUTPUTS})
    ZERO_FRACTION = 0.1

    def judge(self, run: Run) -> Verdict:
        norms = run.series("D/grad_norm/global")
        tags = ["D/grad_norm/global", "D/out/real", "D/out/fake"]
        if not norms:
            return self.inconclusive("no discriminator gradients were measured", {}, tags)
        zero = sum(1 for v in norms if v == 0.0) / len(norms)
        numbers: dict = {"steps": len(norms), "zero_gradient_fraction": rounded(zero)}
        finals = {}
        for site in sorted({s.site for s in run.recorder.events_of(LossSite)}):
            values = run.series(f"losses/{site}")
            if values:
                finals[site] = rounded(median(values[-max(1, len(values) // 4):]), 6)
                tags.append(f"losses/{site}")
        if finals:
            numbers["final_loss_by_call_site"] = finals
        if zero > self.ZERO_FRACTION:
            return self.confirmed(f"the discriminator's gradient was exactly 0 on {zero:.0%} of steps", numbers, tags)
        return self.dismissed("the discriminator kept a non-zero gradient", numbers, tags)
