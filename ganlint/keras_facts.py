"""What Keras and TensorFlow names mean, stated once for both halves of ganlint.

The static half matches these names against the source (`ganlint.model.catalog`); the runtime half
matches them against live objects (`type(layer).__name__`, an activation function's `__name__`,
a variable name in the user's script). Plain data and small pure functions: importing this module
never imports TensorFlow.
"""

from __future__ import annotations

import re

# -- activations -----------------------------------------------------------------------------

# Every spelling of an activation, mapped to one normalised name.
ACTIVATION_ALIASES: dict[str, str] = {
    "sigmoid": "sigmoid", "hard_sigmoid": "hard_sigmoid", "hardsigmoid": "hard_sigmoid",
    "tanh": "tanh", "relu": "relu", "relu6": "relu", "linear": "linear", "identity": "linear",
    "softmax": "softmax", "leaky_relu": "leaky_relu", "elu": "elu", "selu": "selu", "gelu": "gelu",
    "swish": "swish", "silu": "swish", "softplus": "softplus", "softsign": "softsign",
    "exponential": "exponential", "log_softmax": "log_softmax", "mish": "mish", "hard_silu": "swish",
    "hard_swish": "swish",
}
# Whose derivative is small everywhere away from 0: a hidden layer with one shrinks the gradient.
SATURATING_ACTIVATIONS = frozenset({"sigmoid", "hard_sigmoid", "tanh"})
# Whose output is a probability: a loss that expects logits must not receive it.
PROBABILITY_ACTIVATIONS = frozenset({"sigmoid", "softmax", "hard_sigmoid"})
# Whose output lies in a fixed interval: a Wasserstein critic must not end in one.
BOUNDED_ACTIVATIONS = frozenset({"sigmoid", "hard_sigmoid", "tanh", "softmax", "softsign"})
# The interval each bounded activation maps into.
ACTIVATION_RANGES: dict[str, tuple[float, float]] = {
    "sigmoid": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0),
    "softsign": (-1.0, 1.0),
}


def activation_name(name: str) -> str | None:
    """The normalised name of an activation spelled ``name`` (a string or a function's ``__name__``)."""
    return ACTIVATION_ALIASES.get(name.lower())


# -- layers ----------------------------------------------------------------------------------

# Layers whose `activation=` argument defaults to linear.
ACTIVATED_LAYERS = frozenset({
    "Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
    "Conv3DTranspose", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D",
    "DepthwiseConv2D", "Convolution1D", "Convolution2D", "Convolution3D",
    "Convolution2DTranspose", "LocallyConnected1D", "LocallyConnected2D",
})
# Layers that only move values around: an activation followed only by these is still the output.
SHAPE_LAYERS = frozenset({
    "Reshape", "Flatten", "Cropping1D", "Cropping2D", "Cropping3D", "Permute", "Dropout",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout",
    "AlphaDropout", "ActivityRegularization", "InputLayer", "Masking", "Identity",
})
# Weight-free layers that rescale or resample values: after an output activation they keep it the
# output (their range follows from it).
RESCALING_LAYERS = frozenset({
    "Rescaling", "Normalization", "CenterCrop", "Resizing", "UpSampling1D", "UpSampling2D",
    "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
})
# Recurrent layers: their internal gates are sigmoids by design.
RECURRENT_LAYERS = frozenset({
    "LSTM", "GRU", "SimpleRNN", "RNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "Bidirectional",
    "LSTMCell", "GRUCell", "SimpleRNNCell", "CuDNNLSTM", "CuDNNGRU", "TimeDistributed",
})
# Layers that are an activation: their class name fixes it.
ACTIVATION_LAYERS: dict[str, str] = {
    "LeakyReLU": "leaky_relu", "ReLU": "relu", "PReLU": "prelu", "ELU": "elu", "Softmax": "softmax",
    "ThresholdedReLU": "relu",
}
# Merge layers: "multiply" merges make gates (squeeze-excitation, attention, GLU).
MERGE_LAYERS: dict[str, str] = {
    "Multiply": "multiply", "Add": "merge", "Concatenate": "merge", "Average": "merge",
    "Subtract": "merge", "Maximum": "merge", "Minimum": "merge", "Dot": "merge",
}
NORMALIZATION_LAYERS = frozenset({
    "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
    "SpectralNormalization", "InstanceNormalization",
})
# Layers that compute differently when called with `training=True`.
TRAINING_MODE_LAYERS = frozenset({
    "BatchNormalization", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
})
UPSAMPLING_LAYERS = frozenset({
    "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "UpSampling1D", "UpSampling2D",
    "UpSampling3D", "Convolution2DTranspose",
})

