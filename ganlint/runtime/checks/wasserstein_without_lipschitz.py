from __future__ import annotations

from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.recorder import median, rounded
from ganlint.runtime.result import Verdict


class WassersteinWithoutLipschitzCheck(Check):
    """
    `ganlint profile` records the critic's outputs on real and fake samples every step. With no
    Lipschitz constraint the Wasserstein loss is unbounded, and the critic meets it by scaling its
    outputs up: the gap between its mean outputs on real and fake samples grows step after step
    instead of settling. Confirmed when that gap (median of the last quarter of the run against
    the first) grows more than 10x; dismissed under 3x. Tags: `D/out/real_mean`, `D/out/fake_mean`,
    `GAN502/critic_gap`.
    """

    CODE = "GAN502"
    NEEDS = frozenset({Capture.OUTPUTS})
    CONFIRM_GROWTH = 10.0
    DISMISS_GROWTH = 3.0
    MIN_STEPS = 20

    def judge(self, run: Run) -> Verdict:
        real, fake = dict(run.recorder.points("D/out/real_mean")), dict(run.recorder.points("D/out/fake_mean"))
        gaps = [(step, abs(real[step] - fake[step])) for step in sorted(real.keys() & fake.keys())]
        self.series["GAN502/critic_gap"] = gaps
        tags = ["D/out/real_mean", "D/out/fake_mean", "GAN502/critic_gap"]
        if len(gaps) < self.MIN_STEPS:
            return self.inconclusive(f"only {len(gaps)} step(s) of critic outputs (need {self.MIN_STEPS})",
                                     {"steps": len(gaps)}, tags)
        quarter = max(1, len(gaps) // 4)
        first, last = median([g for _, g in gaps[:quarter]]), median([g for _, g in gaps[-quarter:]])
        growth = last / first if first > 0 else float("inf")
        numbers = {"steps": len(gaps), "gap_first_quarter": rounded(first), "gap_last_quarter": rounded(last),
                   "growth": rounded(growth)}
        if growth > self.CONFIRM_GROWTH:
            return self.confirmed(f"the gap between the critic's outputs on real and fake samples grew {growth:.3g}x "
                                  "over the run: nothing bounds its slope", numbers, tags)
        if growth < self.DISMISS_GROWTH:
            return self.dismissed(f"the critic's output gap grew only {growth:.3g}x", numbers, tags)
        return self.inconclusive(f"the critic's output gap grew {growth:.3g}x, between {self.DISMISS_GROWTH} and "
                                 f"{self.CONFIRM_GROWTH}", numbers, tags)
