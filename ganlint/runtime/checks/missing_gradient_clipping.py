from __future__ import annotations

from ganlint.keras_facts import DISCRIMINATOR, GENERATOR, ROLE_PREFIX, role_named
from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.recorder import OptimizerApply, finite, median, rounded
from ganlint.runtime.result import Verdict


def spike_ratios(norms: list[tuple[int, float]], window: int = 10, least: int = 5) -> list[tuple[int, float]]:
    """``g[t] / median(g[t-window:t])`` for every step with at least ``least`` steps before it."""
    out = []
    values = [v for _, v in norms]
    for t in range(least, len(values)):
        base = median(values[max(0, t - window):t])
        if base > 0:
            out.append((norms[t][0], values[t] / base))
    return out


class MissingGradientClippingCheck(Check):
    """
    `ganlint profile` logs the global gradient norm of the network this optimizer updates, every
    step. Confirmed when the norm becomes non-finite, spikes to more than 5x the median of the
    previous 10 steps, or peaks at more than 10x its median; dismissed when the spike ratio stays
    under 2 and the peak under 4x the median (healthy DCGAN runs measured at most 1.7 and 2.7).
    Tags: `G/grad_norm/global`, `D/grad_norm/global`, `GAN301/<G|D>/spike_ratio`.
    """

    CODE = "GAN301"
    NEEDS = frozenset({Capture.GRADIENTS})
    CONFIRM_SPIKE = 5.0
    CONFIRM_PEAK = 10.0
    DISMISS_SPIKE = 2.0
    DISMISS_PEAK = 4.0
    MIN_STEPS = 20

    def _network(self, run: Run) -> str | None:
        """The network the flagged apply (or the model compiled there) updates at runtime."""
        subject = self.subject
        optimizer = ((subject.get("optimizer") or {}).get("variable") or "").removeprefix("self.")
        applies = run.recorder.events_of(OptimizerApply)
        here = run.at_finding(self.finding, applies)
        named = [e for e in applies if optimizer and e.optimizer.removeprefix("self.") == optimizer]
        for events in (here, named):
            roles = {r for event in events for r in event.variable_roles if r in ROLE_PREFIX}
            if len(roles) == 1:
                return roles.pop()
        role = (subject.get("model") or {}).get("role")
        if role in ROLE_PREFIX:
            return role
        return role_named(optimizer) if optimizer else None

    def judge(self, run: Run) -> Verdict:
        network = self._network(run)
        if network not in (GENERATOR, DISCRIMINATOR):
            return self.inconclusive("cannot tell which network this optimizer updates")
        prefix = ROLE_PREFIX[network]
        tag = f"{prefix}/grad_norm/global"
        points = run.recorder.points(tag)
        spikes = spike_ratios(points)
        self.series[f"GAN301/{prefix}/spike_ratio"] = spikes
        tags = [tag, f"GAN301/{prefix}/spike_ratio"]
        values = [v for _, v in points]
        numbers: dict = {"network": network, "steps": len(values)}
        if len(finite(values)) < len(values):
            first = next(step for step, v in points if v != v or v in (float("inf"), float("-inf")))
            numbers["first_non_finite_step"] = first
            return self.confirmed(f"the gradient norm became non-finite at step {first}", numbers, tags)
        if not values:
            return self.inconclusive(f"the {network} applied no gradients in this run", numbers, tags)
        if len(values) < self.MIN_STEPS:
            return self.inconclusive(f"only {len(values)} step(s) of gradient norms (need {self.MIN_STEPS})",
                                     numbers, tags)
        zero = sum(1 for v in values if v == 0.0) / len(values)
        spike = max((r for _, r in spikes), default=float("nan"))
        nonzero = [v for v in values if v > 0]
        middle = median(nonzero) if nonzero else 0.0
        if zero > 0.5 and not spike > self.CONFIRM_SPIKE:
            numbers["zero_fraction"] = rounded(zero)
            return self.inconclusive(f"the gradient norm was exactly 0 on {zero:.0%} of steps: the network stopped "
                                     "learning, which hides whether it would explode", numbers, tags)
        peak = max(values) / middle if middle > 0 else float("nan")
        if zero:
            numbers["zero_fraction"] = rounded(zero)
        numbers.update({"norm_median": rounded(middle), "norm_max": rounded(max(values)),
                        "max_over_median": rounded(peak), "spike_ratio": rounded(spike)})
        if spike > self.CONFIRM_SPIKE or peak > self.CONFIRM_PEAK:
            return self.confirmed(f"the gradient norm spiked to {spike:.3g}x its recent median (max/median "
                                  f"{peak:.3g}; thresholds {self.CONFIRM_SPIKE} / {self.CONFIRM_PEAK})", numbers, tags)
        if spike < self.DISMISS_SPIKE and peak < self.DISMISS_PEAK:
            return self.dismissed(f"the gradient norm stayed steady (spike {spike:.3g}x, max/median {peak:.3g}) over "
                                  f"{len(values)} steps", numbers, tags)
        return self.inconclusive(f"spike {spike:.3g}x, max/median {peak:.3g}: between the healthy and exploding "
                                 "ranges", numbers, tags)
