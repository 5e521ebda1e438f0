from __future__ import annotations

from typing import Iterator

import libcst as cst

from ganlint.findings import Applicability, Severity
from ganlint.rule import FixSpec, Invalid, Report, Rule, RuleContext, Valid, replace_node


class LabelSmoothingOnZeros(Rule):
    """
    ## What it does
    Flags label tensors built as `zeros(...) * c`, `c * zeros_like(...)` or `labels *= c` on a
    tensor of zeros, for TensorFlow, NumPy and `keras.ops`, also when the zeros were assigned to a
    name first.

    ## Why is this bad?
    Multiplying zeros by a constant leaves zeros. The code reads as one-sided label smoothing for
    the fake labels (targets of 0.1 instead of 0), but the discriminator is still trained on hard
    zeros, so the smoothing that was meant to keep it from becoming over-confident never happens.

    ## Example
    ```python
    fake_labels = tf.zeros((batch_size, 1)) * 0.1
    ```

    Use instead:
    ```python
    fake_labels = tf.zeros((batch_size, 1)) + 0.1
    ```

    ## Fix safety
    Unsafe: replacing `*` with `+` changes the training targets. That is the intent of the code,
    but it is a change in behaviour, so it is applied only with `--unsafe-fixes`.

    ## Runtime confirmation
    `ganlint profile` records the targets passed to every loss call. The finding is confirmed when
    the targets built here are exactly 0 on every step (tag `GAN202/labels/...`), and dismissed when
    they are not.
    """

    CODE = "GAN202"
    NAME = "label-smoothing-on-zeros"
    SEVERITY = Severity.ERROR
    SUMMARY = "`zeros * c` is still zeros: label smoothing that never happens"
    PROBES = ("label_stats",)

    VALID = [
        Valid("import tensorflow as tf\nreal = tf.ones((8, 1)) * 0.9\n"),
        Valid("import tensorflow as tf\nfake = tf.zeros((8, 1)) + 0.1\n"),
        Valid("import numpy as np\nfake = np.full((8, 1), 0.1)\n"),
        Valid("import tensorflow as tf\nfake = tf.zeros((8, 1)) + 0.05 * tf.random.uniform((8, 1))\n"),
        Valid("import numpy as np\nx = np.zeros(3)\nx = x + 1\ny = x * 0.1\n"),
        Valid("import tensorflow as tf\nfake = tf.zeros((8, 1)) * 0\n"),
    ]
    INVALID = [
        Invalid(
            "import tensorflow as tf\nfake_labels = tf.zeros(8) * 0.1\n",
            expected_fix="import tensorflow as tf\nfake_labels = tf.zeros(8) + 0.1\n",
        ),
        Invalid("import numpy as np\nimport tensorflow as tf\nfake = 0.1 * np.zeros_like(real)\n"),
        Invalid("from keras import ops\nfake = ops.zeros((4, 1)) * 0.05\n"),
        Invalid(
            "import tensorflow as tf\nfake = tf.zeros_like(logits)\nfake *= 0.1\n",
            expected_fix="import tensorflow as tf\nfake = tf.zeros_like(logits)\nfake += 0.1\n",
        ),
        Invalid("import tensorflow as tf\nzeros = tf.zeros((8, 1))\nsmoothed = zeros * 0.1\n"),
    ]

    def check(self, context: RuleContext) -> Iterator[Report]:
        seen: set[int] = set()
        for scaling in context.facts.zero_scalings:
            node = scaling.site.node
            if id(node) in seen:
                continue
            seen.add(id(node))
            constant = f"{scaling.constant:g}"
            if isinstance(node, cst.AugAssign):
                replacement = node.with_changes(operator=cst.AddAssign(
                    whitespace_before=node.operator.whitespace_before,
                    whitespace_after=node.operator.whitespace_after))
            else:
                assert isinstance(node, cst.BinaryOperation)
                replacement = node.with_changes(operator=cst.Add(
                    whitespace_before=node.operator.whitespace_before,
                    whitespace_after=node.operator.whitespace_after))
            yield Report(
                scaling.site,
                f"`zeros * {constant}` is still all zeros; use `zeros + {constant}` for one-sided "
                f"label smoothing",
                fix=FixSpec(Applicability.UNSAFE, f"Replace `*` with `+` (targets become {constant})",
                            (replace_node(scaling.site, replacement),)),
                subject={"labels": {"variable": scaling.variable, "constant": scaling.constant,
                                    "text": scaling.site.code().strip()}},
            )
