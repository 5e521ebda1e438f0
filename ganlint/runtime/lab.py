"""(TF) What a check's counterfactual works with: the trained networks, one fixed batch of noise
and real data, and small helpers to recompute a loss or a gradient the other way.

Every counterfactual runs on the weights the run ended with and on the same batch, with the
hooks paused, and restores anything it changes (an activation swapped, a head made linear).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ganlint.keras_facts import DISCRIMINATOR, GENERATOR
from ganlint.runtime.errors import Unmeasurable
from ganlint.runtime.networks import Networks, activation_of, kernel_of, layers_of


@dataclass
class Lab:
    tf: Any
    keras: Any
    networks: Networks
    z: Any  # a fixed batch of the generator's input
    real: Any  # a fixed batch of real samples (what the discriminator takes)
    head: str  # the discriminator's head: "probabilities", "logits" or "other"
    graph: bool  # the user's step runs as a tf.function
    namespace: dict = field(default_factory=dict)
    losses: dict[str, Any] = field(default_factory=dict)  # the user's loss objects by name
    functions: dict[str, Any] = field(default_factory=dict)  # the user's functions by name

    @property
    def generator(self) -> Any:
        return self.networks.generator

    @property
    def discriminator(self) -> Any:
        return self.networks.discriminator

    def model(self, role: str) -> Any:
        model = self.generator if role == GENERATOR else self.discriminator if role == DISCRIMINATOR else None
        if model is None:
            raise Unmeasurable(f"no {role} was found")
        return model

    # -- layers -------------------------------------------------------------------------------

    def layers(self, role: str) -> list[Any]:
        return layers_of(self.model(role))

    def find_layer(self, role: str, subject_layer: dict) -> Any:
        """The runtime layer a static finding's subject names: by `name=`, else by its class and
        its index among the layers of that class."""
        layers = self.layers(role)
        name, kind, kind_index = subject_layer.get("name"), subject_layer.get("kind"), subject_layer.get("kind_index")
        if name:
            for layer in layers:
                if layer.name == name:
                    return layer
        if kind and kind_index is not None:
            same = [layer for layer in layers if type(layer).__name__ == kind]
            if kind_index < len(same):
                return same[kind_index]
        raise Unmeasurable(f"no layer of the {role} matches {subject_layer}")

    @contextlib.contextmanager
    def activation(self, layer: Any, function: Any) -> Iterator[None]:
        """``layer`` computes with ``function`` as its activation inside the block."""
        saved = layer.activation
        layer.activation = function
        try:
            yield
        finally:
            layer.activation = saved

    def head_layer(self) -> Any:
        for layer in reversed(self.layers(DISCRIMINATOR)):
            activation = activation_of(layer)
            if activation in ("sigmoid", "hard_sigmoid"):
                return layer
            if type(layer).__name__ in ("Flatten", "Reshape", "Dropout") or activation is None:
                continue
            if activation != "linear":
                return None
        return None

    def d_logits(self, x: Any, training: bool = True) -> Any:
        """The discriminator's pre-sigmoid output."""
        if self.head != "probabilities":
            return self.discriminator(x, training=training)
        layer = self.head_layer()
        if layer is None:
            raise Unmeasurable("cannot find the discriminator's sigmoid head to take its logits")
        with self.activation(layer, self.keras.activations.linear):
            return self.discriminator(x, training=training)

    # -- losses and gradients -------------------------------------------------------------------

    def nonsaturating_loss(self, role: str) -> Any:
        """The standard (non-saturating) GAN loss of ``role`` on the fixed batch, from true logits."""
        tf = self.tf
        fake_logits = self.d_logits(self.generator(self.z, training=True))
        if role == GENERATOR:
            return tf.reduce_mean(tf.nn.softplus(-fake_logits))
        real_logits = self.d_logits(self.real)
        return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))

    def gradients(self, loss_fn: Any, variables: list[Any]) -> list[Any]:
        tf = self.tf
        with tf.GradientTape() as tape:
            loss = loss_fn()
        return tape.gradient(loss, variables)

    def rms(self, gradient: Any) -> float:
        if gradient is None:
            raise Unmeasurable("no gradient reached the variable in the counterfactual pass")
        size = max(1, int(math.prod(gradient.shape)))
        return float(self.tf.norm(self.tf.cast(gradient, self.tf.float32))) / math.sqrt(size)

    def norm(self, gradients: list[Any]) -> float:
        present = [self.tf.cast(g, self.tf.float32) for g in gradients if g is not None]
        return float(self.tf.linalg.global_norm(present)) if present else 0.0

    def kernel_of(self, layer: Any) -> Any:
        return kernel_of(layer)
