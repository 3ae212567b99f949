"""Knowledge distillation: teachers as frozen float32 networks, and the labels mixed with their softened
probabilities, on any Keras backend.

The trainer (``training.portable``) runs the teachers inside the training step, on the very augmented batch the
student sees.
"""

from __future__ import annotations

import keras
from keras import ops


def load_teachers(paths: list[str], input_size: int, flip_average: bool = False) -> list[keras.Model]:
    """The teachers at ``paths`` in float32 (optionally flip-averaged); each must take ``input_size`` faces."""
    from training.model import inference_model

    teachers = []
    for path in paths:
        teacher = inference_model(keras.models.load_model(path, compile=False), flip_average=flip_average)
        if teacher.input_shape[1] != input_size:
            raise ValueError(f"{path}: teacher input {teacher.input_shape[1:3]} differs from the faces it would "
                             f"label ({input_size}×{input_size})")
        teacher.trainable = False
        teachers.append(teacher)
    return teachers


def averaged_probabilities(teachers: list[keras.Model], faces):
    """The teachers' mean probabilities for a batch, with no gradient flowing back into them."""
    return ops.stop_gradient(sum(teacher(faces, training=False) for teacher in teachers) / len(teachers))


def distillation_targets(labels, probabilities, weight: float, temperature: float):
    """(1 − weight) · labels + weight · the probabilities softened by the temperature (p^(1/T), renormalised)."""
    softened = ops.power(ops.cast(probabilities, "float32"), 1 / temperature)
    softened = softened / ops.sum(softened, axis=1, keepdims=True)
    return (1 - weight) * ops.cast(labels, "float32") + weight * softened
