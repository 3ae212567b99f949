"""The emotion CNNs: VGG-style stacks of 3×3 convolutions sized for real-time use in a browser.

Two architectures, chosen with ``--architecture``:

- ``vgg96``: the first block runs at the super-resolved 96×96 size, so LapSRN's detail reaches the features; a
  strided convolution then brings it to 48×48, where three more double-width blocks follow, each halving the size.
- ``pyramid``: a cheap strided stem reads the 96×96 face straight into 48×48 features, and the width grows
  faster than the size shrinks (channels ×2 while area ÷4), so most parameters sit at 12×12 and 6×6, where
  they cost the fewest multiply-adds per face.
- ``separable``: the pyramid with each block's 3×3 convolutions made depthwise-separable (a 3×3 depthwise filter,
  then a 1×1 convolution): about half the multiply-adds at the same width, or twice the width at the same cost.
"""

from __future__ import annotations

import keras
from keras import layers

ARCHITECTURES = ("vgg96", "pyramid", "separable")


def build_model(
    input_size: int = 96,
    num_classes: int = 7,
    width: int = 32,
    dropout: float = 0.4,
    weight_decay: float = 5e-4,
    architecture: str = "vgg96",
) -> keras.Model:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture {architecture!r}: expected one of {', '.join(ARCHITECTURES)}")
    regularizer = keras.regularizers.L2(weight_decay) if weight_decay else None

    def conv(x, filters: int, stride: int = 1):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                          kernel_regularizer=regularizer)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    def separable_conv(x, filters: int, stride: int = 1):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return conv_1x1(x, filters)

    def conv_1x1(x, filters: int):
        x = layers.Conv2D(filters, 1, use_bias=False, kernel_regularizer=regularizer)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inputs = keras.Input((input_size, input_size, 1), name="face")
    if architecture == "pyramid":
        x = _pyramid_features(inputs, conv, conv, input_size, width, dropout)
    elif architecture == "separable":
        x = _pyramid_features(inputs, conv, separable_conv, input_size, width, dropout)
    else:
        x = _vgg96_features(inputs, conv, input_size, width, dropout)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    # Float32 output even under a mixed-precision policy, so the probabilities are exact.
    outputs = layers.Dense(num_classes, activation="softmax", name="emotion", dtype="float32",
                           kernel_regularizer=regularizer)(x)
    return keras.Model(inputs, outputs, name=f"emotion_{architecture}")


def _vgg96_features(inputs, conv, input_size: int, width: int, dropout: float):
    x = conv(inputs, width // 2)
    if input_size > 48:
        x = conv(x, width, stride=input_size // 48)
    else:
        x = conv(x, width)
    for multiplier in (2, 4, 8):
        x = conv(x, width * multiplier)
        x = conv(x, width * multiplier)
        x = layers.MaxPooling2D()(x)
        x = layers.SpatialDropout2D(dropout / 4)(x)
    return conv(x, width * 8)


def _pyramid_features(inputs, conv, block_conv, input_size: int, width: int, dropout: float):
    # Stem: one strided convolution, so nothing but a single-channel 3×3 filter bank runs at 96×96.
    x = conv(inputs, width, stride=max(1, input_size // 48))
    x = conv(x, width * 3 // 2)
    x = layers.MaxPooling2D()(x)  # 24×24
    for multiplier in (3, 6, 12):  # 24×24, 12×12, 6×6
        x = block_conv(x, width * multiplier)
        x = block_conv(x, width * multiplier)
        if multiplier != 12:
            x = layers.MaxPooling2D()(x)
            x = layers.SpatialDropout2D(dropout / 4)(x)
    return x


def multiply_adds(model: keras.Model) -> int:
    """Multiply-adds of one face through the convolutions (the dense head and pooling are negligible)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += multiply_adds(layer)
        elif isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D)):
            _, height, width, _ = layer.output.shape
            kernel = layer.kernel.shape  # depthwise: (3, 3, channels, 1), one filter per channel
            total += height * width * int(kernel[0] * kernel[1] * kernel[2] * kernel[3])
    return total


def _float32_config(config):
    """A model config with every layer's dtype policy set to float32 (for export and exact evaluation)."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy":
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: _float32_config(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_float32_config(value) for value in config]
    return config


def inference_model(trained: keras.Model, flip_average: bool = False) -> keras.Model:
    """The trained network in float32, optionally averaging its output with that of the mirrored face."""
    network = keras.Model.from_config(_float32_config(trained.get_config()))
    network.set_weights(trained.get_weights())
    if not flip_average:
        return network
    face = keras.Input(network.input_shape[1:], name="face")
    # One call on [faces; mirrored faces] rather than two calls, so the exported graph holds one copy of the weights.
    both = keras.ops.concatenate([face, keras.ops.flip(face, axis=2)], axis=0)
    original, mirrored = keras.ops.split(network(both), 2, axis=0)
    averaged = layers.Average(name="emotion", dtype="float32")([original, mirrored])
    return keras.Model(face, averaged, name=f"{network.name}_flip_average")
