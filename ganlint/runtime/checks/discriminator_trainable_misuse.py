from __future__ import annotations

from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.recorder import TrainingCall
from ganlint.runtime.result import Verdict


class DiscriminatorTrainableMisuseCheck(Check):
    """
    `ganlint profile` measures the discriminator's weights before and after every
    `train_on_batch`: its own training call, and the combined model's. Confirmed when the
    discriminator does not change on its own step (frozen for good: Keras 3 reads `trainable` at
    every step) or does change on the generator's step (never frozen for the combined model);
    dismissed when it changes on its own step only. Tags: `D/weight_change/on_discriminator_step`,
    `D/weight_change/on_combined_step`.
    """

    CODE = "GAN402"
    NEEDS = frozenset({Capture.TRAINING_CALLS})
    TOLERANCE = 1e-7

    def judge(self, run: Run) -> Verdict:
        calls = run.recorder.events_of(TrainingCall)
        own = [c for c in calls if c.model == "discriminator" and not c.error]
        combined = [c for c in calls if c.model == "combined" and not c.error]
        tags = ["D/weight_change/on_discriminator_step", "D/weight_change/on_combined_step"]
        numbers: dict = {"discriminator_steps": len(own), "combined_steps": len(combined)}
        if not own and not combined:
            return self.inconclusive("no train_on_batch of the discriminator or of a combined model ran", numbers, tags)
        own_changes = [c.changed.get("discriminator", 0.0) for c in own]
        combined_changes = [c.changed.get("discriminator", 0.0) for c in combined]
        if own_changes:
            numbers["change_on_own_step_max"] = max(own_changes)
        if combined_changes:
            numbers["change_on_combined_step_max"] = max(combined_changes)
        if own_changes and max(own_changes) <= self.TOLERANCE:
            return self.confirmed(f"the discriminator's weights did not change on any of its own {len(own)} "
                                  "train_on_batch calls: it never trains", numbers, tags)
        if combined_changes and max(combined_changes) > self.TOLERANCE:
            return self.confirmed(f"the discriminator's weights changed on the combined model's step (by up to "
                                  f"{max(combined_changes):.3g} relative): the generator's step trains it toward "
                                  "calling fakes real", numbers, tags)
        if own_changes:
            return self.dismissed("the discriminator trains on its own step and stays fixed on the generator's",
                                  numbers, tags)
        return self.inconclusive("only the combined model trained in this run", numbers, tags)
