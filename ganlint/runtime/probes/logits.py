"""GAN201 evidence: the user's loss on the real discriminator output against the correct loss."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ganlint.runtime.probes.base import CONFIRMED, DISMISSED, INCONCLUSIVE, Measurement, finite, rounded


class LossConsistency:
    """Compares, per step and call site, the loss value the user's loss returned with the loss
    recomputed from the same ``y_pred`` the way the network produces it (probabilities from a
    sigmoid head, logits from a linear head). Optionally also the generator gradient norm of the
    user's loss against that of the correct loss at the same weights and batch.

    Equal values mean Keras 3 repaired the mismatch at runtime (it reads the cached pre-sigmoid
    logits): dismissed for this run, but fragile.
    """

    REPAIRED_BELOW = 0.01
    CONFIRM_ABOVE = 0.05
    MIN_STEPS = 3

    def measure(self, user: Sequence[float], reference: Sequence[float],
                grad_user: float | None = None, grad_reference: float | None = None) -> Measurement:
        u = np.asarray(user, dtype=np.float64).reshape(-1)
        r = np.asarray(reference, dtype=np.float64).reshape(-1)
        n = min(u.size, r.size)
        u, r = u[:n], r[:n]
        numbers: dict = {"observations": int(n)}
        if grad_user is not None and grad_reference is not None:
            numbers["g_grad_norm_user_loss"] = rounded(grad_user)
            numbers["g_grad_norm_correct_loss"] = rounded(grad_reference)
            if grad_reference > 0:
                numbers["g_grad_ratio"] = rounded(grad_user / grad_reference)
        if n < self.MIN_STEPS:
            return Measurement(INCONCLUSIVE, f"the loss was observed on only {n} call(s)", numbers)
        rel = finite(np.abs(u - r) / np.maximum(np.abs(r), 1e-6))
        if rel.size == 0:
            return Measurement(CONFIRMED, "the loss was non-finite", numbers)
        median = float(np.median(rel))
        numbers.update({"loss_user_median": rounded(np.median(u)), "loss_correct_median": rounded(np.median(r)),
                        "relative_difference_median": rounded(median)})
        ratio = numbers.get("g_grad_ratio")
        if median > self.CONFIRM_ABOVE:
            why = (f"the loss as written gives {np.median(u):.4g} where the correct loss on the same outputs "
                   f"gives {np.median(r):.4g} (median relative difference {median:.3g} over {n} loss calls)")
            if ratio is not None and ratio == 0:
                why += (f"; the generator gradient is exactly 0 (the correct loss gives "
                        f"{numbers['g_grad_norm_correct_loss']:.3g})")
            elif ratio is not None:
                why += f"; the generator gradient is {ratio:.3g}x the correct loss's"
            return Measurement(CONFIRMED, why, numbers)
        if median < self.REPAIRED_BELOW:
            return Measurement(DISMISSED, "Keras repaired it at runtime: the loss equals the correct loss "
                               f"(median relative difference {median:.2g}) because it read the cached "
                               "pre-sigmoid logits; fragile: a reshape/squeeze/slice/concat of the output, "
                               "a float16 head or a raw tf.sigmoid run eagerly silently breaks the repair",
                               numbers)
        return Measurement(INCONCLUSIVE, f"median relative difference {median:.3g} is between "
                           f"{self.REPAIRED_BELOW} and {self.CONFIRM_ABOVE}", numbers)
