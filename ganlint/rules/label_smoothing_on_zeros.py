from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from ganlint.findings import Applicability, Severity
from ganlint.model.facts import ZeroScaling
from ganlint.model.flows import names_labels
from ganlint.rule import FixSpec, Invalid, Report, Rule, RuleContext, Valid, replace_node

_LOSS = "import tensorflow as tf\nbce = tf.keras.losses.BinaryCrossentropy()\n"


class LabelSmoothingOnZeros(Rule):
    """
    ## What it does
    Flags label tensors built as `zeros(...) * c`, `c * zeros_like(...)` or `labels *= c` on a
    tensor of zeros, for TensorFlow, NumPy and `keras.ops`, also when the zeros were assigned to a
    name first.

    It reports only labels: the product must reach the `y_true` of a loss or the `y` of
    `fit`/`train_on_batch`, directly or through concatenation, reshaping or arithmetic. Where that
    flow cannot be followed, a name that says labels or targets (`fake_labels`, `y_fake`,
    `targets`) is enough. A zeros array written in place before the product (`x[i] = ...`,
    `x.fill(v)`, `np.copyto(x, ...)`, `x += ...`, `np.add(..., out=x)`) is not zeros any more:
    an image buffer filled tile by tile and rescaled with `image * 127.5 + 127.5` is not reported.

    ## Why is this bad?
    Multiplying zeros by a constant leaves zeros. The code reads as one-sided label smoothing for
    the fake labels (targets of 0.1 instead of 0), but the discriminator is still trained on hard
    zeros, so the smoothing that was meant to keep it from becoming over-confident never happens.

    ## Example
    ```python
    fake_labels = tf.zeros((batch_size, 1)) * 0.1
    d_loss = bce(fake_labels, discriminator(fake_images))
    ```

    Use instead:
    ```python
    fake_labels = tf.zeros((batch_size, 1)) + 0.1
    d_loss = bce(fake_labels, discriminator(fake_images))
    ```

    ## Fix safety
    Unsafe: replacing `*` with `+` changes the training targets. That is the intent of the code,
    but it is a change in behaviour, so it is applied only with `--unsafe-fixes`, and offered only
    when the product is proven to be used as labels (a name alone is not proof).

    """

    CODE = "GAN202"
    NAME = "label-smoothing-on-zeros"
    SEVERITY = Severity.ERROR
    SUMMARY = "`zeros * c` is still zeros: label smoothing that never happens"

    VALID = (
        Valid("import tensorflow as tf\nreal = tf.ones((8, 1)) * 0.9\n"),
        Valid("import tensorflow as tf\nfake = tf.zeros((8, 1)) + 0.1\n"),
        Valid("import numpy as np\nfake = np.full((8, 1), 0.1)\n"),
        Valid("import tensorflow as tf\nfake = tf.zeros((8, 1)) + 0.05 * tf.random.uniform((8, 1))\n"),
        Valid("import numpy as np\nx = np.zeros(3)\nx = x + 1\ny = x * 0.1\n"),
        Valid("import tensorflow as tf\nfake = tf.zeros((8, 1)) * 0\n"),
        # an image buffer filled tile by tile, then rescaled: not labels
        Valid("import numpy as np\nimport tensorflow as tf\n"
              "def combine_images(images):\n"
              "    image = np.zeros((56, 56))\n"
              "    for index, tile in enumerate(images):\n"
              "        image[index * 28:(index + 1) * 28, :28] = tile[:, :, 0]\n"
              "    return image\n"
              "image = combine_images(generated)\n"
              "image = image * 127.5 + 127.5\n"),
        # a zeros product used only as model input, named for what it is
        Valid("import numpy as np\nimport tensorflow as tf\n"
              "canvas = np.zeros((1, 28, 28)) * 0.5\n"),
    )
    INVALID = (
        Invalid(
            _LOSS + "fake_labels = tf.zeros(8) * 0.1  # <- here: tf.zeros\n"
            "loss = bce(fake_labels, fake_output)\n",
            expected_fix=_LOSS + "fake_labels = tf.zeros(8) + 0.1  # <- here: tf.zeros\n"
            "loss = bce(fake_labels, fake_output)\n",
        ),
        Invalid("import numpy as np\nimport tensorflow as tf\nfake = 0.1 * np.zeros_like(real)  # <- here: 0.1\n"),
        Invalid("from keras import ops\nfake = ops.zeros((4, 1)) * 0.05  # <- here: ops\n"),
        Invalid(
            _LOSS + "fake = tf.zeros_like(logits)\nfake *= 0.1  # <- here\nloss = bce(fake, logits)\n",
            expected_fix=_LOSS + "fake = tf.zeros_like(logits)\nfake += 0.1  # <- here\nloss = bce(fake, logits)\n",
        ),
        Invalid("import tensorflow as tf\nzeros = tf.zeros((8, 1))\nsmoothed_labels = zeros * 0.1  # <- here: zeros\n"),
        # the Keras-2 recipe: labels for `train_on_batch`, however they are named
        Invalid("import numpy as np\nfrom keras.models import Sequential\nfrom keras.layers import Dense\n"
                "d = Sequential([Dense(1, activation='sigmoid')])\n"
                "d.compile(loss='binary_crossentropy', optimizer='adam')\n"
                "a = np.zeros((32, 1)) * 0.1  # <- here: np\n"
                "b = np.concatenate([np.ones((32, 1)), a])\n"
                "d.train_on_batch(batch, b)\n"),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        flows = context.label_flows()
        by_site: dict[int, list[ZeroScaling]] = {}
        for scaling in context.facts.zero_scalings:
            by_site.setdefault(id(scaling.site.node), []).append(scaling)
        for scalings in by_site.values():  # one site, as many products as the code ran
            proven = any(flows.is_label(s.product) for s in scalings)
            scaling = scalings[0]
            if not proven and not names_labels(scaling.variable):
                continue
            constant = f"{scaling.constant:g}"
            yield Report(
                scaling.site,
                f"`zeros * {constant}` is still all zeros; use `zeros + {constant}` for one-sided "
                f"label smoothing",
                fix=_fix(scaling, constant) if proven else None,
                subject={"labels": {"variable": scaling.variable, "constant": scaling.constant,
                                    "text": scaling.site.code().strip(), "proven": proven}},
            )


def _fix(scaling: ZeroScaling, constant: str) -> FixSpec:
    node = scaling.site.node
    replacement: cst.CSTNode
    if isinstance(node, cst.AugAssign):
        operator = node.operator
        assert isinstance(operator, cst.MultiplyAssign)
        replacement = node.with_changes(operator=cst.AddAssign(
            whitespace_before=operator.whitespace_before, whitespace_after=operator.whitespace_after))
    else:
        assert isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply)
        replacement = node.with_changes(operator=cst.Add(
            whitespace_before=node.operator.whitespace_before, whitespace_after=node.operator.whitespace_after))
    return FixSpec(Applicability.UNSAFE, f"Replace `*` with `+` (targets become {constant})",
                   (replace_node(scaling.site, replacement),))