# -- losses ----------------------------------------------------------------------------------

# Loss classes and functions whose `from_logits` says what they expect (default False).
LOSS_CLASSES = frozenset({
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy",
})
LOSS_FUNCTIONS = frozenset({
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "binary_focal_crossentropy",
})
# TensorFlow losses that always take logits.
LOGIT_LOSSES = frozenset({
    "tensorflow.nn.sigmoid_cross_entropy_with_logits",
    "tensorflow.nn.softmax_cross_entropy_with_logits",
    "tensorflow.nn.sparse_softmax_cross_entropy_with_logits",
    "tensorflow.nn.softmax_cross_entropy_with_logits_v2",
    "tensorflow.compat.v1.losses.sigmoid_cross_entropy",
    "tensorflow.losses.sigmoid_cross_entropy",
})
# `compile(loss="...")` strings, normalised; all of them expect probabilities.
LOSS_STRINGS: dict[str, str] = {
    "binary_crossentropy": "binary_crossentropy", "bce": "binary_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
}
# Binary cross-entropies: the losses a GAN's discriminator head is judged against.
BINARY_CROSSENTROPIES = frozenset({
    "BinaryCrossentropy", "binary_crossentropy", "BinaryFocalCrossentropy",
    "binary_focal_crossentropy", "sigmoid_cross_entropy_with_logits", "sigmoid_cross_entropy",
})
# Keras clips probabilities to [EPSILON, 1 - EPSILON] before taking their log.
EPSILON = 1e-7

# -- optimizers ------------------------------------------------------------------------------

OPTIMIZER_CLASSES = frozenset({
    "Adam", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl", "AdamW", "Lion",
    "Adafactor", "Lamb", "Muon", "LossScaleOptimizer",
})
CLIP_KEYWORDS = ("clipnorm", "clipvalue", "global_clipnorm")

# -- roles -----------------------------------------------------------------------------------

GENERATOR = "generator"
DISCRIMINATOR = "discriminator"
ROLE_PREFIX = {GENERATOR: "G", DISCRIMINATOR: "D"}

# Words that name a network, once an identifier is split into words (`netG` -> net, g).
GENERATOR_WORDS = frozenset({"generator", "gen", "netg", "g", "gmodel", "generative", "decoder_g"})
DISCRIMINATOR_WORDS = frozenset({"discriminator", "disc", "netd", "d", "dmodel", "critic", "discrim"})

_SNAKE_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def name_words(identifier: str) -> list[str]:
    """Split `make_generatorModel` / `netG` / `g_model` / `self.d_opt` into lowercase words."""
    spaced = _SNAKE_BOUNDARY.sub("_", identifier.replace(".", "_"))
    return [word for word in spaced.lower().split("_") if word]


def role_named(identifiers: list[str] | tuple[str, ...] | str) -> str | None:
    """The role that the names alone suggest, if exactly one (`g_optimizer` -> generator)."""
    if isinstance(identifiers, str):
        identifiers = [identifiers]
    words: set[str] = set()
    for identifier in identifiers:
        words.update(name_words(identifier))
    generator = bool(words & GENERATOR_WORDS) or any(w.startswith("generat") for w in words)
    discriminator = bool(words & DISCRIMINATOR_WORDS) or any(w.startswith("discrimin") for w in words)
    if generator and not discriminator:
        return GENERATOR
    if discriminator and not generator:
        return DISCRIMINATOR
    return None
