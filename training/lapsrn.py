"""LapSRN ×2 in Keras ops, for machines where OpenCV's dnn_superres cannot run (a GPU machine with JAX and no
TensorFlow).

``read_weights`` takes the same ``LapSRN_x2.pb`` that ``training.superres`` gives OpenCV and returns its arrays;
``python -m training pack --lapsrn`` stores them beside the faces, and ``upscale`` then reproduces
OpenCV's output on any Keras backend (tests/test_superres.py holds the two to one grey level). The network: ten
3×3 convolutions of 64 channels with leaky ReLUs, then a sub-pixel ×2 of the features added to a sub-pixel ×2 of
the input (OpenCV feeds grey faces as float in [0, 1] and rounds the result back to uint8).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FEATURE_LAYERS = 10
WEIGHT_NAMES = (
    "0_0f", "0_0bias",
    *(name for layer in range(1, FEATURE_LAYERS)
      for name in (f"Variable{'' if layer == 1 else f'_{layer - 1}'}", f"{layer}_0bias")),
    "reconstruction_2_deconv_f", "reconstruction_2_deconv_f_1",
)
LEAK = 0.2


def read_weights(model_path: str | Path) -> dict[str, np.ndarray]:
    """The LapSRN ×2 graph's constant arrays by name (needs TensorFlow to parse the GraphDef)."""
    import tensorflow as tf
    from tensorflow.python.framework import tensor_util

    graph = tf.compat.v1.GraphDef()
    try:
        graph.ParseFromString(Path(model_path).read_bytes())
    except (OSError, ValueError) as problem:  # DecodeError is a ValueError
        raise ValueError(f"{model_path}: not a readable TensorFlow graph ({problem})") from None
    constants = {node.name: tensor_util.MakeNdarray(node.attr["value"].tensor)
                 for node in graph.node if node.op == "Const"}
    missing = [name for name in WEIGHT_NAMES if name not in constants]
    if missing:
        raise ValueError(f"{model_path}: not the LapSRN ×2 graph (no constant(s) {', '.join(missing[:3])})")
    return {name: constants[name].astype(np.float32) for name in WEIGHT_NAMES}


def upscale(faces: np.ndarray, weights: dict[str, np.ndarray], batch_size: int = 512) -> np.ndarray:
    """(N, H, W) uint8 grey faces → (N, 2H, 2W) uint8, as ``cv2.dnn_superres`` with LapSRN ×2 computes them."""
    from keras import ops

    def depth_to_space(x):  # (N, H, W, 4) → (N, 2H, 2W, 1), TensorFlow's DepthToSpace with block 2
        count, height, width = ops.shape(x)[0], x.shape[1], x.shape[2]
        x = ops.reshape(x, (count, height, width, 2, 2))
        return ops.reshape(ops.transpose(x, (0, 1, 3, 2, 4)), (count, 2 * height, 2 * width, 1))

    kernels = [(weights[WEIGHT_NAMES[2 * layer]], weights[WEIGHT_NAMES[2 * layer + 1]])
               for layer in range(FEATURE_LAYERS)]
    outputs = []
    for start in range(0, len(faces), batch_size):
        image = ops.convert_to_tensor(faces[start:start + batch_size, ..., None].astype(np.float32) / 255)
        features = image
        for kernel, bias in kernels:
            features = ops.leaky_relu(ops.conv(features, kernel, padding="same") + bias, LEAK)
        detail = ops.leaky_relu(
            depth_to_space(ops.conv(features, weights["reconstruction_2_deconv_f"], padding="same")), LEAK)
        coarse = depth_to_space(ops.conv(image, weights["reconstruction_2_deconv_f_1"], padding="same"))
        upscaled = ops.leaky_relu(coarse + detail, LEAK)
        outputs.append(np.clip(np.rint(ops.convert_to_numpy(upscaled)[..., 0] * 255), 0, 255).astype(np.uint8))
    return np.concatenate(outputs) if outputs else np.zeros((0, *(2 * s for s in faces.shape[1:])), np.uint8)
