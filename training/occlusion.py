"""Things in front of a face, for training: a hand, glasses or a lock of hair.

Visitors rest a chin on a hand, wear glasses, and have hair over an eye; FER2013's faces mostly do not.
``Occlusion`` draws one of three occluders over a share of each batch, shaped and placed per face in the face's
own frame (FER2013's framing: eyes about 40% down, mouth about 75%), with a soft edge:

- a hand: a palm (an ellipse) rising from the bottom or a side, with four fingers reaching up or across;
- glasses: two lens rims joined by a bridge at eye height, the lenses clear or tinted dark as sunglasses are;
- hair: a dark mass from the top, its lower edge slanting and waving across the forehead and maybe an eye.

Each occluder has a grey level and a faint texture of its own. All in Keras ops on a (N, S, S, 1) batch of [0, 1]
faces; every shape is computed for the whole batch and each face keeps its draw, so the step's shapes are static.
"""

from __future__ import annotations

import math

import keras
from keras import ops

KINDS = ("hand", "glasses", "hair")


class Occlusion(keras.layers.Layer):
    """Each face, with probability ``rate``, with one of ``KINDS`` drawn over it; the others, and every face at
    inference, unchanged."""

    def __init__(self, rate: float = 0.25, seed: int | None = None, **kwargs):
        super().__init__(**{"dtype": "float32", "trainable": False, **kwargs})
        self.rate = rate
        self.generator = keras.random.SeedGenerator(seed)

    def uniform(self, count, low=0.0, high=1.0):
        values = keras.random.uniform((count,), low, high, seed=self.generator)
        return ops.reshape(values, (-1, 1, 1, 1))

    def call(self, faces, training=False):
        if not training or not self.rate:
            return faces
        count, size = ops.shape(faces)[0], faces.shape[1]
        # Pixel centres in the face's frame, 0 to 1 (x across, y down), shaped to broadcast over faces.
        grid = (ops.arange(size, dtype="float32") + 0.5) / size
        y, x = ops.reshape(grid, (1, size, 1, 1)), ops.reshape(grid, (1, 1, size, 1))
        masks = [self.hand(count, x, y), self.glasses(count, x, y), self.hair(count, x, y)]
        kind = keras.random.randint((count,), 0, len(KINDS), seed=self.generator)
        pick = ops.one_hot(kind, len(KINDS))
        mask = sum(pick[:, index, None, None, None] * masks[index] for index in range(len(KINDS)))
        # Hands are mid to light grey, frames and hair dark: each kind's grey level is drawn from its own range.
        low = ops.sum(pick * ops.convert_to_tensor([0.3, 0.0, 0.0]), axis=1)
        high = ops.sum(pick * ops.convert_to_tensor([0.85, 0.35, 0.4]), axis=1)
        level = ops.reshape(low, (-1, 1, 1, 1)) + ops.reshape(high - low, (-1, 1, 1, 1)) * self.uniform(count)
        texture = 0.02 * ops.sin(2 * math.pi * (self.uniform(count, 1, 3) * x + self.uniform(count, 1, 3) * y
                                                + self.uniform(count)))
        occluder = ops.clip(level + texture, 0, 1)
        occluded = faces + mask * (occluder - faces)
        chosen = ops.reshape(keras.random.uniform((count,), seed=self.generator) < self.rate, (-1, 1, 1, 1))
        return ops.where(chosen, occluded, faces)

    def hand(self, count, x, y):
        """A palm from the bottom (a chin on a hand) or a side (a cheek on a hand), with four fingers beyond it."""
        from_side = self.uniform(count) < 0.4
        side = ops.where(self.uniform(count) < 0.5, 0.0, 1.0)
        # In the palm's own frame: u along the fingers (up from the bottom, or inwards from a side), v across them.
        u = ops.where(from_side, ops.abs(x - side), 1 - y)
        v = ops.where(from_side, y, x)
        reach = self.uniform(count, 0.15, 0.45)  # how far the palm's top reaches into the face
        centre = self.uniform(count, 0.3, 0.7)
        half_width = self.uniform(count, 0.16, 0.26)
        palm = ellipse(u, v, reach / 2 - 0.05, centre, reach / 2 + 0.05, half_width)  # from past the edge to reach
        fingers = 0.0
        spacing = half_width * 0.5
        for finger in range(4):
            along = centre + (finger - 1.5) * spacing
            length = self.uniform(count, 0.08, 0.16)
            fingers = ops.maximum(fingers, ellipse(u, v, reach + length * 0.6, along, length, spacing * 0.45))
        return ops.maximum(palm, fingers)

    def glasses(self, count, x, y):
        """Two rims and a bridge at eye height; tinted lenses for a share of them."""
        eyes = self.uniform(count, 0.34, 0.44)
        apart = self.uniform(count, 0.17, 0.22)
        width, height = self.uniform(count, 0.11, 0.16), self.uniform(count, 0.07, 0.1)
        rim = self.uniform(count, 0.012, 0.03)
        lenses = ops.maximum(ellipse(x, y, 0.5 - apart, eyes, width, height),
                             ellipse(x, y, 0.5 + apart, eyes, width, height))
        inner = ops.maximum(ellipse(x, y, 0.5 - apart, eyes, width - rim, height - rim),
                            ellipse(x, y, 0.5 + apart, eyes, width - rim, height - rim))
        bridge = soft(rim - ops.abs(y - eyes + 0.2 * height)) * soft(apart - width + rim - ops.abs(x - 0.5))
        tint = ops.where(self.uniform(count) < 0.3, self.uniform(count, 0.6, 0.95), 0.0)
        return ops.maximum(ops.maximum(lenses - inner, bridge), inner * tint)

    def hair(self, count, x, y):
        """Everything above a slanting, waving edge that comes down to the brow or over an eye."""
        edge = (self.uniform(count, 0.12, 0.42) + self.uniform(count, -0.35, 0.35) * (x - 0.5)
                + 0.03 * ops.sin(2 * math.pi * (self.uniform(count, 1, 3) * x + self.uniform(count))))
        return soft(edge - y)


def soft(distance, edge: float = 0.012):
    """1 well inside (distance > 0), 0 well outside, a smooth step a pixel or so wide between."""
    return ops.sigmoid(distance / edge)


def ellipse(x, y, centre_x, centre_y, radius_x, radius_y):
    """A soft-edged filled ellipse."""
    reach = ops.sqrt(((x - centre_x) / radius_x) ** 2 + ((y - centre_y) / radius_y) ** 2)
    return soft((1 - reach) * ops.minimum(radius_x, radius_y))
