from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganlint.keras_facts import GENERATOR
from ganlint.runtime.checks.base import Capture, Check, Run, Unmeasurable
from ganlint.runtime.recorder import LossSite, finite, median, rounded
from ganlint.runtime.result import Verdict

if TYPE_CHECKING:
    from ganlint.runtime.lab import Lab


class FromLogitsMismatchCheck(Check):
    """
    `ganlint profile` records, at every call of the flagged loss, the value it returned and the
    binary cross-entropy recomputed from the same predictions the way the discriminator's head
    produces them (probabilities from a sigmoid head, logits from a linear one). It also computes,
    on the same weights and batch, the generator's gradient norm under the loss as written and under
    the correct loss.

    Confirmed when the two losses differ (median relative difference over 5%), with the gradient
    ratio as the measure of the damage; dismissed, with a note that the repair is fragile, when
    Keras 3 repaired the mismatch at runtime (it reads the sigmoid's cached logits, until the
    output is reshaped, squeezed, sliced, concatenated or computed in float16). Tags:
    `GAN201/loss_user/<site>`, `GAN201/loss_correct/<site>`, `D/out/real`, `D/out/fake`.
    """

    CODE = "GAN201"
    NEEDS = frozenset({Capture.LOSSES, Capture.OUTPUTS})
    REPAIRED_BELOW = 0.01
    CONFIRM_ABOVE = 0.05
    MIN_CALLS = 3

    def counterfactual(self, lab: Lab) -> None:
        loss = self.subject.get("loss") or {}
        variable = loss.get("variable")
        loss_fn = self._user_loss(lab, variable, loss.get("kind"), loss.get("from_logits"))
        if loss_fn is None or lab.generator is None:
            return
        tf = lab.tf
        variables = lab.generator.trainable_variables
        reshape = bool(self.subject.get("post_processed"))

        def user() -> Any:
            with tf.GradientTape() as tape:
                p = lab.discriminator(lab.generator(lab.z, training=True), training=True)
                if reshape:  # as the script does; a reshape is what defeats Keras's repair
                    p = tf.reshape(p, [-1])
                value = loss_fn(tf.ones_like(p), p)
            return tf.linalg.global_norm([g for g in tape.gradient(value, variables) if g is not None])

        correct = lab.norm(lab.gradients(lambda: lab.nonsaturating_loss(GENERATOR), variables))
        measured = float(tf.function(user)() if lab.graph else user())
        self.evidence.update({"grad_user": measured, "grad_correct": correct, "reshaped_like_the_script": reshape})

    @staticmethod
    def _user_loss(lab: Lab, variable: str | None, kind: str | None, from_logits: bool | None) -> Any:
        if variable:
            found = lab.losses.get(variable) or lab.losses.get(variable.removeprefix("self."))
            if found is None:
                raise Unmeasurable(f"the loss object `{variable}` was not found at runtime")
            return found
        tf, keras = lab.tf, lab.keras
        if kind == "binary_crossentropy":
            return lambda y, p: tf.reduce_mean(keras.losses.binary_crossentropy(y, p, from_logits=bool(from_logits)))
        if kind == "sigmoid_cross_entropy_with_logits":
            return lambda y, p: tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=p))
        return None

    def _sites(self, run: Run) -> list[LossSite]:
        loss = self.subject.get("loss") or {}
        variable = (loss.get("variable") or "").removeprefix("self.")
        sites = run.recorder.events_of(LossSite)
        if variable:
            return [s for s in sites if s.name.removeprefix("self.") == variable]
        # a functional loss: the finding sits on the call itself
        return run.at_finding(self.finding, [s for s in sites if s.name == loss.get("kind")])

    def judge(self, run: Run) -> Verdict:
        sites = self._sites(run)
        loss = self.subject.get("loss") or {}
        numbers: dict[str, Any] = {"discriminator_output_at_runtime": run.discriminator_head}
        if "grad_user" in self.evidence:
            numbers["g_grad_norm_user_loss"] = rounded(self.evidence["grad_user"])
            numbers["g_grad_norm_correct_loss"] = rounded(self.evidence["grad_correct"])
            if self.evidence["grad_correct"] > 0:
                numbers["g_grad_ratio"] = rounded(self.evidence["grad_user"] / self.evidence["grad_correct"])
            numbers["g_grad_with_output_reshaped"] = self.evidence["reshaped_like_the_script"]
        if not sites:
            variable = loss.get("variable")
            what = f"the loss `{variable}`" if variable else f"`{loss.get('kind')}` at this line"
            return self.inconclusive(f"{what} was never called during the run", numbers)
        user: list[float] = []
        correct: list[float] = []
        tags: list[str] = ["D/out/real", "D/out/fake"]
        for site in sites:
            u = dict(run.recorder.points(f"GAN201/loss_user/{site.site}"))
            c = dict(run.recorder.points(f"GAN201/loss_correct/{site.site}"))
            for step in sorted(u.keys() & c.keys()):
                user.append(u[step])
                correct.append(c[step])
            tags += [f"GAN201/loss_user/{site.site}", f"GAN201/loss_correct/{site.site}"]
        numbers["observations"] = len(user)
        if len(user) < self.MIN_CALLS:
            return self.inconclusive(f"the loss was compared on only {len(user)} call(s) (the discriminator's "
                                     f"head is {run.discriminator_head})", numbers, tags)
        relative = finite([abs(u - c) / max(abs(c), 1e-6) for u, c in zip(user, correct)])
        if not relative:
            return self.confirmed("the loss was non-finite", numbers, tags)
        difference = median(relative)
        numbers.update({"loss_user_median": rounded(median(user)), "loss_correct_median": rounded(median(correct)),
                        "relative_difference_median": rounded(difference)})
        ratio = numbers.get("g_grad_ratio")
        if difference > self.CONFIRM_ABOVE:
            why = (f"the loss as written gives {median(user):.4g} where the correct loss on the same outputs gives "
                   f"{median(correct):.4g} (median relative difference {difference:.3g} over {len(user)} calls)")
            if ratio == 0:
                correct = numbers["g_grad_norm_correct_loss"]
                why += f"; the generator's gradient is exactly 0 (the correct loss gives {correct:.3g})"
            elif ratio is not None:
                why += f"; the generator's gradient is {ratio:.3g}x the correct loss's"
            return self.confirmed(why, numbers, tags)
        if difference < self.REPAIRED_BELOW:
            expects = self.subject.get("expects")
            if expects and expects == run.discriminator_head:
                return self.dismissed(f"at runtime the discriminator emits {expects}, which the loss expects; "
                                      "the values agree", numbers, tags)
            return self.dismissed("Keras repaired it at runtime: the loss equals the correct loss (median relative "
                                  f"difference {difference:.2g}) because it read the sigmoid's cached logits; "
                                  "fragile: a reshape/squeeze/slice/concat of the output, a float16 head or a raw "
                                  "tf.sigmoid run eagerly silently breaks the repair", numbers, tags)
        return self.inconclusive(f"median relative difference {difference:.3g} lies between {self.REPAIRED_BELOW} and "
                                 f"{self.CONFIRM_ABOVE}", numbers, tags)
