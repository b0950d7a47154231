"""Learning-rate schedules of the reference loop (spec §5.6), t = iteration / iterations."""

from __future__ import annotations

import math

from align3r_ros.config import Schedule


def learning_rate(schedule: Schedule, t: float, lr: float, lr_min: float) -> float:
    """Learning rate at progress t in [0, 1).

    linear: lr + (lr_min − lr)·t; cosine: lr_min + (lr − lr_min)(1 + cos πt)/2.
    """
    if Schedule(schedule) == Schedule.COSINE:
        return lr_min + (lr - lr_min) * (1.0 + math.cos(math.pi * t)) / 2.0
    return lr + (lr_min - lr) * t
