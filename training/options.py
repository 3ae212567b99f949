"""Range checks for the trainer's numeric options (``training.portable.PortableConfig``).

A value out of range would otherwise surface deep inside Keras ("decay_steps must be > 0") or train quietly to
nonsense (a negative learning rate), so each config checks itself when built: before any data is read.
"""

from __future__ import annotations

from collections.abc import Callable

# option name, what its value must satisfy, and that condition in words for the message
LIMITS: tuple[tuple[str, Callable[[float], bool], str], ...] = (
    ("epochs", lambda value: value >= 1, "at least 1"),
    ("batch_size", lambda value: value >= 1, "at least 1"),
    ("width", lambda value: value >= 1, "at least 1"),
    ("learning_rate", lambda value: value > 0, "more than 0"),
    ("distill_temperature", lambda value: value > 0, "more than 0"),
    ("warmup_epochs", lambda value: value >= 0, "0 or more"),
    ("weight_decay", lambda value: value >= 0, "0 or more"),
    ("class_weight_power", lambda value: value >= 0, "0 or more"),
    ("time_budget", lambda value: value >= 0, "0 or more"),
    ("devices", lambda value: value >= 0, "0 (every visible device) or more"),
    ("mixup", lambda value: value >= 0, "0 or more"),
    ("cutmix", lambda value: value >= 0, "0 or more"),
    ("dropout", lambda value: 0 <= value < 1, "at least 0 and less than 1"),
    ("label_smoothing", lambda value: 0 <= value < 1, "at least 0 and less than 1"),
    ("distill_weight", lambda value: 0 <= value <= 1, "from 0 to 1"),
    ("ferplus_weight", lambda value: 0 <= value <= 1, "from 0 to 1"),
    ("camera", lambda value: 0 <= value <= 1, "from 0 to 1"),
    ("occlusion", lambda value: 0 <= value <= 1, "from 0 to 1"),
)


def check_ranges(config: object) -> None:
    """Raises ValueError naming the first of ``config``'s numeric options that is out of range."""
    for name, allowed, expected in LIMITS:
        if hasattr(config, name) and not allowed(getattr(config, name)):
            raise ValueError(f"{name} = {getattr(config, name)!r}: expected {expected}")
