"""A simulated camera for training: what a webcam or a phone does to a face before the page crops it.

FER2013's faces are web images, mostly well lit and sharp. A visitor's camera gives dim, noisy, blurred,
compressed faces, often small in the frame. ``CameraDegradation`` puts a share of each batch through that chain,
in the order a camera applies it, every effect drawn per face:

1. exposure and gamma (dim rooms, cheap sensors' tone curves);
2. optics and motion: defocus blur or a short motion streak (one kernel per face from a small bank);
3. sensor noise, shot noise growing with the signal plus read noise, then 8-bit quantisation;
4. JPEG compression of the luminance at a low quality, block by block (8×8 DCT, the IJG quantisation table);
5. a small face in the frame: the face resampled down to a third or a quarter of its side and back up.

All in Keras ops, so it runs inside the training step on any backend. The photometric steps that metadata.json
declares come after it, as they come after the camera in the page.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

# The IJG (libjpeg) luminance quantisation table at quality 50, row by row.
JPEG_LUMINANCE = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61],
    [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77],
    [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101],
    [72, 92, 95, 98, 112, 100, 103, 99],
], dtype=np.float32)
BLOCK = 8


def dct_matrix(size: int = BLOCK) -> np.ndarray:
    """The orthonormal DCT-II matrix: coefficients = D · block · Dᵀ."""
    k, n = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    matrix = np.cos(math.pi * (2 * n + 1) * k / (2 * size)) * math.sqrt(2 / size)
    matrix[0] /= math.sqrt(2)
    return matrix.astype(np.float32)


def jpeg_table(quality):
    """libjpeg's luminance table for ``quality`` (1–100), per face: (N,) qualities → (N, 8, 8)."""
    quality = ops.clip(quality, 1.0, 100.0)
    scale = ops.where(quality < 50, 5000 / quality, 200 - 2 * quality)[:, None, None]
    return ops.clip(ops.floor((JPEG_LUMINANCE[None] * scale + 50) / 100), 1, 255)


def jpeg_luminance(levels, quality):
    """(N, H, W, 1) grey levels 0–255, H and W multiples of 8, compressed and decompressed as JPEG does the Y
    channel at ``quality`` (N,), in floating point (libjpeg's integer DCT differs by about a level)."""
    count, height, width = ops.shape(levels)[0], levels.shape[1], levels.shape[2]
    rows, columns = height // BLOCK, width // BLOCK
    blocks = ops.transpose(ops.reshape(levels - 128, (count, rows, BLOCK, columns, BLOCK)), (0, 1, 3, 2, 4))
    dct = ops.convert_to_tensor(dct_matrix())
    coefficients = ops.einsum("ij,nabjk,lk->nabil", dct, blocks, dct)
    table = jpeg_table(quality)[:, None, None]
    restored = ops.einsum("ji,nabjk,kl->nabil", dct, ops.round(coefficients / table) * table, dct)
    pixels = ops.reshape(ops.transpose(restored, (0, 1, 3, 2, 4)), (count, height, width, 1)) + 128
    return ops.clip(ops.round(pixels), 0, 255)


def blur_kernels(size: int = 9) -> np.ndarray:
    """(size, size, 1, 5) kernels: none, defocus (Gaussian σ 1 and 2 pixels of the 96-pixel face), and a 7-pixel
    motion streak, horizontal and diagonal."""
    centre = size // 2
    y, x = np.mgrid[:size, :size] - centre
    kernels = [np.where((x == 0) & (y == 0), 1.0, 0.0)]
    kernels += [np.exp(-(x**2 + y**2) / (2 * sigma**2)) for sigma in (1.0, 2.0)]
    kernels += [np.where((y == 0) & (abs(x) <= 3), 1.0, 0.0), np.where((x == y) & (abs(x) <= 2), 1.0, 0.0)]
    stacked = np.stack([kernel / kernel.sum() for kernel in kernels], axis=-1)
    return stacked[:, :, None, :].astype(np.float32)


class CameraDegradation(keras.layers.Layer):
    """Each face of a (N, S, S, 1) batch of [0, 1] faces (S a multiple of 8), with probability ``rate``, through the
    camera chain of this module; the others, and every face at inference, unchanged."""

    SMALL_FACE_SIDES = (3, 4)  # the face shrunk to 1/3 or 1/4 of its side, then enlarged back

    def __init__(self, rate: float = 0.5, seed: int | None = None, **kwargs):
        super().__init__(**{"dtype": "float32", "trainable": False, **kwargs})
        self.rate = rate
        self.generator = keras.random.SeedGenerator(seed)
        self.kernels = blur_kernels()

    def uniform(self, count, low=0.0, high=1.0):
        return keras.random.uniform((count,), low, high, seed=self.generator)

    def call(self, faces, training=False):
        if not training or not self.rate:
            return faces
        count, size = ops.shape(faces)[0], faces.shape[1]

        def per_face(values):
            return ops.reshape(values, (-1, 1, 1, 1))

        def sometimes(probability, changed, unchanged):
            return ops.where(per_face(self.uniform(count) < probability), changed, unchanged)

        # 1. exposure and gamma, on light that the augmentation's noise and brightness may have pushed past [0, 1]
        gamma = ops.exp(self.uniform(count, math.log(0.7), math.log(1.5)))
        exposure = self.uniform(count, 0.25, 1.0)
        light = ops.clip(faces, 0, 1)
        x = sometimes(0.6, per_face(exposure) * ops.power(light, per_face(gamma)), light)
        # 2. one of the blur kernels (the first is none)
        blurred = ops.conv(x, ops.convert_to_tensor(self.kernels), padding="same")  # (N, S, S, kernels)
        pick = keras.random.randint((count,), 0, self.kernels.shape[-1], seed=self.generator)
        x = ops.sum(blurred * ops.one_hot(pick, self.kernels.shape[-1])[:, None, None, :], axis=-1, keepdims=True)
        # 3. shot and read noise, then 8 bits
        shot, read = per_face(self.uniform(count, 0.0, 0.006)), per_face(self.uniform(count, 0.0, 0.015))
        noise = keras.random.normal(ops.shape(x), seed=self.generator) * ops.sqrt(shot * x + read**2)
        levels = ops.round(ops.clip(sometimes(0.7, x + noise, x), 0, 1) * 255)
        # 4. JPEG at quality 10–60
        levels = sometimes(0.5, jpeg_luminance(levels, self.uniform(count, 10.0, 60.0)), levels)
        x = levels / 255
        # 5. a small face in the frame
        for shrink in self.SMALL_FACE_SIDES:
            small = ops.image.resize(x, (size // shrink, size // shrink), "bilinear", antialias=True)
            x = sometimes(0.2, ops.image.resize(small, (size, size), "bilinear"), x)
        return sometimes(self.rate, x, faces)

    def compute_output_shape(self, input_shape):
        return input_shape
