from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ganlint.keras_facts import ROLE_PREFIX
from ganlint.runtime.checks.base import Capture, Check, Run, Unmeasurable
from ganlint.runtime.recorder import median, rounded
from ganlint.runtime.result import Verdict

if TYPE_CHECKING:
    from ganlint.runtime.lab import Lab


class SaturatingHiddenActivationCheck(Check):
    """
    `ganlint profile` follows the gradient through the flagged layer during training: the RMS of
    the gradient of its kernel against that of the next weighted layer (its own attenuation), and
    the RMS of the gradient of the network's first layer against that of the next layer (the
    compound attenuation down to the bottom of the network, which a stack of sigmoids multiplies).
    Then, on the same weights and batch, it swaps the layer's activation for ReLU and measures how
    much more gradient reaches the network's first layer.

    Confirmed when the attenuation (the smaller of the two, median over the run) is under 0.2 and
    ReLU would pass at least 1.5x more; dismissed when swapping gains under 1.25x (the activation
    is not the cause) or when both ratios stay above 0.3. Measured on a small MLP generator: 0.08-0.10
    for a hidden sigmoid against 0.40-0.74 for ReLU; three stacked sigmoids, 0.004 at the first
    layer. Tags: `G/grad/...`, `GAN101/<G|D>/<layer>/rms_ratio`, `.../compound_ratio`.
    """

    CODE = "GAN101"
    NEEDS = frozenset({Capture.GRADIENTS})
    CONFIRM_BELOW = 0.2
    DISMISS_ABOVE = 0.3
    CONFIRM_GAIN = 1.5
    DISMISS_GAIN = 1.25
    MIN_STEPS = 10

    def prepare(self, lab: Lab) -> None:
        """Find the layer the finding names and the weighted layers around it."""
        subject = self.subject
        role = (subject.get("model") or {}).get("role")
        subject_layer = subject.get("layer") or {}
        if role not in ROLE_PREFIX:
            raise Unmeasurable(f"the static check could not tell whether this model is the generator or the "
                               f"discriminator (role {role!r})")
        if subject_layer.get("kind") == "activation":
            raise Unmeasurable(f"the `{subject_layer.get('activation')}` is applied inside call(), not by a layer; "
                               "the profiler can swap and measure layer activations only")
        layers = lab.layers(role)
        layer = lab.find_layer(role, subject_layer)
        index = layers.index(layer)
        own = layer if lab.kernel_of(layer) is not None else next(
            (candidate for candidate in reversed(layers[:index]) if lab.kernel_of(candidate) is not None), None)
        after = next((candidate for candidate in layers[index + 1:] if lab.kernel_of(candidate) is not None), None)
        first = next((candidate for candidate in layers if lab.kernel_of(candidate) is not None), None)
        if own is None or after is None or first is None:
            raise Unmeasurable("the layer has no weighted layer before and after it to compare gradients")
        variables = lab.networks.variables
        self._layer, self._role = layer, role
        self._kernels = {"own": lab.kernel_of(own), "next": lab.kernel_of(after), "first": lab.kernel_of(first)}
        self.evidence["layers"] = {key: variables[id(kernel)].tag for key, kernel in self._kernels.items()}
        self.evidence["sizes"] = {key: variables[id(kernel)].size for key, kernel in self._kernels.items()}
        self.evidence["role"] = role

    def counterfactual(self, lab: Lab) -> None:
        if "layers" not in self.evidence:
            return
        kernels = [self._kernels["own"], self._kernels["next"], self._kernels["first"]]

        def measure() -> list[float]:
            gradients = lab.gradients(lambda: lab.nonsaturating_loss(self._role), kernels)
            return [lab.rms(g) for g in gradients]

        own, after, first = measure()
        with lab.activation(self._layer, lab.keras.activations.relu):
            own_relu, after_relu, first_relu = measure()
        self.evidence["fixed_batch"] = {"ratio": own / max(after, 1e-30),
                                        "ratio_relu": own_relu / max(after_relu, 1e-30),
                                        "gain_at_first_layer": first_relu / max(first, 1e-30)}

    def _ratios(self, run: Run, numerator: str) -> list[tuple[int, float]]:
        prefix = ROLE_PREFIX[self.evidence["role"]]
        layers, sizes = self.evidence["layers"], self.evidence["sizes"]
        top = dict(run.recorder.points(f"{prefix}/grad_norm/{layers[numerator]}"))
        bottom = dict(run.recorder.points(f"{prefix}/grad_norm/{layers['next']}"))
        ratios = []
        for step in sorted(top.keys() & bottom.keys()):
            below = bottom[step] / math.sqrt(sizes["next"])
            if below > 0:
                ratios.append((step, (top[step] / math.sqrt(sizes[numerator])) / below))
        return ratios

    def judge(self, run: Run) -> Verdict:
        if self.unmeasurable is not None:
            return self.inconclusive(self.unmeasurable)
        prefix = ROLE_PREFIX[self.evidence["role"]]
        layers = self.evidence["layers"]
        own_series, compound_series = self._ratios(run, "own"), self._ratios(run, "first")
        name = layers["own"].split("/")[0]
        self.series[f"GAN101/{prefix}/{name}/rms_ratio"] = own_series
        self.series[f"GAN101/{prefix}/{name}/compound_ratio"] = compound_series
        tags = [f"{prefix}/grad_norm/{layers[k]}" for k in ("own", "next", "first")] + \
            [f"{prefix}/grad/{layers['own']}", *self.series]
        numbers: dict = {"layer": name, "next_layer": layers["next"].split("/")[0],
                         "first_layer": layers["first"].split("/")[0], "steps": len(own_series)}
        if len(own_series) < self.MIN_STEPS:
            return self.inconclusive(f"only {len(own_series)} step(s) with gradients for both layers "
                                     f"(need {self.MIN_STEPS})", numbers, tags)
        own = median([v for _, v in own_series])
        compound = median([v for _, v in compound_series]) if compound_series else own
        numbers.update({"rms_ratio_median": rounded(own), "compound_ratio_median": rounded(compound)})
        gain = None
        fixed = self.evidence.get("fixed_batch")
        if fixed:
            gain = fixed["gain_at_first_layer"]
            numbers.update({"rms_ratio_fixed_batch": rounded(fixed["ratio"]),
                            "rms_ratio_fixed_batch_relu": rounded(fixed["ratio_relu"]),
                            "relu_gain_at_first_layer": rounded(gain)})
        attenuation = min(own, compound)
        if gain is not None and gain < self.DISMISS_GAIN:
            return self.dismissed(f"with relu in its place at the same weights and batch, the network's first layer "
                                  f"gets only {gain:.3g}x the gradient: the activation is not what attenuates",
                                  numbers, tags)
        if attenuation < self.CONFIRM_BELOW and (gain is None or gain >= self.CONFIRM_GAIN):
            why = (f"the layer passes on {own:.3g} of the next layer's gradient RMS, and the network's first layer "
                   f"{compound:.3g} (medians over {len(own_series)} steps)")
            if gain is not None:
                why += f"; with relu at the same weights and batch the first layer would get {gain:.3g}x more"
            return self.confirmed(why, numbers, tags)
        if own > self.DISMISS_ABOVE and compound > self.DISMISS_ABOVE:
            return self.dismissed(f"gradient RMS ratios {own:.3g} (own) and {compound:.3g} (first layer) are above "
                                  f"{self.DISMISS_ABOVE}: no attenuation measured in this run", numbers, tags)
        return self.inconclusive(f"gradient RMS ratio {own:.3g} (first layer {compound:.3g}) lies between "
                                 f"{self.CONFIRM_BELOW} and {self.DISMISS_ABOVE}"
                                 + (f", and relu would gain {gain:.3g}x" if gain is not None else ""), numbers, tags)
