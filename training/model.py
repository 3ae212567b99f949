"""The emotion CNN: a VGG-style stack of 3×3 convolutions sized for real-time use in a browser.

The first block runs at the super-resolved 96×96 size, so LapSRN's detail reaches the features; a strided
convolution then brings it to 48×48, where three more double-width blocks follow, each halving the size.
"""

from __future__ import annotations

import keras
from keras import layers


def build_model(
    input_size: int = 96,
    num_classes: int = 7,
    width: int = 32,
    dropout: float = 0.4,
    weight_decay: float = 5e-4,
) -> keras.Model:
    regularizer = keras.regularizers.L2(weight_decay) if weight_decay else None

    def conv(x, filters: int, stride: int = 1):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                          kernel_regularizer=regularizer)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inputs = keras.Input((input_size, input_size, 1), name="face")
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
    x = conv(x, width * 8)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    # Float32 output even under a mixed-precision policy, so the probabilities are exact.
    outputs = layers.Dense(num_classes, activation="softmax", name="emotion", dtype="float32",
                           kernel_regularizer=regularizer)(x)
    return keras.Model(inputs, outputs, name="emotion_cnn")


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
    averaged = layers.Average(name="emotion")([original, mirrored])
    return keras.Model(face, averaged, name=f"{network.name}_flip_average")
