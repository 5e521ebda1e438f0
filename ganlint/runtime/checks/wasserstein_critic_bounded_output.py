from __future__ import annotations

from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.recorder import median, rounded
from ganlint.runtime.result import Verdict


class WassersteinCriticBoundedOutputCheck(Check):
    """
    `ganlint profile` records the critic's outputs on real and fake samples every step, with the
    share of them pressed against the bounds of its output activation (within 1% of the interval's
    ends), and the critic's gradient norm. Confirmed when, over the second half of the run, most
    outputs of either kind sit at a bound (the Wasserstein loss drives them there, where the
    activation's gradient vanishes) or the critic's gradient collapses; dismissed when they stay
    inside. Tags: `D/out/real`, `D/out/fake`, `D/grad_norm/global`.
    """

    CODE = "GAN105"
    NEEDS = frozenset({Capture.OUTPUTS, Capture.GRADIENTS})
    PRESSED = 0.5

    def judge(self, run: Run) -> Verdict:
        tags = ["D/out/real", "D/out/fake", "D/grad_norm/global"]
        shares = {kind: run.series(f"D/out/{kind}_at_bound") for kind in ("real", "fake")}
        if not shares["real"] and not shares["fake"]:
            return self.inconclusive("the critic's outputs were not seen during the run", {}, tags)
        late = {kind: median(values[len(values) // 2:]) for kind, values in shares.items() if values}
        norms = run.series("D/grad_norm/global")
        numbers = {f"share_at_bound_{kind}": rounded(value) for kind, value in late.items()}
        if norms:
            numbers["critic_grad_norm_first"] = rounded(norms[0])
            numbers["critic_grad_norm_last"] = rounded(norms[-1])
        pressed = {kind: value for kind, value in late.items() if value > self.PRESSED}
        if pressed:
            kind, value = max(pressed.items(), key=lambda item: item[1])
            return self.confirmed(f"{value:.0%} of the critic's outputs on {kind} samples sit at a bound of its "
                                  "output activation, where its gradient vanishes", numbers, tags)
        if norms and norms[0] > 0 and norms[-1] < 1e-3 * norms[0]:
            return self.confirmed("the critic's gradient collapsed over the run", numbers, tags)
        return self.dismissed("the critic's outputs stayed inside its activation's range", numbers, tags)
