"""On-the-fly, batched, seeded augmentation for grey face batches in [0, 1].

Every random draw is a stateless op keyed by an explicit seed, so a batch's augmentation depends only on
(seed, batch) and a resumed run sees exactly the batches an uninterrupted one would have.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import tensorflow as tf


@dataclass(frozen=True)
class AugmentConfig:
    flip: bool = True
    brightness: float = 0.15  # ± added to [0, 1] pixels
    contrast: float = 0.3  # contrast factor drawn from 1 ± this, around each image's mean
    rotation_degrees: float = 10.0
    zoom: float = 0.1  # scale drawn from 1 ± this
    shift: float = 0.08  # translation, as a fraction of the side
    erase_probability: float = 0.5  # random erasing (Zhong et al. 2017) of one rectangle
    erase_area: tuple[float, float] = (0.02, 0.15)
    # What the browser feeds the model rather than LapSRN output: sharp or soft camera crops resized bilinearly.
    resample_probability: float = 0.0  # chance of a bilinear down-and-up resize to a random 40–96 px side
    gamma: float = 0.0  # lighting: pixel ** exp(± this)
    noise: float = 0.0  # sensor noise: Gaussian, standard deviation drawn from [0, this]

    def as_dict(self) -> dict:
        return asdict(self)


NO_AUGMENTATION = AugmentConfig(False, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
_MIN_RESAMPLE_SIDE = 40


def augment_batch(images: tf.Tensor, seed: tf.Tensor, config: AugmentConfig = AugmentConfig()) -> tf.Tensor:
    """Augment a (B, H, W, 1) float32 batch in [0, 1]; ``seed`` is a shape-[2] int tensor."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=9)
    batch = tf.shape(images)[0]

    def uniform(index: int, low: float, high: float, shape=None) -> tf.Tensor:
        return tf.random.stateless_uniform(shape if shape is not None else [batch], seeds[index], low, high)

    if config.flip:
        flipped = uniform(0, 0.0, 1.0) < 0.5
        images = tf.where(flipped[:, None, None, None], tf.reverse(images, axis=[2]), images)
    if config.rotation_degrees or config.zoom or config.shift:
        images = _random_affine(images, uniform(1, 0.0, 1.0, [batch, 4]), config)
    if config.brightness:
        images = images + uniform(2, -config.brightness, config.brightness)[:, None, None, None]
    if config.contrast:
        factor = uniform(3, 1.0 - config.contrast, 1.0 + config.contrast)[:, None, None, None]
        mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
        images = (images - mean) * factor + mean
    images = tf.clip_by_value(images, 0.0, 1.0)
    if config.resample_probability:
        images = _random_resample(images, uniform(5, 0.0, 1.0, [2]), config.resample_probability)
    if config.gamma:
        images = images ** tf.exp(uniform(6, -config.gamma, config.gamma))[:, None, None, None]
    if config.noise:
        sigma = uniform(7, 0.0, config.noise)[:, None, None, None]
        images = tf.clip_by_value(images + sigma * tf.random.stateless_normal(tf.shape(images), seeds[8]), 0.0, 1.0)
    if config.erase_probability:
        images = _random_erase(images, uniform(4, 0.0, 1.0, [batch, 5]), config)
    return images


def _random_affine(images: tf.Tensor, draws: tf.Tensor, config: AugmentConfig) -> tf.Tensor:
    """One rotation + zoom + shift about the centre, applied in a single resampling pass."""
    height = tf.cast(tf.shape(images)[1], tf.float32)
    width = tf.cast(tf.shape(images)[2], tf.float32)
    angle = (draws[:, 0] * 2 - 1) * config.rotation_degrees * math.pi / 180
    scale = 1 + (draws[:, 1] * 2 - 1) * config.zoom
    shift_x = (draws[:, 2] * 2 - 1) * config.shift * width
    shift_y = (draws[:, 3] * 2 - 1) * config.shift * height
    # The transform maps output pixel coordinates to input ones: inverse rotation and scale about the centre.
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    cx, cy = (width - 1) / 2, (height - 1) / 2
    a0, a1 = cos, -sin
    b0, b1 = sin, cos
    a2 = cx - a0 * (cx + shift_x) - a1 * (cy + shift_y)
    b2 = cy - b0 * (cx + shift_x) - b1 * (cy + shift_y)
    zeros = tf.zeros_like(angle)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT",
    )


def _random_resample(images: tf.Tensor, draws: tf.Tensor, probability: float) -> tf.Tensor:
    """With ``probability``, the whole batch goes down to a random side and back up bilinearly (one size per
    batch keeps the op batched): detail LapSRN restored is lost, as in a small face resized by the page."""
    size = tf.shape(images)[1:3]
    side = tf.cast(_MIN_RESAMPLE_SIDE + draws[1] * tf.cast(size[0] - _MIN_RESAMPLE_SIDE, tf.float32), tf.int32)
    smaller = tf.image.resize(images, [side, side], "bilinear", antialias=True)
    resampled = tf.clip_by_value(tf.image.resize(smaller, size, "bilinear"), 0.0, 1.0)  # antialiasing overshoots
    return tf.cond(draws[0] < probability, lambda: resampled, lambda: images)


def _random_erase(images: tf.Tensor, draws: tf.Tensor, config: AugmentConfig) -> tf.Tensor:
    """Replace one random rectangle per chosen image with uniform noise."""
    shape = tf.shape(images)
    height, width = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    low, high = config.erase_area
    area = (low + draws[:, 0] * (high - low)) * height * width
    aspect = tf.exp((draws[:, 1] * 2 - 1) * math.log(3.0))
    box_h = tf.minimum(tf.sqrt(area * aspect), height)
    box_w = tf.minimum(tf.sqrt(area / aspect), width)
    top = draws[:, 2] * (height - box_h)
    left = draws[:, 3] * (width - box_w)
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, None, :]
    inside = (
        (rows >= top[:, None, None]) & (rows < (top + box_h)[:, None, None])
        & (cols >= left[:, None, None]) & (cols < (left + box_w)[:, None, None])
    )
    chosen = (draws[:, 4] < config.erase_probability)[:, None, None]
    mask = (inside & chosen)[..., None]
    noise_seed = tf.cast(tf.stack([tf.reduce_sum(draws) * 1e6, 7.0]), tf.int64)
    noise = tf.random.stateless_uniform(shape, noise_seed, 0.0, 1.0)
    return tf.where(mask, noise, images)
