"""Start a narrower network from a trained wider one of the same architecture (structured pruning).

Each convolution keeps the output channels whose filters, scaled by the batch normalisation after them, have the
largest L1 norm (Li et al. 2017, "Pruning filters for efficient ConvNets"); the next layer keeps the matching input
channels. The narrower network then starts from the features the wide one learned, instead of from noise, and a
short distillation from the wide network recovers most of its accuracy (see README, "How the shipped model was
made").
"""

from __future__ import annotations

import logging

import numpy as np
from keras import layers

log = logging.getLogger(__name__)

_WEIGHTED = (layers.Conv2D, layers.BatchNormalization, layers.Dense)


def _weighted_layers(model) -> list:
    found = [layer for layer in model.layers if layer.weights]
    unsupported = [layer.name for layer in found if not isinstance(layer, _WEIGHTED)]
    if unsupported:
        raise ValueError(f"{model.name}: pruning supports plain convolutions, batch normalisation and a dense head, "
                         f"not {', '.join(unsupported)}")
    return found


def _filter_importance(conv_kernel: np.ndarray, norm: layers.BatchNormalization) -> np.ndarray:
    gamma, _, _, variance = norm.get_weights()
    scale = np.abs(gamma) / np.sqrt(variance + norm.epsilon)
    return np.abs(conv_kernel).sum(axis=(0, 1, 2)) * scale


def prune_into(source, target) -> None:
    """Set ``target``'s weights from ``source``'s, keeping each layer's most important channels.

    Both are models of one architecture built at different widths (``training.model.build_model``): the same
    layers in the same order, each convolution followed by its batch normalisation, then a dense head."""
    wide, narrow = _weighted_layers(source), _weighted_layers(target)
    if [type(layer) for layer in wide] != [type(layer) for layer in narrow]:
        raise ValueError(f"{source.name} and {target.name} differ in their layers: pruning needs one architecture")
    kept_inputs = np.arange(source.input_shape[-1])
    kept_outputs = kept_inputs
    for index, (wide_layer, narrow_layer) in enumerate(zip(wide, narrow, strict=True)):
        weights = wide_layer.get_weights()
        if isinstance(wide_layer, layers.Conv2D):
            kernel = weights[0][:, :, kept_inputs, :]
            channels = narrow_layer.get_weights()[0].shape[-1]
            if channels > kernel.shape[-1]:
                raise ValueError(f"{narrow_layer.name}: {channels} channels, more than the {kernel.shape[-1]} of "
                                 f"{wide_layer.name} it would start from")
            importance = _filter_importance(kernel, wide[index + 1])
            kept_outputs = np.sort(np.argsort(-importance, kind="stable")[:channels])
            narrow_layer.set_weights([kernel[..., kept_outputs]])
            kept_inputs = kept_outputs
        elif isinstance(wide_layer, layers.BatchNormalization):
            narrow_layer.set_weights([weight[kept_outputs] for weight in weights])
        else:  # the dense head reads the last convolution's channels, averaged over the face
            kernel, bias = weights
            narrow_layer.set_weights([kernel[kept_inputs], bias])


def start_from(model, path: str) -> None:
    """Set ``model``'s weights from the checkpoint at ``path``: a copy when the shapes match, otherwise, for a wider
    network of the same architecture, its most important channels."""
    import keras

    checkpoint = keras.models.load_model(path, compile=False)
    if [w.shape for w in checkpoint.weights] == [w.shape for w in model.weights]:
        model.set_weights(checkpoint.get_weights())
        log.info("starting from the weights of %s", path)
        return
    prune_into(checkpoint, model)
    log.info("starting from %s pruned: %d of its %d parameters", path, model.count_params(), checkpoint.count_params())
