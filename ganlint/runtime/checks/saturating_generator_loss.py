from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganlint.keras_facts import GENERATOR
from ganlint.runtime.checks.base import Capture, Check, Run
from ganlint.runtime.recorder import median, rounded
from ganlint.runtime.result import Verdict

if TYPE_CHECKING:
    from ganlint.runtime.lab import Lab


class SaturatingGeneratorLossCheck(Check):
    """
    `ganlint profile` measures, on the same weights and batch, the generator's gradient norm under
    the loss as written and under the non-saturating loss `-log D(G(z))`; their ratio is
    D(G(z)) / (1 - D(G(z))) per sample, so it only shows once the discriminator is confident. If
    D(G(z)) is still above 0.1, it first trains the discriminator alone on the batch (at most 100
    steps, its weights restored afterwards) until it is. Confirmed when D(G(z)) < 0.1 and the
    ratio is under 0.1 (measured: 3e-7 to 2e-6 once D is confident); inconclusive, with the
    D(G(z)) seen, when the discriminator cannot be made confident. Tags: `D/prob/fake_mean`,
    `G/grad_norm/global`.
    """

    CODE = "GAN203"
    NEEDS = frozenset({Capture.OUTPUTS, Capture.GRADIENTS})
    CONFIDENT_BELOW = 0.1
    CONFIRM_RATIO = 0.1
    DISMISS_RATIO = 0.5
    TRAIN_STEPS = 100

    def counterfactual(self, lab: Lab) -> None:
        tf = lab.tf
        generator, discriminator = lab.model(GENERATOR), lab.discriminator
        variables = generator.trainable_variables
        user_loss = self._user_loss(lab)

        def fake_probability() -> float:
            return float(tf.reduce_mean(tf.sigmoid(lab.d_logits(generator(lab.z, training=False), training=False))))

        def ratio() -> float:
            def written() -> Any:
                if user_loss is not None:
                    return user_loss(discriminator(generator(lab.z, training=True), training=True))
                logits = lab.d_logits(generator(lab.z, training=True))
                return -tf.reduce_mean(tf.nn.softplus(logits))  # = mean(log(1 - D(G(z))))

            user = lab.norm(lab.gradients(written, variables))
            correct = lab.norm(lab.gradients(lambda: lab.nonsaturating_loss(GENERATOR), variables))
            self.evidence.update({"grad_user": user, "grad_nonsaturating": correct})
            return user / correct if correct > 0 else float("nan")

        self.evidence["d_of_fake"] = fake_probability()
        saved = [w.copy() for w in discriminator.get_weights()]
        trained = 0
        try:
            if self.evidence["d_of_fake"] >= self.CONFIDENT_BELOW:
                optimizer = lab.keras.optimizers.Adam(1e-3)
                for trained in range(1, self.TRAIN_STEPS + 1):  # a confident discriminator, for the measure only
                    with tf.GradientTape() as tape:
                        loss = lab.nonsaturating_loss("discriminator")
                    gradients = tape.gradient(loss, discriminator.trainable_variables)
                    optimizer.apply_gradients(zip(gradients, discriminator.trainable_variables))
                    if trained % 10 == 0 and fake_probability() < self.CONFIDENT_BELOW:
                        break
                self.evidence["d_of_fake_after_training_d"] = fake_probability()
                self.evidence["d_training_steps"] = trained
            self.evidence["ratio"] = ratio()
        finally:
            discriminator.set_weights(saved)

    def _user_loss(self, lab: Lab) -> Any:
        name = (self.subject.get("loss") or {}).get("function")
        function = lab.functions.get(name) if name else None
        if function is None:
            return None
        try:
            import inspect

            if len(inspect.signature(getattr(function, "python_function", function)).parameters) != 1:
                return None
        except (TypeError, ValueError):
            return None
        return function

    def judge(self, run: Run) -> Verdict:
        tags = ["D/prob/fake_mean", "G/grad_norm/global"]
        seen = run.series("D/prob/fake_mean")
        numbers: dict = {}
        if seen:
            numbers["d_of_fake_during_run"] = rounded(median(seen[-max(1, len(seen) // 4):]))
        if "ratio" not in self.evidence:
            why = self.counterfactual_error or "the counterfactual did not run"
            return self.inconclusive(f"cannot compare the losses: {why}", numbers, tags)
        confident = self.evidence.get("d_of_fake_after_training_d", self.evidence["d_of_fake"])
        ratio = self.evidence["ratio"]
        numbers.update({"d_of_fake": rounded(self.evidence["d_of_fake"]), "d_of_fake_measured_at": rounded(confident),
                        "g_grad_norm_as_written": rounded(self.evidence["grad_user"]),
                        "g_grad_norm_nonsaturating": rounded(self.evidence["grad_nonsaturating"]),
                        "g_grad_ratio": rounded(ratio)})
        if "d_training_steps" in self.evidence:
            numbers["discriminator_trained_for_the_measure"] = self.evidence["d_training_steps"]
        if confident >= self.CONFIDENT_BELOW:
            return self.inconclusive(f"the discriminator never became confident (D(G(z)) = {confident:.3g}), so the "
                                     "two losses still pass about the same gradient", numbers, tags)
        if ratio < self.CONFIRM_RATIO:
            return self.confirmed(f"with D(G(z)) = {confident:.3g}, the generator's gradient under the loss as written "
                                  f"is {ratio:.3g} of the non-saturating loss's", numbers, tags)
        if ratio > self.DISMISS_RATIO:
            return self.dismissed(f"with D(G(z)) = {confident:.3g}, the loss as written still passes {ratio:.3g} "
                                  "of the non-saturating loss's gradient", numbers, tags)
        return self.inconclusive(f"gradient ratio {ratio:.3g} at D(G(z)) = {confident:.3g}", numbers, tags)
