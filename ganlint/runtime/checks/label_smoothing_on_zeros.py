from __future__ import annotations

from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.recorder import LossSite, rounded
from ganlint.runtime.result import Verdict


class LabelSmoothingOnZerosCheck(Check):
    """
    `ganlint profile` records the targets that every loss call receives (their minimum, maximum and
    mean, every step). Confirmed when no call ever received targets equal to the intended
    constant while some call received targets that were exactly 0 on every step; dismissed when
    a call received the smoothed targets. Tags: `labels/<site>/mean`, `.../min`, `.../max`.
    """

    CODE = "GAN202"
    NEEDS = frozenset({Capture.LOSSES})
    TOLERANCE = 1e-3

    def judge(self, run: Run) -> Verdict:
        constant = (self.subject.get("labels") or {}).get("constant")
        sites = sorted({site.site for site in run.recorder.events_of(LossSite)})
        if not sites:
            return self.inconclusive("no loss call was observed during the run")
        summary = {}
        zero_sites, smoothed_sites, tags = [], [], []
        for site in sites:
            lows, highs = run.series(f"labels/{site}/min"), run.series(f"labels/{site}/max")
            means = run.series(f"labels/{site}/mean")
            if not means:
                continue
            tags += [f"labels/{site}/{stat}" for stat in ("mean", "min", "max")]
            summary[site] = {"min": rounded(min(lows)), "max": rounded(max(highs)),
                             "mean": rounded(sum(means) / len(means)), "steps": len(means)}
            if all(v == 0.0 for v in lows) and all(v == 0.0 for v in highs):
                zero_sites.append(site)
            if constant is not None and all(abs(m - constant) < self.TOLERANCE for m in means) \
                    and all(abs(v - constant) < self.TOLERANCE for v in lows):
                smoothed_sites.append(site)
        numbers = {"label_sites": summary, "intended_constant": constant}
        if smoothed_sites:
            return self.dismissed(f"targets of {constant} reached {', '.join(smoothed_sites)}", numbers, tags)
        if zero_sites and constant not in (None, 0, 0.0):
            steps = max(len(run.series(f"labels/{s}/mean")) for s in zero_sites)
            return self.confirmed(f"no loss call received targets of {constant}; {', '.join(zero_sites)} received "
                                  f"targets that were exactly 0 (min 0, max 0) on all {steps} steps", numbers, tags)
        return self.inconclusive("no loss call received either all-zero or smoothed targets", numbers, tags)
