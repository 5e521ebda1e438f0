from __future__ import annotations

from typing import TYPE_CHECKING

from ganlint.keras_facts import ROLE_PREFIX
from ganlint.runtime.checks.base import Capture, Check, Run, Unmeasurable
from ganlint.runtime.recorder import ModelCall, rounded
from ganlint.runtime.result import Verdict

if TYPE_CHECKING:
    from ganlint.runtime.lab import Lab


class MissingTrainingFlagCheck(Check):
    """
    `ganlint profile` records how the flagged call is made while training (whether `training=` is
    passed, whether a tape is recording), the moving statistics of the network's batch
    normalisation layers over the run, and, on the same batch, the gap between the network's
    output in training and in inference mode. Confirmed when the call ran in inference mode during
    training and it mattered: the moving statistics never moved, or the two modes differ (more
    than 1% of the output's spread); dismissed when the call passed `training=True` at runtime or
    the two modes give the same output. Tags: `<G|D>/bn/...`.
    """

    CODE = "GAN401"
    NEEDS = frozenset({Capture.MODEL_CALLS, Capture.NORMALIZATION})
    GAP = 0.01

    def counterfactual(self, lab: Lab) -> None:
        role = (self.subject.get("model") or {}).get("role")
        if role not in ROLE_PREFIX:
            raise Unmeasurable(f"cannot tell which network the call is (role {role!r})")
        tf = lab.tf
        model = lab.model(role)
        x = lab.z if role == "generator" else lab.real
        if x is None:
            raise Unmeasurable("no batch to call the network on")
        training, inference = model(x, training=True), model(x, training=False)
        spread = float(tf.math.reduce_std(tf.cast(inference, tf.float32))) or 1.0
        self.evidence["mode_gap"] = float(tf.reduce_mean(tf.abs(tf.cast(training - inference, tf.float32)))) / spread

    def judge(self, run: Run) -> Verdict:
        role = (self.subject.get("model") or {}).get("role")
        line = (self.subject.get("call") or {}).get("line")
        calls = [c for c in run.at_line(line, run.recorder.events_of(ModelCall)) if c.role == role]
        prefix = ROLE_PREFIX.get(role or "", "?")
        bn_tags = [t for t in run.recorder.tags(f"{prefix}/bn/") if t.endswith("moving_mean_norm")]
        numbers: dict = {"calls_seen": len(calls)}
        if "mode_gap" in self.evidence:
            numbers["output_gap_between_modes"] = rounded(self.evidence["mode_gap"])
        if not calls:
            return self.inconclusive(f"the call at line {line} never ran during training", numbers, bn_tags)
        if all(c.training is True for c in calls):
            return self.dismissed("at runtime the call passed training=True", numbers, bn_tags)
        frozen = []
        for tag in bn_tags:
            values = run.series(tag)
            if len(values) > 1:
                change = abs(values[-1] - values[0]) / max(abs(values[0]), 1e-12)
                if change < 1e-6:
                    frozen.append(tag)
        numbers["batchnorm_layers"] = len(bn_tags)
        numbers["batchnorm_statistics_frozen"] = len(frozen)
        gap = self.evidence.get("mode_gap")
        if frozen:
            return self.confirmed(f"the network ran in inference mode while training: the moving statistics of "
                                  f"{len(frozen)} of {len(bn_tags)} BatchNormalization layer(s) never moved",
                                  numbers, bn_tags)
        if gap is not None and gap > self.GAP:
            return self.confirmed(f"the network ran in inference mode while training, and its output differs between "
                                  f"the modes by {gap:.3g} of its spread on the same batch", numbers, bn_tags)
        if gap is not None:
            return self.dismissed(f"the two modes give the same output (gap {gap:.3g})", numbers, bn_tags)
        return self.inconclusive("the call ran in inference mode, but its effect could not be measured", numbers,
                                 bn_tags)
